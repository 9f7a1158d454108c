// Double opt-in end to end: a site with `double_opt_in` on records a web consent
// as pending, sends only the confirmation request (Confirm + Stop quick replies),
// and grants when the person taps Confirm or replies YES (in their language);
// unconfirmed, it expires. Real Worker, real simulator, signed webhooks.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, randomInt } from "node:crypto";
import { BASE, SIM, admin, freshPhone, simMessages, eventually, sleep, signWebhook, postWebhook, inboundWebhook, SHOP, SHOP_ORIGINS } from "./support.mjs";

/** The per-person gap between two sends (scripts/dev sets it for the stack). */
const PAIR_GAP = Number(process.env.OUTBOX_PAIR_GAP_MS ?? 1500);

// scripts/dev sets DOUBLE_OPT_IN_HOUR_MS: one "hour" of expiry lasts this long in tests.
const HOUR_MS = Number(process.env.DOUBLE_OPT_IN_HOUR_MS ?? 2000);
const NOTICES = {
  en: "I agree to receive the messages I select below from Toko Acme on WhatsApp. I can stop at any time by replying STOP.",
  da: "Jeg accepterer at modtage de beskeder, jeg vælger nedenfor, fra Toko Acme på WhatsApp. Jeg kan til enhver tid framelde mig ved at svare AFMELD.",
  tr: "Toko Acme tarafından WhatsApp üzerinden aşağıda seçtiğim mesajları almayı kabul ediyorum. İstediğim zaman DUR yazarak ayrılabilirim.",
  de: "Ich willige ein, die unten ausgewählten Nachrichten von Toko Acme über WhatsApp zu erhalten. Ich kann mich jederzeit abmelden, indem ich STOPP antworte.",
};

/** A fresh site with double opt-in on, its own business number, and `expiry_hours`. */
async function doiSite(expiry_hours = 720) {
  const id = `doi-${randomBytes(4).toString("hex")}`;
  const pnid = `7${randomInt(10 ** 13, 10 ** 14 - 1)}`;
  const config = {
    id, business_name: "Toko Acme", allowed_origins: SHOP_ORIGINS, privacy_policy_url: `${BASE}/privacy.html`,
    default_locale: "en", default_calling_code: 62, categories: ["delivery", "order_updates"], notice_version: 1,
    whatsapp: {
      phone_number_id: pnid, template_name: "optin_confirmation",
      template_languages: ["en", "id", "pt_BR", "tr", "da", "es", "de"], token_secret: "WA_TOKEN_DEMO",
    },
    limits: { per_ip_per_minute: 1000, per_phone_per_hour: 20, daily_confirmations: 1000, resend_cooldown_hours: 24 },
    double_opt_in: { enabled: true, expiry_hours },
  };
  const res = await admin(id, { method: "PUT", body: JSON.stringify(config) });
  assert.equal(res.status, 200, await res.text());
  return { id, pnid };
}

async function consent(site, phone, { locale = "en", categories = ["delivery", "order_updates"] } = {}) {
  const res = await fetch(`${BASE}/v1/sites/${site.id}/consents`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: SHOP },
    body: JSON.stringify({ phone, categories, locale, notice_version: 1, notice_text: NOTICES[locale], surface: "modal" }),
  });
  assert.equal(res.status, 201, await res.clone().text());
  return res.json();
}

const view = async (site, phone) => {
  const res = await admin(`${site.id}/subscribers/${encodeURIComponent(phone)}`);
  return res.status === 200 ? res.json() : null;
};
async function viewUntil(site, phone, ok, what) {
  const v = await eventually(async () => { const b = await view(site, phone); return b && ok(b) && b; });
  assert.ok(v, `timed out waiting for: ${what}`);
  return v;
}
const stats = async (site) => (await admin(`${site.id}/stats`)).json();
const replies = async (phone) => (await simMessages(phone)).filter((m) => m.text);

/** The person writes (or taps a button) through the simulator: a signed webhook to the site's number. */
async function say(site, phone, message) {
  const res = await fetch(`${SIM}/_sim/inbound`, {
    method: "POST", body: JSON.stringify({ from: phone, phone_number_id: site.pnid, ...message }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(body.delivery.http_status, 200, "the Worker accepted the signed webhook");
  return body.id;
}

/** Waits for the confirmation request to reach the simulator, and returns its send record. */
async function request(phone) {
  const sent = await eventually(async () => (await simMessages(phone)).find((m) => m.template && m.status === "accepted"));
  assert.ok(sent, "the confirmation request was sent");
  return sent;
}

test("a consent stays pending, gets only the Confirm request, and the Confirm button grants it (a replayed tap once)", async () => {
  const site = await doiSite();
  const phone = freshPhone().e164;
  const recorded = await consent(site, phone);
  assert.ok(recorded.pending_until > Date.now(), "the answer says it waits for confirmation");

  const pending = await view(site, phone);
  assert.deepEqual(pending.events.map((e) => e.kind), ["grant"], "the consent is in the ledger, with its evidence");
  assert.equal(pending.events[0].evidence.notice_text, NOTICES.en);
  assert.deepEqual(pending.events[0].evidence.double_opt_in.categories.sort(), ["delivery", "order_updates"]);
  assert.deepEqual(pending.state.map((s) => s.status), ["pending", "pending"]);
  assert.equal(pending.status, "pending", "the lookup says so at a glance");
  assert.equal(pending.double_opt_in[0].status, "pending");
  assert.equal(pending.double_opt_in[0].consent_id, recorded.id);

  const sent = await request(phone);
  assert.equal(sent.template.name, "optin_double_confirmation");
  assert.deepEqual(sent.template.body_texts, ["Toko Acme"]);
  const buttons = sent.request.template.components.filter((c) => c.type === "button");
  assert.deepEqual(buttons.map((b) => [b.index, b.parameters[0].payload]),
    [["0", `CONFIRM:${recorded.id}`], ["1", `OPTOUT:${recorded.id}`]], "Confirm, then Stop");
  await sleep(1000);
  assert.equal((await simMessages(phone)).length, 1, "nothing but the request reaches a person who has not confirmed");
  assert.equal((await stats(site)).double_opt_in.pending, 1);

  // The tap, delivered twice with the same message id (Meta redelivers).
  const tap = inboundWebhook(site.pnid, {
    from: phone.slice(1), id: `wamid.TAP${randomBytes(6).toString("hex")}`, type: "button",
    button: { payload: `CONFIRM:${recorded.id}`, text: "Confirm" },
  });
  for (let i = 0; i < 2; i++) assert.equal((await postWebhook(tap, signWebhook(tap))).status, 200);

  const confirmed = await viewUntil(site, phone, (v) => v.events.length === 2, "confirm event");
  const [grant, confirm] = confirmed.events;
  assert.equal(confirm.kind, "confirm");
  assert.equal(confirm.prev_hash, grant.hash, "the confirmation is chained to the grant");
  assert.equal(confirm.evidence.confirms, recorded.id);
  assert.equal(confirm.evidence.method, "quick_reply");
  assert.equal(confirm.evidence.inbound_message_id, JSON.parse(tap).entry[0].changes[0].value.messages[0].id);
  assert.deepEqual(confirm.categories.sort(), ["delivery", "order_updates"]);
  assert.deepEqual(confirmed.state.map((s) => s.status), ["granted", "granted"]);
  assert.equal(confirmed.status, "active");
  assert.equal(confirmed.double_opt_in[0].status, "confirmed");
  assert.equal(confirmed.double_opt_in[0].resolved_by, confirm.id);

  const reply = await eventually(async () => (await replies(phone))[0]);
  assert.match(reply?.text ?? "", /^Thank you, confirmed! Toko Acme .*Reply STOP/);
  await sleep(PAIR_GAP + 1000); // a second answer would have gone out by now
  assert.equal((await view(site, phone)).events.length, 2, "the replayed tap recorded nothing more");
  assert.equal((await replies(phone)).length, 1, "and was answered once");
  const s = await stats(site);
  assert.deepEqual([s.double_opt_in.pending, s.double_opt_in.confirmed], [0, 1]);
  const verify = await (await admin(`${site.id}/verify`)).json();
  assert.deepEqual([verify.ok, verify.events], [true, 2]);
});

for (const [locale, word, answer] of [
  ["da", "Ja", /^Tak, bekræftet! Toko Acme .*AFMELD/],
  ["tr", "EVET", /^Teşekkürler, onaylandı! Toko Acme .*DUR/],
  ["de", "bestätigen", /^Danke, bestätigt! Toko Acme .*STOPP/],
]) {
  test(`replying "${word}" confirms a ${locale} consent and is answered in ${locale}`, async () => {
    const site = await doiSite();
    const phone = freshPhone().e164;
    const { id } = await consent(site, phone, { locale, categories: ["delivery"] });
    const sent = await request(phone);
    assert.equal(sent.template.language, locale, "the request goes out in their language");
    const inbound = await say(site, phone, { text: word });
    const v = await viewUntil(site, phone, (b) => b.events.length === 2, "confirm event");
    assert.equal(v.events[1].kind, "confirm");
    assert.equal(v.events[1].evidence.method, "keyword");
    assert.equal(v.events[1].evidence.said, word);
    assert.equal(v.events[1].evidence.confirms, id);
    assert.equal(v.events[1].evidence.inbound_message_id, inbound);
    assert.deepEqual(v.state.map((s) => s.status), ["granted"]);
    const reply = await eventually(async () => (await replies(phone))[0]);
    assert.match(reply?.text ?? "", answer);
  });
}

test("unconfirmed, the consent expires: the alarm records it, and a late Confirm records nothing", async () => {
  const site = await doiSite(1);
  const phone = freshPhone().e164;
  const { id, pending_until } = await consent(site, phone);
  assert.ok(pending_until - Date.now() <= HOUR_MS, "expires after one (test) hour");
  await request(phone);

  // The export does not look at expiry itself: the expire event there is the alarm's.
  const exported = await eventually(async () => {
    const lines = (await (await admin(`${site.id}/export?format=ndjson`)).text()).trim().split("\n").map((l) => JSON.parse(l));
    return lines.length === 2 && lines;
  }, HOUR_MS + 10_000);
  assert.ok(exported, "an expire event was recorded without anyone asking");
  const expire = exported[1];
  assert.equal(expire.kind, "expire");
  assert.equal(expire.evidence.consent_id, id);
  assert.equal(expire.prev_hash, exported[0].hash);
  assert.ok(expire.server_ts >= pending_until, "not before its time");
  assert.deepEqual(expire.categories.sort(), ["delivery", "order_updates"]);

  const v = await view(site, phone);
  assert.deepEqual(v.state.map((s) => s.status), ["expired", "expired"]);
  assert.equal(v.status, "expired");
  assert.equal(v.double_opt_in[0].status, "expired");
  assert.equal((await stats(site)).double_opt_in.expired, 1);

  await say(site, phone, { button_payload: `CONFIRM:${id}`, button_text: "Confirm" });
  const reply = await eventually(async () => (await replies(phone))[0]);
  assert.match(reply?.text ?? "", /^There is nothing to confirm/);
  assert.equal((await view(site, phone)).events.length, 2, "a late Confirm grants nothing");
  assert.deepEqual((await view(site, phone)).state.map((s) => s.status), ["expired", "expired"]);
});

test("a request held back by Graph errors until its consent expires is never sent", async () => {
  const site = await doiSite(1);
  const phone = freshPhone().e164;
  await fetch(`${SIM}/_sim/faults`, { method: "DELETE" });
  await fetch(`${SIM}/_sim/faults`, { method: "POST", body: JSON.stringify({ code: 131049, count: 1, to: phone }) });
  await consent(site, phone);
  const held = await viewUntil(site, phone, (v) => v.confirmations[0]?.attempts === 1, "first attempt refused");
  assert.equal(held.confirmations[0].status, "pending", "held back: Meta asks to retry much later");
  const v = await viewUntil(site, phone, (b) => b.confirmations[0].status === "suppressed", "suppressed at expiry",
    HOUR_MS + 10_000);
  assert.match(v.confirmations[0].last_error, /expired/);
  assert.deepEqual(v.events.map((e) => e.kind), ["grant", "expire"]);
  assert.equal((await simMessages(phone)).filter((m) => m.status === "accepted").length, 0, "nothing reached them");
});

test("Confirm for someone else's, an unknown or an opted-out consent does nothing and says so", async () => {
  const site = await doiSite();
  const [alice, mallory] = [freshPhone().e164, freshPhone().e164];
  const a = await consent(site, alice);
  await consent(site, mallory);
  await request(alice);
  await request(mallory);

  await say(site, mallory, { button_payload: `CONFIRM:${a.id}`, button_text: "Confirm" });
  await say(site, mallory, { button_payload: "CONFIRM:0190aaaa-0000-7000-8000-000000000000", button_text: "Confirm" });
  const answers = await eventually(async () => { const r = await replies(mallory); return r.length === 2 && r; });
  assert.ok(answers, "both taps were answered");
  for (const r of answers) assert.match(r.text, /^There is nothing to confirm/);
  for (const phone of [alice, mallory]) {
    const v = await view(site, phone);
    assert.deepEqual(v.events.map((e) => e.kind), ["grant"], "no one was confirmed");
    assert.deepEqual(v.state.map((s) => s.status), ["pending", "pending"]);
  }

  // STOP while pending withdraws what waited; a Confirm after it grants nothing.
  await say(site, alice, { text: "STOP" });
  const out = await viewUntil(site, alice, (v) => v.events.length === 2, "withdraw");
  assert.equal(out.events[1].kind, "withdraw");
  assert.deepEqual(out.state.map((s) => s.status), ["withdrawn", "withdrawn"]);
  assert.equal(out.double_opt_in[0].status, "withdrawn");
  assert.equal(out.status, "withdrawn");
  await say(site, alice, { button_payload: `CONFIRM:${a.id}`, button_text: "Confirm" });
  assert.ok(await eventually(async () => (await replies(alice)).some((r) => /^There is nothing to confirm/.test(r.text))));
  assert.equal((await view(site, alice)).events.length, 2);
});

test("the preference link of a pending consent cannot grant; only opting out works", async () => {
  const site = await doiSite();
  const phone = freshPhone().e164;
  const { preferences_token } = await consent(site, phone);
  const put = await fetch(`${BASE}/v1/preferences/${preferences_token}`, {
    method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ categories: ["delivery"] }),
  });
  assert.equal(put.status, 200);
  assert.deepEqual((await put.json()).categories.filter((c) => c.granted), [], "nothing granted without the confirmation");
  assert.deepEqual((await view(site, phone)).state.map((s) => s.status), ["pending", "pending"]);
  const optOut = await fetch(`${BASE}/v1/preferences/${preferences_token}/opt-out`, { method: "POST" });
  assert.equal(optOut.status, 200);
  const v = await view(site, phone);
  assert.deepEqual(v.state.map((s) => s.status), ["withdrawn", "withdrawn"]);
  assert.equal(v.double_opt_in[0].status, "withdrawn");
});

test("double_opt_in is validated", async () => {
  const { id } = await doiSite();
  const config = await (await admin(id)).json();
  for (const [doi, field] of [
    [{ enabled: true, expiry_hours: 0 }, "double_opt_in.expiry_hours"],
    [{ enabled: true, template_name: "Not A Name" }, "double_opt_in.template_name"],
  ]) {
    const res = await admin(id, { method: "PUT", body: JSON.stringify({ ...config, double_opt_in: doi }) });
    assert.equal(res.status, 422);
    assert.equal((await res.json()).field, field);
  }
  const typo = await admin(id, { method: "PUT", body: JSON.stringify({ ...config, double_opt_in: { enable: true } }) });
  assert.equal(typo.status, 422, "an unknown setting is refused, not ignored");
  assert.equal((await typo.json()).field, "enable");
});
