// Templates provisioned through the Graph API: POST /admin/sites/{site}/templates
// creates both templates in every language of the site (the locale texts), GET
// reads Meta's review back (approved, rejected with its reason, paused,
// disabled, a category Meta changed), the dashboard shows it, and a send never
// uses a language Meta has not approved while an approved one exists. Real
// Worker, real simulator (its message_templates endpoint, review after
// --template-approval-ms, rejection rules and changes through /_sim/templates).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomInt } from "node:crypto";
import { BASE, SIM, SHOP, ADMIN_TOKEN, admin, newSite, freshPhone, eventually, launch } from "./support.mjs";

const NOTICES = {
  en: "I agree to receive the messages I select below from Toko Acme on WhatsApp. I can stop at any time by replying STOP.",
  id: "Saya setuju menerima pesan yang saya pilih di bawah dari Toko Acme melalui WhatsApp. Saya dapat berhenti kapan saja dengan membalas BERHENTI.",
};
// docs/operations.md#templates, which a unit test keeps equal to locale.rs.
const EN_CONFIRMATION = "You are subscribed to WhatsApp messages from {{1}}: the updates you chose. Reply STOP or tap Stop to unsubscribe at any time.";

const sim = async (method, path, body) => {
  const res = await fetch(`${SIM}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: res.status === 204 ? null : await res.json() };
};
const wabaId = () => String(randomInt(10 ** 11, 10 ** 12));

/** A fresh site with its own WABA (so simulator rules and changes touch only it). */
async function templateSite(languages, extra = {}) {
  const waba = wabaId();
  const id = await newSite("tpl", {
    whatsapp: { phone_number_id: "100000000000001", template_name: "optin_confirmation", template_languages: languages, token_secret: "WA_TOKEN_DEMO", waba_id: waba },
    ...extra,
  });
  return { id, waba };
}

const read = async (site) => {
  const res = await admin(`${site}/templates`);
  return { status: res.status, type: res.headers.get("content-type"), body: await res.json() };
};
const find = (templates, name, language) => templates.find((t) => t.name === name && t.language === language);

/** Statuses once Meta's review (the simulator's delay) is over for every language. */
const reviewed = (site) =>
  eventually(async () => {
    const r = await read(site);
    return r.status === 200 && r.body.templates.every((t) => t.status !== "PENDING") && r.body.templates;
  });

async function consent(site, phone, locale) {
  const res = await fetch(`${BASE}/v1/sites/${site}/consents`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: SHOP },
    body: JSON.stringify({ phone, categories: ["order_updates"], locale, notice_version: 1, notice_text: NOTICES[locale], surface: "modal" }),
  });
  assert.equal(res.status, 201, await res.clone().text());
}

/** The template language of the confirmation the simulator received for `phone`. */
const sentLanguage = (phone) =>
  eventually(async () => {
    const res = await fetch(`${SIM}/_sim/messages?to=${encodeURIComponent(phone)}&status=accepted`);
    const [first] = (await res.json()).messages;
    return first?.template?.language;
  });

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test("a site without waba_id: GET and POST templates are a 422 problem naming whatsapp.waba_id", async () => {
  const id = await newSite("tpl-nowaba");
  for (const method of ["GET", "POST"]) {
    const res = await admin(`${id}/templates`, { method });
    assert.equal(res.status, 422);
    assert.equal(res.headers.get("content-type"), "application/problem+json");
    const p = await res.json();
    assert.equal(p.type, "/problems/waba-id-missing");
    assert.equal(p.field, "whatsapp.waba_id");
  }
  const bad = await admin(id, { method: "PUT", body: JSON.stringify({ ...(await (await admin(id)).json()), whatsapp: { phone_number_id: "100000000000001", template_name: "optin_confirmation", template_languages: ["en"], token_secret: "WA_TOKEN_DEMO", waba_id: "12ab" } }) });
  assert.equal(bad.status, 422);
  assert.equal((await bad.json()).field, "whatsapp.waba_id");
});

test("both templates are created in every site language with the locale texts, and Meta's review is read back: approved, rejected with reason, paused, disabled, recategorised", async () => {
  const { id, waba } = await templateSite(["en", "id", "pt_BR", "de", "tr"]);
  const rule = await sim("POST", "/_sim/templates/rules", { waba_id: waba, language: "id", reason: "TAG_CONTENT_MISMATCH" });
  assert.equal(rule.status, 200);

  const res = await admin(`${id}/templates`, { method: "POST" });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(body.created.length, 10);
  assert.ok(body.created.every((c) => c.result === "created"), JSON.stringify(body.created));

  // What Meta received: UTILITY, the body with its example, quick replies.
  const made = (await sim("GET", "/_sim/templates")).body.templates.filter((t) => t.waba_id === waba);
  assert.equal(made.length, 10);
  const en = made.find((t) => t.name === "optin_confirmation" && t.language === "en");
  assert.equal(en.category, "UTILITY");
  assert.deepEqual(en.components, [
    { type: "BODY", text: EN_CONFIRMATION, example: { body_text: [["Toko Acme"]] } },
    { type: "BUTTONS", buttons: [{ type: "QUICK_REPLY", text: "Stop" }] },
  ]);
  const double = made.find((t) => t.name === "optin_double_confirmation" && t.language === "de");
  assert.deepEqual(double.components[1].buttons.map((b) => b.text), ["Bestätigen", "Stopp"]);

  let templates = await reviewed(id);
  assert.equal(templates.length, 10);
  assert.equal(find(templates, "optin_confirmation", "en").status, "APPROVED");
  const rejected = find(templates, "optin_confirmation", "id");
  assert.deepEqual([rejected.status, rejected.rejected_reason], ["REJECTED", "TAG_CONTENT_MISMATCH"]);

  // Later Meta pauses one, disables one and moves one to marketing.
  for (const change of [
    { language: "pt_BR", status: "PAUSED" },
    { language: "de", status: "DISABLED" },
    { language: "tr", category: "MARKETING" },
  ]) {
    const r = await sim("POST", "/_sim/templates/update", { waba_id: waba, name: "optin_confirmation", ...change });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }
  templates = (await read(id)).body.templates;
  assert.equal(find(templates, "optin_confirmation", "pt_BR").status, "PAUSED");
  assert.equal(find(templates, "optin_confirmation", "de").status, "DISABLED");
  const tr = find(templates, "optin_confirmation", "tr");
  assert.deepEqual([tr.status, tr.category, tr.previous_category], ["APPROVED", "MARKETING", "UTILITY"]);

  // Provisioning again creates nothing twice.
  const again = await (await admin(`${id}/templates`, { method: "POST" })).json();
  assert.ok(again.created.every((c) => c.result === "exists"), JSON.stringify(again.created));
  assert.equal((await sim("GET", "/_sim/templates")).body.templates.filter((t) => t.waba_id === waba).length, 10);
});

test("a rejected language is never used to send while an approved one exists; unknown statuses send as before", async () => {
  const { id, waba } = await templateSite(["id", "en"]);
  // Nothing read from Meta yet: an Indonesian speaker gets id, as ever.
  const early = freshPhone().e164;
  await consent(id, early, "id");
  assert.equal(await sentLanguage(early), "id");

  await sim("POST", "/_sim/templates/rules", { waba_id: waba, name: "optin_confirmation", language: "id", reason: "INVALID_FORMAT" });
  assert.equal((await admin(`${id}/templates`, { method: "POST" })).status, 200);
  const templates = await reviewed(id);
  assert.equal(find(templates, "optin_confirmation", "id").status, "REJECTED");
  assert.equal(find(templates, "optin_confirmation", "en").status, "APPROVED");

  const later = freshPhone().e164;
  await consent(id, later, "id");
  assert.equal(await sentLanguage(later), "en", "the approved language, not the rejected one");
  // Meta approves id after an appeal: once read back, id speakers get id again.
  await sim("POST", "/_sim/templates/update", { waba_id: waba, name: "optin_confirmation", language: "id", status: "APPROVED" });
  assert.equal(find((await read(id)).body.templates, "optin_confirmation", "id").status, "APPROVED");
  const appealed = freshPhone().e164;
  await consent(id, appealed, "id");
  assert.equal(await sentLanguage(appealed), "id");
});

test("a token Meta refuses: the Graph error is a problem naming its code, nothing is stored", async () => {
  const { id, waba } = await templateSite(["en"], {});
  const cfg = await (await admin(id)).json();
  cfg.whatsapp.token_secret = "ADMIN_TOKEN"; // a secret that exists but is not the Graph token
  assert.equal((await admin(id, { method: "PUT", body: JSON.stringify(cfg) })).status, 200);
  const res = await admin(`${id}/templates`, { method: "POST" });
  assert.equal(res.status, 502);
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  const p = await res.json();
  assert.equal(p.type, "/problems/graph-error");
  assert.equal(p.graph_code, 190);
  assert.equal((await sim("GET", "/_sim/templates")).body.templates.filter((t) => t.waba_id === waba).length, 0);
  assert.equal((await admin(`${id}/templates`)).status, 502);
});

test("what Meta charged a confirmation as (pricing.category) is kept with its statuses in the subscriber lookup", async () => {
  const id = "demo"; // the site Meta's webhooks for the business number reach
  const phone = freshPhone().e164;
  await consent(id, phone, "en");
  const statuses = await eventually(async () => {
    const res = await admin(`${id}/subscribers/${encodeURIComponent(phone)}`);
    const view = await res.json();
    const s = view.confirmations?.[0]?.statuses ?? [];
    return s.some((x) => x.status === "delivered") && s;
  });
  assert.ok(statuses.length >= 2);
  for (const s of statuses) assert.equal(s.pricing_category, "utility", JSON.stringify(s));
});

test("the dashboard shows each template's status, with the rejection reason and the category change, as text", async () => {
  const { id, waba } = await templateSite(["en", "id"]);
  await sim("POST", "/_sim/templates/rules", { waba_id: waba, name: "optin_double_confirmation", language: "en", reason: "<b>INCORRECT_CATEGORY</b>" });
  assert.equal((await admin(`${id}/templates`, { method: "POST" })).status, 200);
  await reviewed(id);
  await sim("POST", "/_sim/templates/update", { waba_id: waba, name: "optin_confirmation", language: "id", category: "MARKETING" });

  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${BASE}/admin/`);
  await page.getByLabel("Site").fill(id);
  await page.getByLabel("Admin token").fill(ADMIN_TOKEN);
  await page.getByRole("button", { name: "Open dashboard" }).click();
  const table = page.locator("#templates-table");
  await table.waitFor({ state: "visible" });
  const row = (name, language) => table.locator(`tr[data-template="${name}"][data-language="${language}"] td`);
  assert.deepEqual(await row("optin_confirmation", "en").allTextContents(), ["optin_confirmation", "en", "APPROVED", "UTILITY", ""]);
  assert.deepEqual(await row("optin_confirmation", "id").allTextContents(), ["optin_confirmation", "id", "APPROVED", "MARKETING (was UTILITY)", ""]);
  assert.deepEqual(await row("optin_double_confirmation", "en").allTextContents(),
    ["optin_double_confirmation", "en", "REJECTED", "UTILITY", "<b>INCORRECT_CATEGORY</b>"]);
  assert.equal(await table.locator("b").count(), 0, "a reason is text, never markup");
  assert.match(await page.locator("#templates-note").textContent(), /3 of 4 approved/);
  await page.locator("#templates").screenshot({ path: new URL("../../docs/screenshots/dashboard-templates.png", import.meta.url).pathname });

  // A site without a WABA id: the panel says what to set.
  const bare = await newSite("tpl-nowaba");
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByLabel("Site").fill(bare);
  await page.getByLabel("Admin token").fill(ADMIN_TOKEN);
  await page.getByRole("button", { name: "Open dashboard" }).click();
  await page.waitForFunction(() => /waba_id/.test(document.querySelector("#templates-note").textContent));
  assert.equal(await table.isVisible(), false);
  assert.deepEqual(errors, []);
  await context.close();
});

test("Meta's own short link and QR code (message_qrdls) for the business number, the opt-in phrase prefilled; listed in the dashboard", async () => {
  const id = await newSite("tpl-qr", { optin_keyword: "JOIN ACME" });
  const res = await admin(`${id}/qr-links`, { method: "POST" });
  const qr = await res.json();
  assert.equal(res.status, 200, JSON.stringify(qr));
  assert.match(qr.deep_link_url, /^https:\/\/wa\.me\/message\/[A-Z2-7]{14}$/);
  assert.equal(qr.prefilled_message, "JOIN ACME");
  assert.ok(qr.qr_image_url, "an SVG was asked for");
  const custom = await (await admin(`${id}/qr-links`, { method: "POST", body: JSON.stringify({ prefilled_message: "Hi Toko Acme" }) })).json();
  assert.equal(custom.prefilled_message, "Hi Toko Acme");
  const listed = (await (await admin(`${id}/qr-links`)).json()).qr_links;
  assert.ok(listed.some((q) => q.code === qr.code) && listed.some((q) => q.code === custom.code));

  const bare = await newSite("tpl-qr-bare");
  const refused = await admin(`${bare}/qr-links`, { method: "POST" });
  assert.equal(refused.status, 422);
  assert.equal(refused.headers.get("content-type"), "application/problem+json");
  assert.equal((await refused.json()).field, "prefilled_message");
  const tooLong = await admin(`${id}/qr-links`, { method: "POST", body: JSON.stringify({ prefilled_message: "x".repeat(141) }) });
  assert.equal(tooLong.status, 422);

  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await page.goto(`${BASE}/admin/`);
  await page.getByLabel("Site").fill(id);
  await page.getByLabel("Admin token").fill(ADMIN_TOKEN);
  await page.getByRole("button", { name: "Open dashboard" }).click();
  await page.getByRole("button", { name: "Make Meta's short link" }).click();
  const links = page.locator("#qr-meta-list a");
  await page.waitForFunction(() => document.querySelectorAll("#qr-meta-list a").length >= 3);
  const texts = await links.allTextContents();
  assert.ok(texts.includes(qr.deep_link_url), texts.join(", "));
  assert.match(await page.locator("#qr-meta-list").textContent(), /“JOIN ACME”/);
  await context.close();
});

test("every template and QR code request and answer held to Meta's spec", async () => {
  const log = (await sim("GET", "/_sim/contract")).body;
  const ours = log.violations.filter((v) => v.schema.startsWith("message_templates") || v.schema.includes("QrCode"));
  assert.deepEqual(ours, []);
});
