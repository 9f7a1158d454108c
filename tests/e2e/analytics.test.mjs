// Funnel analytics as a merchant meets them: the widget's beacons in a real
// browser become counts, DNT/GPC is honoured when the site asks, bad beacons
// count nothing, and the stats series agree with the ledger and the simulator.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, randomInt } from "node:crypto";
import { BASE, SIM, launch, admin, freshPhone, eventually, sleep, SHOP, SHOP_ORIGINS, shopPage, widgetTag } from "./support.mjs";

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const NOTICE =
  "I agree to receive the messages I select below from Toko Acme on WhatsApp. I can stop at any time by replying STOP.";
const today = () => new Date().toISOString().slice(0, 10);

/** A fresh site (own ledger, own business number so webhooks route to it). */
async function newSite(extra = {}) {
  const id = `a-${randomBytes(4).toString("hex")}`;
  const config = {
    id, business_name: "Toko Acme", allowed_origins: SHOP_ORIGINS, privacy_policy_url: `${BASE}/privacy.html`,
    default_locale: "en", default_calling_code: 62, categories: ["order_updates", "delivery"], notice_version: 1,
    whatsapp: {
      phone_number_id: String(randomInt(100_000_000_000, 999_999_999_999)), template_name: "optin_confirmation",
      template_languages: ["en"], token_secret: "WA_TOKEN_DEMO",
    },
    ...extra,
  };
  const res = await admin(id, { method: "PUT", body: JSON.stringify(config) });
  assert.equal(res.status, 200, await res.clone().text());
  return id;
}

const stats = async (site, query = "") => {
  const res = await admin(`${site}/stats${query}`);
  assert.equal(res.status, 200, await res.clone().text());
  return res.json();
};

const beacon = (site, body, headers = {}) =>
  fetch(`${BASE}/v1/sites/${site}/events`, {
    method: "POST",
    headers: { "content-type": "text/plain;charset=UTF-8", origin: SHOP, ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

/** A merchant page on the shop's origin that loads the widget for `site`. */
async function sitePage(context, site, lang = "en") {
  const page = await context.newPage();
  const url = await shopPage(`/analytics/${site}-${lang}.html`,
    `<!doctype html><html lang="${lang}"><head><title>Shop</title>
        ${widgetTag(site)}</head>
        <body><h1>Shop</h1><a href="${BASE}/privacy.html">next page</a></body></html>`);
  await page.goto(url);
  return page;
}

test("impression, open and dismiss in Chromium are counted once the page is left", async () => {
  const site = await newSite();
  const context = await browser.newContext({ locale: "en-US" });
  const page = await sitePage(context, site, "de");
  const dialog = page.getByRole("dialog");
  await dialog.waitFor({ state: "visible", timeout: 15_000 });
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "hidden" });
  await sleep(500);
  assert.deepEqual((await stats(site)).funnel, [], "nothing is sent while the visitor stays on the page");
  await page.getByRole("link", { name: "next page" }).click();
  await page.waitForURL(/\/privacy/);

  const s = await eventually(async () => {
    const s = await stats(site);
    return s.funnel.length && s.funnel[0].dismiss === 1 && s;
  });
  assert.ok(s, "the beacon sent on page hide was counted");
  assert.deepEqual(s.funnel, [
    { day: today(), surface: "modal", variant: "default", locale: "de", impression: 1, open: 1, dismiss: 1, submit: 0 },
  ]);
  assert.deepEqual(s.variants, [
    { surface: "modal", variant: "default", impressions: 1, consents: 0, rate: 0, ci_low: 0, ci_high: s.variants[0].ci_high },
  ]);
  assert.ok(Math.abs(s.variants[0].ci_high - 0.7935) < 1e-3, `Wilson upper bound for 0/1: ${s.variants[0].ci_high}`);
  for (const key of ["events", "subscriptions", "confirmations", "sending"]) assert.ok(key in s, `${key} is still there`);
  await context.close();
});

test("a modal kept closed is no impression: after a close, reloads count none until open() shows it", async () => {
  const site = await newSite();
  const context = await browser.newContext();
  await context.addInitScript(() => {
    window.__impressions = 0;
    document.addEventListener("whatsapp-optin:impression", () => window.__impressions++);
  });
  const page = await sitePage(context, site);
  const dialog = page.getByRole("dialog");
  await dialog.waitFor({ state: "visible", timeout: 15_000 });
  assert.equal(await page.evaluate(() => window.__impressions), 1);
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "hidden" });
  const capped = async () => {
    await page.reload(); // the default cap: not again for 30 days after a close
    await page.locator("whatsapp-optin").waitFor({ state: "attached", timeout: 15_000 });
    await sleep(500);
    assert.equal(await dialog.isVisible(), false, "the cap keeps it closed");
    assert.equal(await page.evaluate(() => window.__impressions), 0, "a mounted but unseen modal is no impression");
  };
  await capped();
  await capped();
  for (let i = 0; i < 2; i++) {
    await page.evaluate(() => window.WhatsAppOptIn.open());
    await dialog.waitFor({ state: "visible" });
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });
  }
  assert.equal(await page.evaluate(() => window.__impressions), 1, "shown twice by open(): one impression for the page");
  await page.goto(`${BASE}/privacy.html`);
  const s = await eventually(async () => {
    const s = await stats(site);
    return s.funnel.length && s.funnel[0].open === 3 && s;
  });
  assert.ok(s, "the pages' beacons were counted");
  await sleep(500);
  assert.deepEqual(
    (await stats(site)).funnel.map((f) => [f.impression, f.open, f.dismiss]),
    [[2, 3, 3]],
    "two of the three page loads showed the modal",
  );
  await context.close();
});

test("a consent in the browser: submit counted, no dismissal after it, conversion per variant", async () => {
  const site = await newSite();
  const context = await browser.newContext();
  const page = await sitePage(context, site);
  const dialog = page.getByRole("dialog");
  await dialog.waitFor({ state: "visible", timeout: 15_000 });
  await dialog.getByRole("checkbox").first().check();
  await dialog.getByLabel("WhatsApp number").fill(freshPhone().national);
  await dialog.getByRole("button", { name: "Subscribe on WhatsApp" }).click();
  await dialog.getByRole("status").filter({ hasText: "Thank you!" }).waitFor({ timeout: 15_000 });
  await page.keyboard.press("Escape");
  await page.goto(`${BASE}/privacy.html`);
  const s = await eventually(async () => {
    const s = await stats(site);
    return s.funnel.length && s.consents_by_day.length && s;
  });
  assert.deepEqual(
    s.funnel.map((f) => [f.impression, f.open, f.dismiss, f.submit]),
    [[1, 1, 0, 1]],
    "closing the thank-you is not a dismissal",
  );
  assert.deepEqual(s.consents_by_day, [{ day: today(), surface: "modal", variant: "default", n: 1 }]);
  const [v] = s.variants;
  assert.deepEqual([v.surface, v.variant, v.impressions, v.consents, v.rate], ["modal", "default", 1, 1, 1]);
  assert.ok(Math.abs(v.ci_low - 0.2065) < 1e-3 && v.ci_high <= 1, JSON.stringify(v));
  await context.close();
});

test("Do Not Track and Global Privacy Control: nothing is counted when the site respects them", async () => {
  // The browser's own signals, as a visitor who switched them on has them.
  const visit = async (site, which) => {
    const context = await browser.newContext();
    await context.addInitScript((which) => {
      if (which === "gpc") Object.defineProperty(Navigator.prototype, "globalPrivacyControl", { get: () => true });
      if (which === "dnt") Object.defineProperty(Navigator.prototype, "doNotTrack", { get: () => "1" });
    }, which);
    const page = await sitePage(context, site);
    await page.getByRole("dialog").waitFor({ state: "visible", timeout: 15_000 });
    await page.keyboard.press("Escape");
    await sleep(300); // the loader's config check has answered
    await page.goto(`${BASE}/privacy.html`);
    await sleep(300);
    await context.close();
  };
  const impressions = async (site) => (await stats(site)).funnel.reduce((n, f) => n + f.impression, 0);

  const respecting = await newSite({ respect_dnt: true });
  assert.equal((await (await fetch(`${BASE}/v1/sites/${respecting}/config`)).json()).respect_dnt, true);
  await visit(respecting, "gpc");
  await visit(respecting, "dnt");
  await visit(respecting, "none");
  assert.ok(await eventually(async () => (await impressions(respecting)) >= 1), "the visit without a signal is counted");
  await sleep(1000);
  assert.equal(await impressions(respecting), 1, "the GPC and DNT visits were not");

  const ignoring = await newSite();
  assert.equal((await (await fetch(`${BASE}/v1/sites/${ignoring}/config`)).json()).respect_dnt, undefined);
  await visit(ignoring, "gpc");
  await visit(ignoring, "dnt");
  assert.ok(await eventually(async () => (await impressions(ignoring)) === 2), "a site that does not opt in counts both");
});

test("bad beacons get a precise problem and count nothing; foreign origins are refused", async () => {
  const site = await newSite();
  const ok = { type: "open", surface: "modal" };
  const cases = [
    [{ events: [ok, { type: "close", surface: "modal" }] }, 422, "events[1].type"],
    [{ events: [{ type: "open", surface: "footer" }] }, 422, "events[0].surface"],
    [{ events: [{ ...ok, variant: "Bad Variant!" }] }, 422, "events[0].variant"],
    [{ events: [{ ...ok, variant: "x".repeat(33) }] }, 422, "events[0].variant"],
    [{ events: [{ ...ok, locale: "fr" }] }, 422, "events[0].locale"],
    [{ events: [] }, 422, "events"],
    [{ events: Array(51).fill(ok) }, 422, "events"],
    [{ events: [{ ...ok, phone: "+6281234567890" }] }, 422, "phone"],
    [{ events: [ok], url: "https://shop.example/" }, 422, "url"],
    ["{\"events\": [", 400, undefined],
    [{ events: [{ ...ok, variant: "v".repeat(9000) }] }, 413, undefined],
  ];
  for (const [body, status, field] of cases) {
    const res = await beacon(site, body);
    assert.equal(res.status, status, JSON.stringify(body).slice(0, 120));
    assert.match(res.headers.get("content-type"), /^application\/problem\+json/);
    assert.equal(res.headers.get("access-control-allow-origin"), SHOP);
    const problem = await res.json();
    assert.equal(problem.status, status);
    assert.equal(problem.field, field, JSON.stringify(problem));
  }
  const xml = await beacon(site, { events: [ok] }, { "content-type": "application/xml" });
  assert.equal(xml.status, 415);

  const foreign = await beacon(site, { events: [ok] }, { origin: "https://evil.example" });
  assert.equal(foreign.status, 403);
  assert.equal((await foreign.json()).type, "/problems/origin-not-allowed");
  assert.equal(foreign.headers.get("access-control-allow-origin"), null);
  const noOrigin = await fetch(`${BASE}/v1/sites/${site}/events`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ events: [ok] }),
  });
  assert.equal(noOrigin.status, 403);
  const preflight = (origin) => fetch(`${BASE}/v1/sites/${site}/events`, {
    method: "OPTIONS", headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
  });
  const allowed = await preflight(SHOP);
  assert.equal(allowed.status, 204);
  assert.equal(allowed.headers.get("access-control-allow-origin"), SHOP);
  assert.match(allowed.headers.get("access-control-allow-headers"), /content-type/i);
  assert.equal((await preflight("https://evil.example")).status, 403);
  assert.equal((await beacon("no-such-site", { events: [ok] })).status, 404);
  assert.deepEqual((await stats(site)).funnel, [], "no refused beacon counted anything");

  const good = await beacon(site, { events: [ok, ok, { type: "submit", surface: "checkout", variant: "b", locale: "id" }] }, { "content-type": "application/json" });
  assert.equal(good.status, 204);
  assert.deepEqual((await stats(site)).funnel, [
    { day: today(), surface: "checkout", variant: "b", locale: "id", impression: 0, open: 0, dismiss: 0, submit: 1 },
    { day: today(), surface: "modal", variant: "default", locale: "en", impression: 0, open: 2, dismiss: 0, submit: 0 },
  ]);
});

test("beacons are rate-limited per IP with 429 and Retry-After, and the refused one is not counted", async () => {
  const site = await newSite({ limits: { per_ip_per_minute: 1, per_phone_per_hour: 5, daily_confirmations: 100, resend_cooldown_hours: 24 } });
  const statuses = [];
  let refused;
  for (let i = 0; i < 5; i++) {
    const res = await beacon(site, { events: [{ type: "impression", surface: "chat" }] });
    statuses.push(res.status);
    if (res.status === 429) refused = res;
  }
  assert.deepEqual(statuses, [204, 204, 204, 204, 429], "4 beacons per minute for a site allowing 1 consent");
  assert.ok(Number(refused.headers.get("retry-after")) > 0);
  assert.equal((await refused.json()).type, "/problems/rate-limited");
  assert.equal((await stats(site)).funnel[0].impression, 4);
});

test("stats: from/to select days and are validated", async () => {
  const site = await newSite();
  assert.equal((await beacon(site, { events: [{ type: "impression", surface: "modal" }] })).status, 204);
  const d = today();
  const s = await stats(site, `?from=${d}&to=${d}`);
  assert.equal(s.from, d);
  assert.equal(s.to, d);
  assert.equal(s.funnel[0].impression, 1);
  const past = await stats(site, "?from=2025-01-01&to=2025-01-31");
  assert.deepEqual([past.from, past.to, past.funnel, past.variants], ["2025-01-01", "2025-01-31", [], []]);
  const dflt = await stats(site);
  const days = (Date.parse(dflt.to) - Date.parse(dflt.from)) / 86_400_000 + 1;
  assert.deepEqual([dflt.to, days], [d, 30], "by default the last 30 days");
  for (const [q, field] of [
    ["?from=2025-02-30", "from"],
    ["?to=tomorrow", "to"],
    ["?from=2025-03-02&to=2025-03-01", "from"],
    ["?from=2024-01-01&to=2025-01-01", "to"],
  ]) {
    const res = await admin(`${site}/stats${q}`);
    assert.equal(res.status, 400, q);
    assert.match(res.headers.get("content-type"), /^application\/problem\+json/);
    assert.equal((await res.json()).field, field, q);
  }
  assert.equal((await fetch(`${BASE}/admin/sites/${site}/stats`)).status, 401);
});

const consent = async (site, phone) => {
  const res = await fetch(`${BASE}/v1/sites/${site}/consents`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: SHOP },
    body: JSON.stringify({ phone, categories: ["delivery"], locale: "en", notice_version: 1, notice_text: NOTICE, surface: "checkout" }),
  });
  assert.equal(res.status, 201, await res.clone().text());
  return res.json();
};
const sim = (path, body) =>
  fetch(`${SIM}/_sim/${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
const confirmationSettled = (site, phone, status) =>
  eventually(async () => {
    const r = await admin(`${site}/subscribers/${encodeURIComponent(phone)}`);
    const body = await r.json();
    return body.confirmations?.find((c) => c.status === status);
  });

test("consents, opt-outs by source and delivery health match the ledger and the simulator", async () => {
  const site = await newSite();
  const phones = Array.from({ length: 5 }, () => freshPhone().e164);
  const consents = [];
  for (const p of phones.slice(0, 4)) {
    consents.push(await consent(site, p));
    assert.ok(await confirmationSettled(site, p, "read"), "confirmation read");
  }
  // The fifth confirmation fails on the phone.
  assert.equal((await sim("statuses", { statuses: ["sent", "failed"], count: 1, error_code: 131026 })).status, 200);
  await consent(site, phones[4]);
  assert.ok(await confirmationSettled(site, phones[4], "failed"), "confirmation failed");
  await fetch(`${SIM}/_sim/statuses`, { method: "DELETE" });

  // Four ways out: STOP, the template's button, the preference centre, and an erasure.
  assert.equal((await sim("inbound", { from: phones[0], text: "STOP" })).status, 200);
  assert.equal((await sim("inbound", { from: phones[1], button_payload: `OPTOUT:${consents[1].id}` })).status, 200);
  const prefs = await fetch(`${BASE}/v1/preferences/${consents[2].preferences_token}/opt-out`, { method: "POST", headers: { origin: BASE } });
  assert.equal(prefs.status, 200);
  assert.equal((await admin(`${site}/subscribers/${encodeURIComponent(phones[3])}`, { method: "DELETE" })).status, 200);

  const s = await eventually(async () => {
    const s = await stats(site);
    return s.optouts_by_source.length === 4 && s;
  });
  assert.ok(s, "four opt-outs counted");
  const bySource = Object.fromEntries(s.optouts_by_source.map((o) => [o.source, o.n]));
  assert.deepEqual(bySource, { keyword: 1, button: 1, preference_centre: 1, support: 1 });
  assert.deepEqual(s.optouts_by_day, [{ day: today(), n: 4 }]);
  // The erased consent keeps no evidence, so its surface is no longer known.
  assert.deepEqual(s.consents_by_day, [
    { day: today(), surface: "checkout", variant: "default", n: 4 },
    { day: today(), surface: "unknown", variant: "default", n: 1 },
  ]);
  assert.deepEqual(s.delivery, { sent: 5, delivered: 4, read: 4, failed: 1, errors: [{ code: 131026, n: 1 }] });
  const withdraws = s.events.find((e) => e.kind === "withdraw").n;
  assert.equal(withdraws, 3, "the series agree with the ledger's event counts");
});

test("a sharded site's series sum over every shard", async () => {
  const site = await newSite({ shards: 4 });
  for (let i = 0; i < 6; i++) await consent(site, freshPhone().e164);
  for (let i = 0; i < 3; i++) {
    // Beacons land in the shard of their client IP; consents in their phone's.
    const res = await beacon(site, { events: [{ type: "impression", surface: "checkout" }] }, { "cf-connecting-ip": `192.0.2.${i + 1}` });
    assert.equal(res.status, 204);
  }
  const s = await stats(site);
  assert.deepEqual(s.consents_by_day, [{ day: today(), surface: "checkout", variant: "default", n: 6 }]);
  assert.equal(s.funnel.reduce((n, f) => n + f.impression, 0), 3);
  assert.deepEqual(s.variants.map((v) => [v.surface, v.impressions, v.consents, v.rate]), [["checkout", 3, 6, 1]],
    "consents from visitors whose impressions were not counted cap the rate at 1");
});
