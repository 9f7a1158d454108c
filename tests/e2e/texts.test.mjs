// The widget's wording comes with the config: in the visitor's locale, with the
// merchant's overrides and A/B variants — and the ledger records exactly the
// notice that was shown.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { BASE, launch, freshPhone, subscriber, admin, sha256, siteConfig, newSite as sharedNewSite, SHOP, shopPage, widgetTag } from "./support.mjs";

const newSite = (extra) => sharedNewSite("txt", extra);
const lookup = async (site, phone) =>
  (await admin(`${site}/subscribers/${encodeURIComponent(phone)}`)).json();
const post = (site, body) =>
  fetch(`${BASE}/v1/sites/${site}/consents`, {
    method: "POST", headers: { "content-type": "application/json", origin: SHOP }, body: JSON.stringify(body),
  });

/** A merchant page on the shop's origin with the widget tag (lang as given). */
async function pageWithLang(context, site, lang) {
  const page = await context.newPage();
  const url = await shopPage(`/texts/${site}-lang-${lang || "none"}.html`,
    `<!doctype html><html${lang ? ` lang="${lang}"` : ""}><head><meta charset="utf-8"><title>t</title></head>` +
      `<body>${widgetTag(site)}</body></html>`);
  const configs = [];
  page.on("request", (r) => r.url().includes("/config") && configs.push(new URL(r.url()).searchParams.get("locale")));
  await page.goto(url);
  return { page, configs };
}

/** Subscribes through the open modal; the labels are whatever the page shows. */
async function optIn(dialog, category, phone, submit) {
  await dialog.getByRole("checkbox", { name: category }).check();
  await dialog.locator("#wa-phone").fill(phone.national);
  await dialog.getByRole("button", { name: submit }).click();
  await dialog.locator(".status.ok").waitFor({ timeout: 15_000 });
}

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test("a merchant's wording is shown, and is the notice the ledger records", async () => {
  const notice = "Yes: {business} may send me the updates I tick on WhatsApp. Reply STOP to stop.";
  const bad = await admin("txt-bad", {
    method: "PUT",
    body: JSON.stringify(siteConfig("txt-bad", { strings: { en: { notice: "Updates on WhatsApp, please." } } })),
  });
  assert.equal(bad.status, 422, "an override that drops {business} is refused");
  assert.equal((await bad.json()).field, "strings");

  const site = await newSite({ strings: { en: { notice, submit: "Send me updates", delivery: "Parcel news" } } });
  const page = await browser.newPage();
  await page.goto(`${SHOP}/examples/site.html?site=${site}`);
  const dialog = page.getByRole("dialog", { name: "Get updates on WhatsApp" });
  await dialog.waitFor({ state: "visible", timeout: 15_000 });
  const shown = await dialog.locator("#wa-notice").textContent();
  assert.equal(shown, notice.replace("{business}", "Toko Acme"));

  const phone = freshPhone();
  await optIn(dialog, "Parcel news", phone, "Send me updates");
  const { events } = await lookup(site, phone.e164);
  assert.equal(events.length, 1);
  assert.equal(events[0].evidence.notice_text, shown, "the ledger holds the merchant's text as shown");
  assert.equal(events[0].evidence.notice_hash, sha256(shown));
  assert.deepEqual(events[0].categories, ["delivery"]);
  assert.equal(events[0].evidence.variant, undefined, "no variant without variants");
  await page.close();
});

test("the page's lang picks the language, then the browser's; the consent records it", async () => {
  const context = await browser.newContext({ locale: "de-DE" });
  const { page, configs } = await pageWithLang(context, "demo", "tr");
  const dialog = page.getByRole("dialog", { name: "WhatsApp'tan bildirim alın" });
  await dialog.waitFor({ state: "visible", timeout: 15_000 });
  assert.deepEqual(configs, ["tr"], "one config request, for Turkish");
  assert.equal(await dialog.getAttribute("lang"), "tr");
  const shown = await dialog.locator("#wa-notice").textContent();
  assert.match(shown, /^Toko Acme tarafından WhatsApp/);

  const phone = freshPhone();
  await optIn(dialog, "Sipariş onayları", phone, "WhatsApp'ta abone ol");
  const { body } = await subscriber(phone.e164);
  const [grant] = body.events;
  assert.equal(grant.evidence.locale, "tr");
  assert.equal(grant.evidence.notice_text, shown);
  assert.equal(grant.evidence.notice_hash, sha256(shown));

  await context.close();

  // No lang on the page: the browser's language (German here) wins over the site default.
  const german = await browser.newContext({ locale: "de-DE" });
  const other = await pageWithLang(german, "demo", "");
  await other.page.getByRole("dialog", { name: "Updates per WhatsApp erhalten" }).waitFor({ timeout: 15_000 });
  assert.deepEqual(other.configs, ["de"]);
  await german.close();
});

test("A/B variants: each visitor keeps one across reloads, and the consent records it", { timeout: 90_000 }, async () => {
  const short = "{business} on WhatsApp: the updates I tick. STOP ends them.";
  const site = await newSite({
    variants: { modal: [{ id: "plain", weight: 1 }, { id: "short", weight: 1, strings: { en: { notice: short } } }] },
    targeting: { per_session: 0 }, // shown on the reload too (the default: once per session)
  });
  const texts = { plain: null, short: short.replace("{business}", "Toko Acme") };
  const seen = new Map();
  let chosen;
  // Fresh visitors until both arms have shown up (50/50: 12 tries all alike is 1 in 2048).
  for (let i = 0; i < 12 && seen.size < 2; i++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.addInitScript(() => {
      window.__impressions = [];
      document.addEventListener("whatsapp-optin:impression", (e) => window.__impressions.push(e.detail));
    });
    const visit = async () => {
      await page.goto(`${SHOP}/examples/site.html?site=${site}`);
      const dialog = page.getByRole("dialog");
      await dialog.waitFor({ state: "visible", timeout: 15_000 });
      const [detail] = await page.evaluate(() => window.__impressions);
      return { variant: detail.variant, locale: detail.locale, notice: await dialog.locator("#wa-notice").textContent() };
    };
    const first = await visit();
    assert.ok(["plain", "short"].includes(first.variant), JSON.stringify(first));
    assert.equal(first.locale, "en");
    if (first.variant === "short") assert.equal(first.notice, texts.short);
    const again = await visit();
    assert.deepEqual(again, first, "the same visitor sees the same variant after a reload");
    seen.set(first.variant, first.notice);
    if (!chosen) chosen = { context, page, ...first };
    else await context.close();
  }
  assert.equal(seen.size, 2, `both variants were shown: ${[...seen.keys()]}`);
  assert.notEqual(seen.get("plain"), seen.get("short"));

  const dialog = chosen.page.getByRole("dialog");
  const phone = freshPhone();
  await optIn(dialog, "Order confirmations", phone, "Subscribe on WhatsApp");
  const [grant] = (await lookup(site, phone.e164)).events;
  assert.equal(grant.evidence.variant, chosen.variant);
  assert.equal(grant.evidence.notice_text, chosen.notice);
  assert.equal(grant.evidence.notice_hash, sha256(chosen.notice));
  await chosen.context.close();

  // The Worker checks the variant and the text it renders to.
  const base = { phone: freshPhone().e164, categories: ["delivery"], locale: "en", notice_version: 1, surface: "modal" };
  const unknown = await post(site, { ...base, variant: "nope", notice_text: seen.get("plain") });
  assert.equal(unknown.status, 422);
  assert.deepEqual(
    (({ type, field }) => ({ type, field }))(await unknown.json()),
    { type: "/problems/unknown-variant", field: "variant" },
  );
  const swapped = await post(site, { ...base, variant: "short", notice_text: seen.get("plain") });
  assert.equal(swapped.status, 422, "the plain text sent as the short variant is refused");
  assert.equal((await swapped.json()).type, "/problems/notice-mismatch");
  const tampered = await post(site, { ...base, variant: "short", notice_text: `${texts.short} ` });
  assert.equal(tampered.status, 422);
  assert.equal((await tampered.json()).field, "notice_text");
});

test("A/B variants: the loader picks, for each visitor id, the variant consent-core's pick_variant picks", async () => {
  // The vectors crates/consent-core/tests/variant_vectors.rs holds pick_variant to.
  const vectors = JSON.parse(readFileSync(new URL("../../crates/consent-core/tests/variant-vectors.json", import.meta.url), "utf8"))
    .filter((v) => v.surface === "modal" && v.weights.join() === "1,2,3");
  assert.ok(vectors.length >= 8);
  const ids = ["a", "b", "c"];
  const site = await newSite({
    variants: { modal: ids.map((id, i) => ({ id, weight: i + 1, strings: { en: { title: `Variant ${id}` } } })) },
    targeting: { per_session: 0 },
  });
  for (const v of vectors) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.addInitScript((id) => localStorage.setItem("whatsapp-optin:#visitor", id), v.visitor);
    await page.goto(`${SHOP}/examples/site.html?site=${site}`);
    const dialog = page.getByRole("dialog");
    await dialog.waitFor({ state: "visible", timeout: 15_000 });
    const shown = await dialog.locator("#wa-title").textContent();
    // An empty id is no id: the loader makes one (and picks for it), as the wasm does.
    if (v.visitor) assert.equal(shown, `Variant ${ids[v.pick]}`, `visitor ${JSON.stringify(v.visitor)}`);
    else assert.match(shown, /^Variant [abc]$/);
    await context.close();
  }
});
