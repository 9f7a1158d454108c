// The preference centre page /p/{token} in Chromium with JavaScript off and the
// keyboard alone: each change is a ledger event, opting out of everything blocks
// sends, it speaks the person's language, refuses bad links and cross-site
// posts, and axe-core finds nothing.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { createHmac } from "node:crypto";
import { BASE, launch, freshPhone, subscriber, simMessages, eventually, sleep, axeViolations, newSite, SHOP } from "./support.mjs";

const PREFS_KEY = "dev-prefs-token-key"; // the local-only key scripts/dev writes to .dev.vars
const SHOTS = new URL("../../docs/screenshots/", import.meta.url);
const NOTICES = {
  en: "I agree to receive the messages I select below from Toko Acme on WhatsApp. I can stop at any time by replying STOP.",
  id: "Saya setuju menerima pesan yang saya pilih di bawah dari Toko Acme melalui WhatsApp. Saya dapat berhenti kapan saja dengan membalas BERHENTI.",
};

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

async function optIn(phone, { locale = "en", categories = ["delivery", "payment_alerts"] } = {}) {
  const res = await fetch(`${BASE}/v1/sites/demo/consents`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: SHOP },
    body: JSON.stringify({ phone, categories, locale, notice_version: 1, notice_text: NOTICES[locale], surface: "modal" }),
  });
  assert.equal(res.status, 201);
  return res.json();
}

/** A page with JavaScript disabled: the preference centre must not need it. */
async function open(token, options = {}) {
  const context = await browser.newContext({ javaScriptEnabled: false, ...options });
  const page = await context.newPage();
  const res = await page.goto(`${BASE}/p/${token}`);
  return { page, context, res };
}

/** Presses Tab until the focused element has accessible name `name` (at most 30 presses). */
async function tabTo(page, name) {
  for (let i = 0; i < 30; i++) {
    await page.keyboard.press("Tab");
    const current = await page.evaluate(() => {
      const a = document.activeElement;
      return a?.labels?.[0]?.textContent?.trim() || a?.textContent?.trim() || "";
    });
    if (current === name) return;
  }
  throw new Error(`could not reach "${name}" with Tab`);
}

/** Runs `act` (a click or key press that submits a form) and waits for the answer page to load. */
async function submitted(page, act) {
  await Promise.all([page.waitForNavigation(), act()]);
}

const day = (offset) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);

test("with the keyboard alone and no JavaScript, each change lands in the ledger as one event", async () => {
  const phone = freshPhone().e164;
  const { preferences_token: token } = await optIn(phone);
  const { page, context, res } = await open(token);
  assert.equal(res.status(), 200);
  assert.equal(await page.getByRole("heading", { level: 1 }).textContent(), "Your WhatsApp messages from Toko Acme");
  assert.equal(await page.getByRole("switch", { name: "Shipping and delivery notifications" }).isChecked(), true);
  assert.equal(await page.getByRole("switch", { name: "Order confirmations" }).isChecked(), false);
  assert.equal(await page.getByRole("radio", { name: "As they happen" }).isChecked(), true);

  // Turn delivery off and order confirmations on, choose a weekly digest, pause for 10 days.
  await tabTo(page, "Order confirmations");
  await page.keyboard.press("Space");
  await tabTo(page, "Shipping and delivery notifications");
  await page.keyboard.press("Space");
  await tabTo(page, "As they happen");
  await page.keyboard.press("ArrowDown");
  await tabTo(page, "Pause all messages until");
  const pause = day(10);
  await page.getByLabel("Pause all messages until").fill(pause); // the date picker's own keys differ by locale
  await page.getByLabel("Pause all messages until").focus();
  await tabTo(page, "Save my choices");
  await submitted(page, () => page.keyboard.press("Enter"));
  await page.getByText("Your choices are saved.").waitFor();
  assert.match(page.url(), /\?done=saved$/, "post/redirect/get");
  assert.equal(await page.getByRole("radio", { name: "Weekly digest" }).isChecked(), true);
  assert.equal(await page.getByText(`Messages are paused until ${pause}.`).count(), 1);

  let events = (await subscriber(phone)).body.events;
  assert.deepEqual(events.map((e) => e.kind), ["grant", "update"]);
  assert.deepEqual(events[1].categories, ["order_updates", "payment_alerts"]);
  assert.deepEqual(events[1].evidence.withdrawn, ["delivery"]);
  assert.equal(events[1].evidence.method, "preference_centre");
  assert.equal(events[1].evidence.frequency, "weekly_digest");
  assert.equal(events[1].evidence.paused_until, pause);

  // Saving again unchanged records nothing; lifting the pause is its own event.
  await submitted(page, () => page.getByRole("button", { name: "Save my choices" }).click());
  await page.getByText("Your choices are saved.").waitFor();
  assert.equal((await subscriber(phone)).body.events.length, 2, "no event for a save that changes nothing");
  await page.getByLabel("Pause all messages until").fill("");
  await submitted(page, () => page.getByRole("button", { name: "Save my choices" }).click());
  await page.getByText("Your choices are saved.").waitFor();
  events = (await subscriber(phone)).body.events;
  assert.equal(events.length, 3);
  assert.equal(events[2].evidence.paused_until, null);
  assert.equal(events[2].evidence.frequency, "weekly_digest");

  const json = await (await fetch(`${BASE}/v1/preferences/${token}`)).json();
  assert.equal(json.frequency, "weekly_digest", "the JSON API sees the same state");
  assert.equal(json.paused_until, null);
  const put = (body) => fetch(`${BASE}/v1/preferences/${token}`, {
    method: "PUT", headers: { "content-type": "application/json", origin: BASE }, body: JSON.stringify(body),
  });
  const badDate = await put({ categories: ["payment_alerts"], paused_until: "2020-01-01" });
  assert.equal(badDate.status, 422);
  assert.equal((await badDate.json()).field, "paused_until");
  const viaApi = await (await put({ categories: ["order_updates", "payment_alerts"], frequency: "critical_only" })).json();
  assert.equal(viaApi.frequency, "critical_only");
  assert.equal((await subscriber(phone)).body.events.at(-1).evidence.frequency, "critical_only");

  const verify = await (await fetch(`${BASE}/admin/sites/demo/verify`, { headers: { authorization: "Bearer dev-admin-token" } })).json();
  assert.equal(verify.ok, true, "the chain still verifies");
  await context.close();
});

test("opting out of everything is one button, withdraws every category and blocks sends", async () => {
  const phone = freshPhone().e164;
  const { preferences_token: token } = await optIn(phone, { categories: ["delivery", "order_updates", "account_updates"] });
  await eventually(async () => (await simMessages(phone)).length === 1);
  const { page, context } = await open(token);
  await tabTo(page, "Opt out of everything");
  await submitted(page, () => page.keyboard.press("Enter"));
  await page.getByText("You are unsubscribed: Toko Acme will send you no more WhatsApp messages.").waitFor();
  assert.equal(await page.getByRole("switch", { checked: true }).count(), 0);

  const { body } = await subscriber(phone);
  assert.deepEqual(body.events.map((e) => e.kind), ["grant", "withdraw"]);
  assert.equal(body.events[1].evidence.method, "preference_centre_opt_out");
  assert.ok(body.state.every((s) => s.status === "withdrawn"));

  // A new opt-in typed in by someone else right after gets no template.
  await optIn(phone);
  await sleep(2000);
  assert.equal((await simMessages(phone)).length, 1, "no WhatsApp message after opting out");
  assert.equal((await subscriber(phone)).body.confirmations.at(-1).status, "suppressed");
  await context.close();
});

test("the page speaks the person's language, fits a phone, and axe finds nothing (light and dark)", async () => {
  const { preferences_token: token } = await optIn(freshPhone().e164, { locale: "id" });
  const { page, context } = await open(token, { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
  assert.equal(await page.getAttribute("html", "lang"), "id");
  assert.equal(await page.getByRole("heading", { level: 1 }).textContent(), "Pesan WhatsApp kamu dari Toko Acme");
  assert.equal(await page.getByRole("switch", { name: "Peringatan pembayaran" }).isChecked(), true);
  await page.getByRole("button", { name: "Berhenti dari semua pesan" }).waitFor();
  const { scroll, inner } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: innerWidth }));
  assert.ok(scroll <= inner, "no sideways scrolling on a phone");
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: new URL("preference-centre.png", SHOTS).pathname, fullPage: true });
  await context.close();

  // axe runs as a script: give it a page with JavaScript on (the page itself loads none).
  const ctx = await browser.newContext();
  const p = await ctx.newPage();
  await p.goto(`${BASE}/p/${token}`);
  assert.equal(await p.locator("script").count(), 0, "the page ships no script");
  assert.deepEqual(await axeViolations(p, "html"), [], "light");
  await p.emulateMedia({ colorScheme: "dark" });
  assert.deepEqual(await axeViolations(p, "html"), [], "dark");
  await ctx.close();
});

test("the page words the categories as the merchant's opt-in did (their overrides)", async () => {
  const wording = { delivery: "Parcel news", categories_legend: "What we send you", privacy: "How we use your data" };
  const site = await newSite("pc-words", { strings: { en: wording } });
  const config = await (await fetch(`${BASE}/v1/sites/${site}/config?locale=en`)).json();
  const res = await fetch(`${BASE}/v1/sites/${site}/consents`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: SHOP },
    body: JSON.stringify({
      phone: freshPhone().e164, categories: ["delivery"], locale: "en", notice_version: 1,
      notice_text: config.strings.notice, surface: "modal",
    }),
  });
  assert.equal(res.status, 201, await res.clone().text());
  const { page, context } = await open((await res.json()).preferences_token);
  assert.equal(await page.getByRole("switch", { name: "Parcel news" }).isChecked(), true);
  assert.equal(await page.getByRole("switch", { name: "Order confirmations" }).isChecked(), false, "not overridden: ours");
  assert.equal((await page.locator("legend").first().textContent()).trim(), "What we send you");
  await page.getByRole("link", { name: "How we use your data" }).waitFor();
  await context.close();
});

test("a pause date in the past is refused by the browser and, if posted anyway, by the Worker; nothing recorded", async () => {
  const phone = freshPhone().e164;
  const { preferences_token: token } = await optIn(phone);
  const { page, context } = await open(token);
  const input = page.getByLabel("Pause all messages until");
  await input.fill(day(-3));
  await page.getByRole("button", { name: "Save my choices" }).click();
  await sleep(500);
  assert.equal(await input.evaluate((el) => el.validity.rangeUnderflow), true, "the date's min keeps the form from posting");
  await context.close();

  // A browser without date constraints posts it: the Worker answers the form again with the error.
  const res = await fetch(`${BASE}/p/${token}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: BASE, "sec-fetch-site": "same-origin" },
    body: `action=save&category=delivery&frequency=as_sent&paused_until=${day(-3)}`,
  });
  assert.equal(res.status, 422);
  const html = await res.text();
  assert.match(html, /aria-invalid="true"/);
  assert.match(html, /aria-describedby="pause-hint pause-error"/);
  assert.match(html, /<p id="pause-error" class="error">Choose a date after today and within one year\.<\/p>/);
  const tampered = await fetch(`${BASE}/p/${token}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: BASE },
    body: "action=save&category=marketing&frequency=hourly",
  });
  assert.equal(tampered.status, 422);
  assert.match(await tampered.text(), /Something in the form was not valid/);
  assert.equal((await subscriber(phone)).body.events.length, 1);
});

test("forged, expired and cross-site uses of the page are refused", async () => {
  const phone = freshPhone().e164;
  const { preferences_token: token } = await optIn(phone);
  const [site, shard, id, exp, sig] = token.split(".");

  const forged = await fetch(`${BASE}/p/${site}.${shard}.${id}.${Number(exp) + 1}.${sig}`, { headers: { "accept-language": "de-DE,de;q=0.9" } });
  assert.equal(forged.status, 403);
  assert.match(forged.headers.get("content-type"), /^text\/html/);
  assert.match(await forged.text(), /Dieser Link ist ungültig/);
  const past = Date.now() - 1000;
  const pastSig = createHmac("sha256", PREFS_KEY).update(`${site}.${shard}.${id}.${past}`).digest("hex").slice(0, 32);
  const expired = await fetch(`${BASE}/p/${site}.${shard}.${id}.${past}.${pastSig}`);
  assert.equal(expired.status, 410);
  assert.match(await expired.text(), /This link has expired\. Open the most recent link you received on WhatsApp\./);

  const form = "action=opt_out";
  const crossSite = await fetch(`${BASE}/p/${token}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: "https://evil.example", "sec-fetch-site": "cross-site" },
    body: form,
  });
  assert.equal(crossSite.status, 403);
  assert.equal((await crossSite.json()).type, "/problems/origin-not-allowed");
  const fetchSite = await fetch(`${BASE}/p/${token}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "same-site" },
    body: form,
  });
  assert.equal(fetchSite.status, 403, "a sibling subdomain cannot post either");
  assert.equal((await subscriber(phone)).body.events.length, 1, "nothing recorded");

  const page = await fetch(`${BASE}/p/${token}`);
  assert.match(page.headers.get("content-security-policy"), /frame-ancestors 'none'/);
  assert.equal(page.headers.get("referrer-policy"), "same-origin");
  assert.equal(page.headers.get("cache-control"), "no-store");
});
