// The merchant's own categories, end to end: a shop defines "offers" (marketing)
// beside two built-ins; the widget on the shop's own origin shows it last,
// unticked, in the shopper's language; the preference centre labels it; the send
// API lets an order update and an offer through, then refuses the offer once the
// person stops promotions in WhatsApp itself, and lets it through again when they
// resume. Real Worker, real Chromium, real simulator (signed webhooks).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, randomInt } from "node:crypto";
import { BASE, SIM, admin, launch, shopPage, widgetTag, eventually, SHOP_ORIGINS } from "./support.mjs";

const OFFERS = { id: "offers", kind: "marketing", labels: { en: "Offers and new arrivals", id: "Penawaran dan produk baru" } };

async function offersSite() {
  const id = `cat-${randomBytes(4).toString("hex")}`;
  const pnid = `7${randomInt(10 ** 13, 10 ** 14 - 1)}`;
  const config = {
    id, business_name: "Toko Acme", allowed_origins: SHOP_ORIGINS, privacy_policy_url: `${BASE}/privacy.html`,
    default_locale: "en", default_calling_code: 62, notice_version: 1,
    // Listed first on purpose: marketing is still shown after the utility ones.
    categories: [OFFERS, "order_updates", "delivery"],
    whatsapp: { phone_number_id: pnid, template_name: "optin_confirmation", template_languages: ["en", "id"], token_secret: "WA_TOKEN_DEMO" },
  };
  const res = await admin(id, { method: "PUT", body: JSON.stringify(config) });
  assert.equal(res.status, 200, await res.text());
  const stored = await (await admin(id)).json();
  assert.deepEqual(stored.categories, config.categories, "GET gives back what PUT took");
  const key = await (await admin(`${id}/keys`, { method: "POST", body: JSON.stringify({ scopes: ["send"] }) })).json();
  return { id, pnid, key: key.key };
}

const view = async (site, phone) => {
  const res = await admin(`${site}/subscribers/${encodeURIComponent(phone)}`);
  return res.status === 200 ? res.json() : null;
};

async function send(site, to, category, idem) {
  const res = await fetch(`${BASE}/v1/sites/${site.id}/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${site.key}`, "idempotency-key": idem },
    body: JSON.stringify({ to, category, template: { name: category === "offers" ? "weekly_offer" : "order_confirmed" } }),
  });
  return { status: res.status, body: await res.json() };
}

async function marketing(site, phone, preference) {
  const res = await fetch(`${SIM}/_sim/inbound`, { method: "POST", body: JSON.stringify({ from: phone, phone_number_id: site.pnid, preference }) });
  assert.equal(res.status, 200);
  assert.equal((await res.json()).delivery.http_status, 200, "the Worker took the signed webhook");
}

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test("a shop's own marketing category is shown last and unticked in the shopper's language, recorded, labelled in the preference centre, and governed by WhatsApp's stop promotions", { timeout: 90_000 }, async () => {
  const site = await offersSite();
  const url = await shopPage(`/categories/${site.id}.html`,
    `<!doctype html><html lang="id"><head><meta charset="utf-8"><title>Toko</title>${widgetTag(site.id)}</head><body><main><h1>Toko</h1></main></body></html>`);
  const page = await browser.newPage();
  await page.goto(url);
  const dialog = page.getByRole("dialog", { name: "Dapatkan info lewat WhatsApp" });
  await dialog.waitFor({ state: "visible", timeout: 15_000 });
  const boxes = dialog.getByRole("checkbox");
  const labels = await boxes.evaluateAll((els) => els.map((e) => [e.value, e.checked, e.closest("label").textContent.trim()]));
  assert.deepEqual(labels, [
    ["order_updates", false, "Konfirmasi pesanan"],
    ["delivery", false, "Notifikasi pengiriman dan status delivery"],
    ["offers", false, "Penawaran dan produk baru"],
  ], "utility first, the shop's marketing category last, nothing ticked");
  await dialog.getByRole("checkbox", { name: "Konfirmasi pesanan" }).check();
  await dialog.getByRole("checkbox", { name: "Penawaran dan produk baru" }).check();
  const phone = `+62 812 ${randomInt(1000, 9999)} ${randomInt(1000, 9999)}`;
  await dialog.getByLabel("Nomor WhatsApp").fill(phone);
  await dialog.getByRole("button", { name: "Berlangganan di WhatsApp" }).click();
  const e164 = phone.replaceAll(" ", "");
  const recorded = await eventually(async () => {
    const v = await view(site.id, e164);
    return v?.events?.[0]?.kind === "grant" && v;
  });
  assert.ok(recorded, "the consent reached the ledger");
  assert.deepEqual(recorded.events[0].categories, ["order_updates", "offers"]);
  await page.close();

  // The preference centre's JSON speaks the person's language for the shop's own category too.
  const token = new URL(recorded.preferences_url, BASE).pathname.split("/").pop();
  const prefs = await (await fetch(`${BASE}/v1/preferences/${token}`)).json();
  assert.deepEqual(prefs.categories.map((c) => [c.category, c.label, c.kind, c.granted]), [
    ["order_updates", "Konfirmasi pesanan", "utility", true],
    ["delivery", "Notifikasi pengiriman dan status delivery", "utility", false],
    ["offers", "Penawaran dan produk baru", "marketing", true],
  ]);

  const tag = randomBytes(3).toString("hex");
  assert.equal((await send(site, e164, "order_updates", `o1-${tag}`)).status, 202);
  assert.equal((await send(site, e164, "offers", `f1-${tag}`)).status, 202);
  const refusedDelivery = await send(site, e164, "delivery", `d1-${tag}`);
  assert.equal(refusedDelivery.body.type, "/problems/not-subscribed");

  await marketing(site, e164, "stop");
  const stopped = await send(site, e164, "offers", `f2-${tag}`);
  assert.equal(stopped.status, 403, JSON.stringify(stopped.body));
  assert.equal(stopped.body.type, "/problems/marketing-stopped");
  assert.equal((await send(site, e164, "order_updates", `o2-${tag}`)).status, 202, "utility messages still go");
  const perms = await (await fetch(`${BASE}/v1/sites/${site.id}/permissions/${encodeURIComponent(e164)}`, { headers: { authorization: `Bearer ${site.key}` } })).json();
  assert.deepEqual([perms.categories.offers.may_send, perms.categories.offers.reason], [false, "marketing-stopped"]);

  await marketing(site, e164, "resume");
  assert.equal((await send(site, e164, "offers", `f3-${tag}`)).status, 202, "resumed in WhatsApp: offers go again");
});

test("a category of the shop's own without a label in its default language, or with a bad id, is refused naming the field", async () => {
  const id = `cat-${randomBytes(4).toString("hex")}`;
  const base = {
    id, business_name: "Toko Acme", allowed_origins: SHOP_ORIGINS, privacy_policy_url: `${BASE}/privacy.html`,
    default_locale: "en", default_calling_code: 62, notice_version: 1,
    whatsapp: { phone_number_id: "100000000000001", template_name: "optin_confirmation", template_languages: ["en"], token_secret: "WA_TOKEN_DEMO" },
  };
  for (const [categories, type, field] of [
    [[{ id: "offers", kind: "marketing", labels: { id: "Penawaran" } }], "invalid-site-config", "categories"],
    [["delivery", "delivery"], "invalid-site-config", "categories"],
    [["delivery", { id: "Offers!", labels: { en: "Offers" } }], "invalid-body", "categories[1]"],
    [[{ id: "offers", kind: "promo", labels: { en: "Offers" } }], "invalid-body", "categories[0]"],
    [[{ id: "offers", labels: { en: "x".repeat(81) } }], "invalid-site-config", "categories"],
  ]) {
    const res = await admin(id, { method: "PUT", body: JSON.stringify({ ...base, categories }) });
    assert.equal(res.status, 422, JSON.stringify(categories));
    const body = await res.json();
    assert.deepEqual([body.type, body.field], [`/problems/${type}`, field], JSON.stringify(body));
  }
  assert.equal((await admin(id)).status, 404, "nothing stored");
});
