// Consents captured off the website, with a site API key of scope `capture`:
// the API (surface, collected_by, location, paper form in the chained
// evidence; double opt-in forced unless the site turns it off per surface;
// the site's notice for that surface), its refusals (no key, no scope, too
// long, nothing stored), and the service-desk page at /desk/ in Chromium: a
// staff member opts a customer in, keyboard only, and sees the customer's
// confirmation arrive from their phone. Real Worker, real simulator.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, randomInt } from "node:crypto";
import {
  BASE, SIM, SHOP, ADMIN_TOKEN, admin, freshPhone, simMessages, eventually, siteConfig, launch, axeViolations,
} from "./support.mjs";

const NOTICE = {
  en: "I agree to receive the messages I select below from Toko Acme on WhatsApp. I can stop at any time by replying STOP.",
  de: "Ich willige ein, die unten ausgewählten Nachrichten von Toko Acme über WhatsApp zu erhalten. Ich kann mich jederzeit abmelden, indem ich STOPP antworte.",
};
const PAPER_NOTICE = "I signed up at a Toko Acme shop to get the messages I ticked on WhatsApp. Reply STOP to end them.";

/** A fresh site on its own business number (so the person's replies reach it), with `extra`. */
async function captureSite(extra = {}) {
  const id = `cap-${randomBytes(4).toString("hex")}`;
  const pnid = `8${randomInt(10 ** 13, 10 ** 14 - 1)}`;
  const config = siteConfig(id, {
    whatsapp: {
      phone_number_id: pnid, template_name: "optin_confirmation",
      template_languages: ["en", "id", "pt_BR", "tr", "da", "es", "de"], token_secret: "WA_TOKEN_DEMO",
    },
    ...extra,
  });
  const res = await admin(id, { method: "PUT", body: JSON.stringify(config) });
  assert.equal(res.status, 200, await res.text());
  return { id, pnid };
}

async function mintKey(site, scopes) {
  const res = await admin(`${site.id}/keys`, { method: "POST", body: JSON.stringify({ name: "front desk", scopes }) });
  assert.equal(res.status, 201, await res.clone().text());
  return res.json();
}

const capture = (site, body, headers = {}) =>
  fetch(`${BASE}/v1/sites/${site.id}/consents`, {
    method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body),
  });
const withKey = (key) => ({ authorization: `Bearer ${key.key}` });

const desk = (phone, extra = {}) => ({
  phone, categories: ["order_updates"], locale: "en", notice_version: 1, notice_text: NOTICE.en,
  surface: "in_person", collected_by: "Ana, desk 3", location: "Jakarta, Grand Indonesia", ...extra,
});

const view = async (site, phone) => {
  const res = await admin(`${site.id}/subscribers/${encodeURIComponent(phone)}`);
  return { status: res.status, body: res.status === 200 ? await res.json() : null };
};

/** The person taps Confirm on the request, through the simulator (a signed webhook to the site's number). */
async function tapConfirm(site, phone, consentId) {
  const res = await fetch(`${SIM}/_sim/inbound`, {
    method: "POST",
    body: JSON.stringify({ from: phone, phone_number_id: site.pnid, button_payload: `CONFIRM:${consentId}`, button_text: "Confirm" }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(body.delivery.http_status, 200, "the Worker accepted the signed webhook");
}

const requestSent = (phone) =>
  eventually(async () => (await simMessages(phone)).find((m) => m.template && m.status === "accepted"));

test("a capture key records a desk opt-in that waits for the person's WhatsApp confirmation, with who and where in the chained evidence", async () => {
  const site = await captureSite();
  const key = await mintKey(site, ["capture"]);
  const { e164 } = freshPhone();
  // No Origin: a CRM server or the desk page's key is the authentication.
  const res = await capture(site, desk(e164), withKey(key));
  assert.equal(res.status, 201, await res.clone().text());
  const recorded = await res.json();
  assert.ok(recorded.pending_until > Date.now(), "double opt-in is forced for a number typed by staff");
  assert.equal(recorded.preferences_token, undefined, "the person's own link is not shown to the desk");

  const before = await (await fetch(`${BASE}/v1/sites/${site.id}/consents/${recorded.id}`, { headers: withKey(key) })).json();
  assert.equal(before.status, "pending");
  const sent = await requestSent(e164);
  assert.ok(sent, "the confirmation request went to the person's WhatsApp");
  assert.ok(JSON.stringify(sent).includes(`CONFIRM:${recorded.id}`), "with a Confirm button for this consent");
  const pending = await view(site, e164);
  assert.deepEqual(pending.body.state.map((s) => [s.category, s.status]), [["order_updates", "pending"]]);

  await tapConfirm(site, e164, recorded.id);
  const confirmed = await eventually(async () => {
    const s = await (await fetch(`${BASE}/v1/sites/${site.id}/consents/${recorded.id}`, { headers: withKey(key) })).json();
    return s.status === "confirmed" && s;
  });
  assert.ok(confirmed, "the consent state turns confirmed");
  const after = await view(site, e164);
  assert.deepEqual(after.body.state.map((s) => [s.category, s.status]), [["order_updates", "granted"]]);

  const grant = after.body.events.find((e) => e.kind === "grant");
  assert.equal(grant.evidence.surface, "in_person");
  assert.equal(grant.evidence.notice_text, NOTICE.en);
  assert.deepEqual(grant.evidence.capture, {
    collected_by: "Ana, desk 3", location: "Jakarta, Grand Indonesia", double_opt_in: "required", key_id: key.id,
  });
  // The receipt a support agent downloads says how it was collected.
  assert.equal(after.body.receipt.collection.surface, "in_person");
  assert.equal(after.body.receipt.collection.captured_by.collected_by, "Ana, desk 3");
  assert.equal(after.body.receipt.collection.captured_by.double_opt_in, "required");
  const verify = await (await admin(`${site.id}/verify`)).json();
  assert.equal(verify.ok, true, JSON.stringify(verify));

  // A retry with the same Idempotency-Key answers the first reply; the key reused for another capture is refused.
  const idem = { ...withKey(key), "idempotency-key": `desk-${randomBytes(4).toString("hex")}` };
  const again = desk(freshPhone().e164);
  const first = await (await capture(site, again, idem)).json();
  const replay = await capture(site, again, idem);
  assert.equal(replay.headers.get("idempotent-replayed"), "true");
  assert.equal((await replay.json()).id, first.id);
  const reused = await capture(site, { ...again, collected_by: "someone else" }, idem);
  assert.equal(reused.status, 422);
  assert.equal((await reused.json()).type, "/problems/idempotency-key-reused");
});

test("a site words the notice per surface and may turn double opt-in off for one; the choice is in the evidence", async () => {
  const site = await captureSite({
    capture: { paper: { double_opt_in: false, notice: { en: PAPER_NOTICE.replace("Toko Acme", "{business}") } } },
  });
  const key = await mintKey(site, ["capture"]);
  const { e164 } = freshPhone();
  const paper = { ...desk(e164), surface: "paper", notice_text: PAPER_NOTICE, form_ref: "FORM-2026-0042" };

  const shown = await (await fetch(`${BASE}/v1/sites/${site.id}/capture?surface=paper&locale=en`, { headers: withKey(key) })).json();
  assert.equal(shown.notice_text, PAPER_NOTICE);
  assert.equal(shown.double_opt_in, "off_by_site");
  assert.equal(shown.form_ref_required, true);

  const webNotice = await capture(site, { ...paper, notice_text: NOTICE.en }, withKey(key));
  assert.equal(webNotice.status, 422);
  assert.equal((await webNotice.json()).type, "/problems/notice-mismatch");
  const noForm = await capture(site, { ...paper, form_ref: undefined }, withKey(key));
  assert.equal(noForm.status, 422);
  assert.deepEqual(
    (({ type, field }) => ({ type, field }))(await noForm.json()),
    { type: "/problems/field-required", field: "form_ref" },
  );

  const res = await capture(site, paper, withKey(key));
  assert.equal(res.status, 201, await res.clone().text());
  const recorded = await res.json();
  assert.equal(recorded.pending_until, undefined, "the site turned double opt-in off for paper");
  const state = await (await fetch(`${BASE}/v1/sites/${site.id}/consents/${recorded.id}`, { headers: withKey(key) })).json();
  assert.equal(state.status, "granted");
  const v = await view(site, e164);
  assert.deepEqual(v.body.state.map((s) => [s.category, s.status]), [["order_updates", "granted"]]);
  const grant = v.body.events.find((e) => e.kind === "grant");
  assert.equal(grant.evidence.surface, "paper");
  assert.equal(grant.evidence.capture.form_ref, "FORM-2026-0042");
  assert.equal(grant.evidence.capture.double_opt_in, "off_by_site");

  // In person on the same site keeps the default: the person confirms.
  const inPerson = await (await capture(site, desk(freshPhone().e164), withKey(key))).json();
  assert.ok(inPerson.pending_until, "in_person still waits for the confirmation");
});

test("bad captures: no key, a key without the scope, another site's key, a browser claiming a capture surface, collected_by over 128: precise problems, nothing stored", async () => {
  const site = await captureSite();
  const other = await captureSite();
  const sendOnly = await mintKey(site, ["send", "read"]);
  const otherKey = await mintKey(other, ["capture"]);
  const key = await mintKey(site, ["capture"]);
  const cases = [
    ["no key, no Origin", (p) => capture(site, desk(p)), 401, "unauthorized", undefined],
    ["a browser Origin claiming in_person", (p) => capture(site, desk(p), { origin: SHOP }), 401, "unauthorized", undefined],
    ["a key without the capture scope", (p) => capture(site, desk(p), withKey(sendOnly)), 403, "scope-missing", undefined],
    ["another site's key", (p) => capture(site, desk(p), withKey(otherKey)), 403, "key-other-site", undefined],
    ["the admin token", (p) => capture(site, desk(p), { authorization: `Bearer ${ADMIN_TOKEN}` }), 401, "unauthorized", undefined],
    ["collected_by of 129 characters", (p) => capture(site, desk(p, { collected_by: "x".repeat(129) }), withKey(key)), 422, "field-too-long", "collected_by"],
    ["collected_by missing", (p) => capture(site, { ...desk(p), collected_by: undefined }, withKey(key)), 422, "invalid-body", "collected_by"],
    ["a web surface with a capture key", (p) => capture(site, desk(p, { surface: "modal" }), withKey(key)), 422, "not-capture-surface", "surface"],
    ["form_ref off paper", (p) => capture(site, desk(p, { form_ref: "F-1" }), withKey(key)), 422, "field-not-for-surface", "form_ref"],
    ["an unknown field", (p) => capture(site, desk(p, { page_url: "https://x.example/" }), withKey(key)), 422, "invalid-body", "page_url"],
  ];
  for (const [name, send, status, slug, field] of cases) {
    const { e164 } = freshPhone();
    const res = await send(e164);
    assert.equal(res.status, status, `${name}: ${await res.clone().text()}`);
    assert.match(res.headers.get("content-type"), /application\/problem\+json/, name);
    const problem = await res.json();
    assert.equal(problem.type, `/problems/${slug}`, name);
    if (field) assert.equal(problem.field, field, name);
    assert.equal((await view(site, e164)).status, 404, `${name}: nothing stored`);
  }
  // 128 is accepted.
  const ok = await capture(site, desk(freshPhone().e164, { collected_by: "y".repeat(128) }), withKey(key));
  assert.equal(ok.status, 201, await ok.text());
  // The notice and state endpoints want the key too.
  assert.equal((await fetch(`${BASE}/v1/sites/${site.id}/capture`)).status, 401);
  assert.equal((await fetch(`${BASE}/v1/sites/${site.id}/capture?surface=modal`, { headers: withKey(key) })).status, 400);
  assert.equal((await fetch(`${BASE}/v1/sites/${site.id}/consents/nope`, { headers: withKey(key) })).status, 404);
});

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test("the desk page: a tablet, keyboard only, in German; signs in with a capture key (not the admin token) and shows the customer's confirmation arriving", async () => {
  const site = await captureSite({ categories: ["order_updates", "delivery"] });
  const key = await mintKey(site, ["capture"]);
  const context = await browser.newContext({ viewport: { width: 768, height: 1024 }, hasTouch: true });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${BASE}/desk/`);
  assert.match(await page.title(), /desk/i);

  // Everything below by keyboard: Tab to a control, type, Space to tick, Enter to submit.
  await page.selectOption("#lang", "de");
  assert.equal(await page.getAttribute("html", "lang"), "de");
  await page.getByLabel("Site").fill(site.id);
  await page.getByLabel("Capture-Schlüssel").fill(ADMIN_TOKEN);
  await page.keyboard.press("Enter");
  await page.getByRole("alert").filter({ hasText: "Dieser Schlüssel" }).waitFor();
  assert.equal(await page.isVisible("#desk"), false, "the admin token does not open the desk");

  await page.getByLabel("Capture-Schlüssel").fill(key.key);
  await page.keyboard.press("Enter");
  await page.locator("#desk").waitFor();
  assert.equal(await page.textContent("#notice"), NOTICE.de, "the site's notice for in_person, in German");
  assert.equal(await page.evaluate(() => document.activeElement.id), "staff", "focus starts at the staff name");
  await page.keyboard.type("Jonas, Schalter 2");
  await page.keyboard.press("Tab");
  await page.keyboard.type("Berlin Mitte");
  // Surface select, then the categories: Tab past the select to the first box, tick it with Space.
  await page.keyboard.press("Tab");
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement.type), "checkbox");
  await page.keyboard.press("Space");
  await page.keyboard.press("Tab");
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement.id), "phone");
  const { national, e164 } = freshPhone();
  await page.keyboard.type(national);
  await page.keyboard.press("Enter");

  const progress = page.locator("#progress");
  await progress.filter({ hasText: "Warte auf die Bestätigung" }).waitFor();
  assert.equal(await progress.getAttribute("data-status"), "pending");
  const v = await view(site, e164);
  const grant = v.body.events.find((e) => e.kind === "grant");
  assert.equal(grant.evidence.locale, "de");
  assert.equal(grant.evidence.capture.collected_by, "Jonas, Schalter 2");
  assert.equal(grant.evidence.capture.location, "Berlin Mitte");
  assert.equal(grant.evidence.surface, "in_person");
  assert.ok(await requestSent(e164), "the customer's phone got the request");

  // The customer taps Confirm on their phone; the desk shows it without a reload.
  await tapConfirm(site, e164, grant.id);
  await progress.filter({ hasText: "Auf dem Telefon bestätigt" }).waitFor({ timeout: 15_000 });
  assert.deepEqual(await axeViolations(page, "main"), []);
  // Next customer: an empty form, focus on the number.
  await page.keyboard.press("Enter");
  assert.equal(await page.evaluate(() => document.activeElement.id), "phone");
  assert.equal(await page.inputValue("#phone"), "");
  assert.equal(await page.isChecked("#categories input >> nth=0"), false);
  assert.deepEqual(errors, []);
  await context.close();
});
