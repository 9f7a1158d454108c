// A site that requires Cloudflare Turnstile: the Worker verifies each token
// through TURNSTILE_BASE, here a local stand-in on loopback.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { randomBytes } from "node:crypto";
import { BASE, ADMIN_TOKEN, freshPhone, SHOP, SHOP_ORIGINS, launch, shopPage, widgetTag, admin, simMessages, eventually, sleep } from "./support.mjs";

const PORT = Number(process.env.TURNSTILE_PORT ?? 8790);
const NOTICE =
  "I agree to receive the messages I select below from Toko Acme on WhatsApp. I can stop at any time by replying STOP.";
const seen = [];
const KEY = "0x4AAAstandin";
const STAND_IN = `window.turnstile = {
  render(el, o) {
    window.__turnstile = { sitekey: o.sitekey, language: o.language };
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = "Verify you are human";
    b.onclick = () => o.callback(o.sitekey === ${JSON.stringify(KEY)} ? "good-token" : "bad-token");
    el.appendChild(b);
    return "w1";
  },
  remove() {},
};`;
let server;

before(async () => {
  server = createServer((req, res) => {
    if (req.method === "GET" && req.url.startsWith("/turnstile/v0/api.js")) {
      // Turnstile's script as the widget meets it: render() puts a challenge in the
      // box, which the visitor solves by pressing its button.
      res.writeHead(200, { "content-type": "text/javascript" });
      return res.end(STAND_IN);
    }
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const form = new URLSearchParams(body);
      seen.push(Object.fromEntries(form));
      const success = form.get("secret") === "dev-turnstile-secret" && form.get("response") === "good-token";
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ success, "error-codes": success ? [] : ["invalid-input-response"] }));
    });
  });
  await new Promise((r) => server.listen(PORT, "127.0.0.1", r));
});
after(() => server?.close());

async function turnstileSite(extra = {}) {
  const id = `ts-${randomBytes(4).toString("hex")}`;
  const res = await fetch(`${BASE}/admin/sites/${id}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({
      id, business_name: "Toko Acme", allowed_origins: SHOP_ORIGINS, privacy_policy_url: `${BASE}/privacy.html`,
      default_locale: "en", default_calling_code: 62, categories: ["delivery"], notice_version: 1,
      whatsapp: { phone_number_id: "100000000000001", template_name: "optin_confirmation", template_languages: ["en"], token_secret: "WA_TOKEN_DEMO" },
      turnstile_secret: "TURNSTILE_SECRET",
      ...extra,
    }),
  });
  assert.equal(res.status, 200);
  return id;
}

/** Posts a consent for a fresh phone (`res.phone`) with `turnstile_token`. */
const post = async (site, turnstile_token, surface = "modal") => {
  const phone = freshPhone().e164;
  const res = await fetch(`${BASE}/v1/sites/${site}/consents`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: SHOP },
    body: JSON.stringify({
      phone, categories: ["delivery"], locale: "en", notice_version: 1, notice_text: NOTICE,
      surface, ...(turnstile_token === undefined ? {} : { turnstile_token }),
    }),
  });
  res.phone = phone;
  return res;
};

/** The HTTP status of the site's lookup of `phone`: 200 recorded, 404 not. */
const lookup = async (site, phone) =>
  (await fetch(`${BASE}/admin/sites/${site}/subscribers/${encodeURIComponent(phone)}`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  })).status;

test("a consent needs a Turnstile token the verifier accepts", async () => {
  const site = await turnstileSite();
  const missing = await post(site);
  assert.equal(missing.status, 403);
  assert.equal((await missing.json()).type, "/problems/turnstile-failed");
  assert.equal(await lookup(site, missing.phone), 404, "no token: nothing recorded");
  const asked = seen.length;
  const bad = await post(site, "bad-token");
  assert.equal(bad.status, 403);
  assert.equal(seen.length, asked + 1, "the verifier was asked about the bad token");
  assert.equal(await lookup(site, bad.phone), 404, "a refused token: nothing recorded");
  const good = await post(site, "good-token");
  assert.equal(good.status, 201);
  assert.equal(await lookup(site, good.phone), 200, "an accepted token: recorded");
  const last = seen.at(-1);
  assert.equal(last.secret, "dev-turnstile-secret", "the secret comes from the Worker's secrets");
  assert.equal(last.remoteip, "127.0.0.1");
  assert.equal((await post("demo", "ignored")).status, 201, "sites without Turnstile ignore the field");
});

test("an unreachable verifier is a 503 to retry, never a recorded consent", async () => {
  const site = await turnstileSite();
  await new Promise((r) => server.close(r));
  try {
    const res = await post(site, "good-token");
    assert.equal(res.status, 503);
    assert.equal((await res.json()).type, "/problems/turnstile-unavailable");
    assert.equal(await lookup(site, res.phone), 404, "nothing recorded while the verifier was away");
  } finally {
    await new Promise((r) => server.listen(PORT, "127.0.0.1", r));
  }
});

test("a site with a Turnstile key answers a consent without a token with challenge-required, carrying the key; PUT checks the settings", async () => {
  const site = await turnstileSite({ turnstile_site_key: KEY });
  const res = await post(site);
  assert.equal(res.status, 403);
  const problem = await res.json();
  assert.deepEqual([problem.type, problem.site_key], ["/problems/challenge-required", KEY]);
  assert.match(problem.script, /^http:\/\/127\.0\.0\.1:\d+\/turnstile\/v0\/api\.js\?render=explicit$/);
  assert.equal(await lookup(site, res.phone), 404, "nothing recorded before the challenge");
  for (const [extra, field] of [
    [{ turnstile_secret: undefined, turnstile_site_key: KEY }, "turnstile_site_key"],
    [{ turnstile_site_key: undefined, turnstile_when: "breaker_open" }, "turnstile_site_key"],
    [{ turnstile_site_key: "<img onerror=alert(1)>" }, "turnstile_site_key"],
  ]) {
    const id = `ts-${randomBytes(4).toString("hex")}`;
    const put = await admin(id, { method: "PUT", body: JSON.stringify({ ...(await (await admin(site)).json()), id, ...extra }) });
    assert.equal(put.status, 422, JSON.stringify(extra));
    assert.equal((await put.json()).field, field);
  }
});

let browser;
after(async () => { await browser?.close(); });

const TEXT = {
  en: { title: "Get updates on WhatsApp", box: "Shipping and delivery notifications", phone: "WhatsApp number", submit: "Subscribe on WhatsApp",
    check: "Quick check", cancel: "Cancel", success: "Thank you! We sent a confirmation to your WhatsApp." },
  id: { title: "Dapatkan info lewat WhatsApp", box: "Notifikasi pengiriman dan status delivery", phone: "Nomor WhatsApp", submit: "Berlangganan di WhatsApp",
    check: "Pemeriksaan singkat", cancel: "Batal", success: "Terima kasih! Kami sudah mengirim konfirmasi ke WhatsApp kamu." },
};

/** The shop's page for `site` in `lang`, with the README's tag. */
async function openShop(site, lang) {
  browser ??= await launch();
  const url = await shopPage(`/turnstile/${site}-${lang}.html`,
    `<!doctype html><html lang="${lang}"><head><meta charset="utf-8"><title>Toko</title>${widgetTag(site)}</head>` +
      "<body><main><h1>Toko</h1></main></body></html>");
  const page = await browser.newPage();
  const posts = [];
  page.on("response", async (r) => {
    if (r.request().method() === "POST" && r.url().endsWith(`/v1/sites/${site}/consents`))
      posts.push({ status: r.status(), type: (await r.json().catch(() => null))?.type, token: JSON.parse(r.request().postData()).turnstile_token });
  });
  await page.goto(url);
  const t = TEXT[lang];
  const dialog = page.getByRole("dialog", { name: t.title });
  await dialog.waitFor({ state: "visible", timeout: 15_000 });
  return { page, dialog, posts, t };
}

/** Ticks, types a fresh number and submits; answers the number. */
async function submit({ dialog, t }) {
  await dialog.getByRole("checkbox", { name: t.box }).check();
  const phone = freshPhone().e164;
  await dialog.getByLabel(t.phone).fill(phone);
  await dialog.getByRole("button", { name: t.submit }).click();
  return phone;
}

test("in the browser: a shop whose site always asks shows the challenge in the shopper's language, by keyboard, and records the consent once it passes", { timeout: 60_000 }, async () => {
  const site = await turnstileSite({ turnstile_site_key: KEY, categories: ["delivery"] });
  const shop = await openShop(site, "en");
  const phone = await submit(shop);
  const check = shop.page.getByRole("dialog", { name: shop.t.check });
  await check.waitFor({ state: "visible", timeout: 15_000 });
  assert.equal(await shop.page.evaluate(() => window.__turnstile.sitekey), KEY, "rendered with the site's key");
  // Keyboard only: the challenge's own control, then Enter.
  await check.getByRole("button", { name: "Verify you are human" }).focus();
  await shop.page.keyboard.press("Enter");
  await shop.dialog.getByText(shop.t.success).waitFor({ timeout: 15_000 });
  assert.equal(await check.count(), 0, "the check is gone once passed");
  assert.deepEqual(shop.posts.map((p) => [p.status, p.type ?? null, p.token ?? null]),
    [[403, "/problems/challenge-required", null], [201, null, "good-token"]]);
  assert.equal(await lookup(site, phone), 200, "recorded");
  assert.equal((await (await admin(`${site}/stats`)).json()).events[0].n, 1, "once");
  await shop.page.close();
});

test("turnstile_when breaker_open: a burst is challenged instead of held — no token, nothing recorded; a passed check, recorded and sent; a checkout opt-in held until released", { timeout: 90_000 }, async () => {
  const site = await turnstileSite({ turnstile_site_key: KEY, turnstile_when: "breaker_open", breaker: { threshold_per_10_min: 3 }, categories: ["delivery"] });
  for (let i = 0; i < 3; i++) assert.equal((await post(site)).status, 201, "no check while the breaker is closed");
  const fourth = await post(site);
  assert.equal(fourth.status, 403);
  assert.equal((await fourth.json()).type, "/problems/challenge-required");
  assert.equal(await lookup(site, fourth.phone), 404, "refused: nothing recorded");
  const view = await (await admin(`${site}/breaker`)).json();
  assert.deepEqual([view.open, view.held], [true, 0], "the fourth opened the breaker");
  const bad = await post(site, "bad-token");
  assert.equal((await bad.json()).type, "/problems/turnstile-failed");
  const passed = await post(site, "good-token");
  assert.equal(passed.status, 201);
  const checkout = await post(site, undefined, "checkout");
  assert.equal(checkout.status, 201, "a checkout opt-in is recorded: its page has moved on");
  assert.equal((await (await admin(`${site}/breaker`)).json()).held, 1);

  // In the browser, in Indonesian: cancelling the check records nothing; passing it records and sends.
  const shop = await openShop(site, "id");
  const cancelled = await submit(shop);
  const check = shop.page.getByRole("dialog", { name: shop.t.check });
  await check.waitFor({ state: "visible", timeout: 15_000 });
  assert.equal(await shop.page.evaluate(() => window.__turnstile.language), "id");
  await check.getByRole("button", { name: shop.t.cancel }).click();
  await eventually(async () => (await check.count()) === 0, 5000);
  assert.equal(await lookup(site, cancelled), 404, "cancelled: nothing recorded");
  await shop.page.close();
  const again = await openShop(site, "id");
  const shopper = await submit(again);
  const check2 = again.page.getByRole("dialog", { name: again.t.check });
  await check2.getByRole("button", { name: "Verify you are human" }).click();
  await again.dialog.getByText(again.t.success).waitFor({ timeout: 15_000 });
  assert.equal(await lookup(site, shopper), 200);
  await again.page.close();

  assert.ok(await eventually(async () => (await simMessages(passed.phone)).length === 1 && (await simMessages(shopper)).length === 1, 20_000),
    "a passed check is confirmed at once, not held");
  await sleep(Number(process.env.OUTBOX_PAIR_GAP_MS ?? 1500) + 1000);
  assert.equal((await simMessages(checkout.phone)).length, 0, "the held checkout confirmation waits");
  const released = await admin(`${site}/breaker/release`, { method: "POST" });
  assert.equal(released.status, 200);
  assert.ok(await eventually(async () => (await simMessages(checkout.phone)).length === 1, 20_000), "released: sent once");
  // The window still holds more than the threshold: the burst goes on, so the next one opens it again.
  const after = await post(site);
  assert.equal((await after.json()).type, "/problems/challenge-required");
  assert.equal((await (await admin(`${site}/breaker`)).json()).open, true);
  for (const refused of [fourth.phone, cancelled]) assert.equal((await simMessages(refused)).length, 0, "no template to a refused consent");
});
