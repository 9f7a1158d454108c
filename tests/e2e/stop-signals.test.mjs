// Every way a person says stop reaches the ledger: WhatsApp's own marketing
// opt-out (webhook field user_preferences), send error 131050, taps on buttons
// whose payload is plain text, what people type in each language, a batch in
// which another item has an unexpected shape, and a number that changed hands.
// Real Worker, real simulator (Meta-shaped, signed webhooks), redeliveries by
// the simulator's own /_sim/redeliver (same bytes, same ids).
import { test } from "node:test";
import assert from "node:assert/strict";
import { BASE, SIM, SHOP, freshPhone, subscriber, simMessages, eventually, sleep, signWebhook, postWebhook, viewUntil } from "./support.mjs";

const DEMO_PNID = "100000000000001";
const DELIVERED = ["sent", "delivered", "read"];
const PAIR_GAP_MS = Number(process.env.OUTBOX_PAIR_GAP_MS ?? 1500);
const NOTICES = {
  en: "I agree to receive the messages I select below from Toko Acme on WhatsApp. I can stop at any time by replying STOP.",
  id: "Saya setuju menerima pesan yang saya pilih di bawah dari Toko Acme melalui WhatsApp. Saya dapat berhenti kapan saja dengan membalas BERHENTI.",
  "pt-BR": "Concordo em receber de Toko Acme no WhatsApp as mensagens que seleciono abaixo. Posso cancelar a qualquer momento respondendo PARAR.",
};

async function consent(phone, locale = "en") {
  const res = await fetch(`${BASE}/v1/sites/demo/consents`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: SHOP },
    body: JSON.stringify({ phone, categories: ["delivery", "order_updates"], locale, notice_version: 1, notice_text: NOTICES[locale], surface: "modal" }),
  });
  assert.equal(res.status, 201, await res.clone().text());
  return res.json();
}

const sim = async (method, path, body) => {
  const res = await fetch(`${SIM}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: res.status === 204 ? null : await res.json() };
};


/** A person does something in WhatsApp; answers the simulator's delivery. */
async function act(phone, spec) {
  const res = await sim("POST", "/_sim/inbound", { from: phone, phone_number_id: DEMO_PNID, ...spec });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.delivery.http_status, 200, "the Worker answered the signed webhook 200");
  return res.body.delivery;
}

async function subscribed(phone, locale) {
  await consent(phone, locale);
  return viewUntil(phone, (v) => DELIVERED.includes(v.confirmations[0]?.status), "confirmation sent");
}

const withdrawn = (phone, what) =>
  viewUntil(phone, (v) => v.events.at(-1).kind === "withdraw" && v.state.every((s) => s.status === "withdrawn"), what);

test("the issue's batch: a reaction, a failed status without `code` and a STOP in one delivery — 200, and the STOP is honoured once", async () => {
  const phone = freshPhone().e164;
  const before = await subscribed(phone);
  const wa = phone.slice(1);
  const value = (extra) => ({ messaging_product: "whatsapp", metadata: { display_phone_number: "15550000000", phone_number_id: DEMO_PNID }, ...extra });
  const ts = String(Math.floor(Date.now() / 1000));
  const stopId = `wamid.STOPBATCH${Date.now()}`;
  const body = JSON.stringify({
    object: "whatsapp_business_account",
    entry: [{ id: "102290129340398", changes: [
      { field: "messages", value: value({ statuses: [{ id: before.confirmations[0].wamid, status: "failed", timestamp: ts, recipient_id: wa,
        errors: [{ title: "Message failed", message: "Message failed", error_data: { details: "no code given" } }] }] }) },
      { field: "messages", value: value({ contacts: [{ profile: { name: "Sari" }, wa_id: wa }], messages: [
        { from: wa, id: `wamid.REACT${Date.now()}`, timestamp: ts, type: "reaction", reaction: { message_id: before.confirmations[0].wamid, emoji: "👍" } },
        { from: wa, id: stopId, timestamp: ts, type: "text", text: { body: "STOP" } },
      ] }) },
    ] }],
  });
  const res = await postWebhook(body, signWebhook(body));
  assert.equal(res.status, 200, await res.clone().text());
  const view = await withdrawn(phone, "the STOP in the batch withdrew everything");
  assert.equal(view.events.at(-1).evidence.inbound_message_id, stopId);
  // Meta redelivers the same bytes when it doubts the first answer: still 200, nothing more.
  const again = await postWebhook(body, signWebhook(body));
  assert.equal(again.status, 200);
  const after = (await subscriber(phone)).body;
  assert.equal(after.events.length, view.events.length, "the redelivery recorded nothing");
  assert.equal(after.confirmations.filter((c) => c.kind === "text").length, 1, "one reply queued");
});

test("a delivery whose items all have unexpected shapes is still answered 200", async () => {
  const body = JSON.stringify({ object: "whatsapp_business_account", entry: [
    { id: "1", changes: [{ field: "messages", value: { messaging_product: "whatsapp" } }, { field: "account_update", value: { x: 1 } }] },
    { id: "2" },
  ] });
  const res = await postWebhook(body, signWebhook(body));
  assert.equal(res.status, 200);
  assert.equal((await res.json()).skipped, 2, "what could not be read is counted");
});

test("WhatsApp's own marketing opt-out (user_preferences stop) is a chained event; its redelivery records nothing", async () => {
  const phone = freshPhone().e164;
  await subscribed(phone);
  const delivery = await act(phone, { preference: "stop" });
  assert.equal(delivery.payload.entry[0].changes[0].field, "user_preferences");
  const view = await viewUntil(phone, (v) => v.events.at(-1).kind === "marketing_preference", "marketing preference recorded");
  const event = view.events.at(-1);
  assert.equal(event.evidence.source, "whatsapp_user_preferences");
  assert.equal(event.evidence.category, "marketing_messages");
  assert.equal(event.evidence.value, "stop");
  assert.equal(event.prev_hash, view.events.at(-2).hash, "chained");
  assert.deepEqual(event.categories, [], "no category of the site is marketing yet: recorded, applied to none");
  const again = await sim("POST", "/_sim/redeliver", { seq: delivery.seq });
  assert.equal(again.body.delivery.http_status, 200);
  assert.equal((await subscriber(phone)).body.events.length, view.events.length, "the redelivery recorded nothing");
  await act(phone, { preference: "resume" });
  const resumed = await viewUntil(phone, (v) => v.events.at(-1).evidence?.value === "resume", "resume recorded");
  assert.equal(resumed.events.at(-1).kind, "marketing_preference");
});

test("send error 131050 is recorded as the person's marketing stop, and not retried", async () => {
  const phone = freshPhone().e164;
  assert.equal((await sim("POST", "/_sim/faults", { code: 131050, count: 1, to: phone })).status, 200);
  await consent(phone);
  const view = await viewUntil(phone, (v) => v.events.some((e) => e.kind === "marketing_preference"), "131050 recorded");
  const event = view.events.find((e) => e.kind === "marketing_preference");
  assert.equal(event.evidence.source, "send_error");
  assert.equal(event.evidence.error_code, 131050);
  const failed = await viewUntil(phone, (v) => v.confirmations[0]?.status === "failed", "failed");
  assert.equal(failed.confirmations[0].attempts, 1);
  await sleep(500);
  assert.equal((await simMessages(phone)).length, 1, "never retried");
});

test("a failed status with 131050 is recorded the same way", async () => {
  const phone = freshPhone().e164;
  await sim("POST", "/_sim/statuses", { statuses: ["sent", "failed"], error_code: 131050 });
  await consent(phone);
  const view = await viewUntil(phone, (v) => v.events.some((e) => e.kind === "marketing_preference"), "131050 status recorded");
  const event = view.events.find((e) => e.kind === "marketing_preference");
  assert.equal(event.evidence.source, "send_error");
  assert.match(event.evidence.wamid, /^wamid\./);
});

for (const [what, spec] of [
  ["Meta's own \"Stop promotions\" button", { button_payload: "Stop promotions", button_text: "Stop promotions" }],
  ["a merchant's \"Unsubscribe\" button", { button_payload: "Unsubscribe", button_text: "Unsubscribe" }],
  ["a \"STOP\" button", { button_payload: "STOP", button_text: "STOP" }],
  ["a button whose payload is the merchant's code but whose label says stop", { button_payload: "BTN_7", button_text: "Berhenti langganan" }],
  ["an interactive reply button titled \"Unsubscribe\"", { interactive_id: "unsub-1", interactive_title: "Unsubscribe" }],
]) {
  test(`a tap on ${what} opts out like the keyword`, async () => {
    const phone = freshPhone().e164;
    await subscribed(phone);
    const delivery = await act(phone, spec);
    const message = delivery.payload.entry[0].changes[0].value.messages[0];
    assert.match(message.context.id, /^wamid\./, "the tap names the message it answers");
    const view = await withdrawn(phone, "withdrawn after the tap");
    assert.equal(view.events.at(-1).evidence.method, "quick_reply");
  });
}

test("a tap on an ordinary button opts nobody out", async () => {
  const phone = freshPhone().e164;
  await subscribed(phone);
  await act(phone, { button_payload: "TRACK_ORDER", button_text: "Track my order" });
  await sleep(500);
  const view = (await subscriber(phone)).body;
  assert.equal(view.events.length, 1);
  assert.ok(view.state.every((s) => s.status === "granted"));
});

for (const [locale, text] of [["pt-BR", "PARE"], ["id", "berhenti langganan"], ["en", "Abbestellen"], ["en", "¡Darme de BAJA! 🙏"], ["en", "Unsubscribe me"], ["id", "Abonelikten çık"]]) {
  test(`"${text}" opts out`, async () => {
    const phone = freshPhone().e164;
    await subscribed(phone, locale);
    await act(phone, { text });
    const view = await withdrawn(phone, `withdrawn after ${text}`);
    assert.equal(view.events.at(-1).evidence.method, "keyword");
    const reply = await eventually(async () => (await simMessages(phone)).find((m) => m.text));
    assert.ok(reply, "answered");
    assert.match(reply.request.context?.message_id ?? "", /^wamid\.SIMIN/, "the reply quotes their message");
  });
}

for (const text of ["don't stop my order", "kapan pesanan berhenti di gudang?"]) {
  test(`"${text}" is an ordinary message`, async () => {
    const phone = freshPhone().e164;
    await subscribed(phone, "en");
    await act(phone, { text });
    await sleep(500);
    const view = (await subscriber(phone)).body;
    assert.equal(view.events.length, 1, "nothing recorded");
    assert.ok(view.state.every((s) => s.status === "granted"));
  });
}

test("user_changed_number: the old number's grants end (reason number_changed, naming the new wa_id), its queue is suppressed, the new number holds nothing", async () => {
  const old = freshPhone().e164;
  const next = freshPhone().e164;
  // Held back by Meta once (131049): the confirmation stays queued for later.
  assert.equal((await sim("POST", "/_sim/faults", { code: 131049, count: 1, to: old })).status, 200);
  await consent(old);
  await viewUntil(old, (v) => v.confirmations[0]?.attempts === 1 && v.confirmations[0].status === "pending", "queued for a retry");
  const delivery = await act(old, { system_new_wa_id: next.slice(1) });
  const value = delivery.payload.entry[0].changes[0].value;
  assert.equal(value.contacts, undefined, "system messages carry no contacts");
  const view = await withdrawn(old, "the old number's grants withdrawn");
  const event = view.events.at(-1);
  assert.equal(event.evidence.reason, "number_changed");
  assert.equal(event.evidence.new_wa_id, next.slice(1));
  assert.equal(event.prev_hash, view.events.at(-2).hash, "chained");
  assert.equal(view.status, "withdrawn", "the lookup shows it at a glance");
  assert.equal(view.confirmations[0].status, "suppressed", "nothing queued goes to the old number");
  assert.equal((await subscriber(next)).status, 404, "the new number is not subscribed without its own consent");
  await sleep(PAIR_GAP_MS);
  assert.equal((await simMessages(old)).filter((m) => m.text).length, 0, "no reply to a number that is no longer theirs");
});

test("the simulator's webhooks are Meta's shapes: contacts with wa_id and profile name, pricing and conversation on statuses", async () => {
  const phone = freshPhone().e164;
  const view = await subscribed(phone);
  const status = await eventually(async () =>
    (await sim("GET", "/_sim/webhooks")).body.webhooks.find((h) => h.kind === "status" && h.wamid === view.confirmations[0].wamid));
  assert.ok(status, "a status webhook for the confirmation");
  const value = status.payload.entry[0].changes[0].value;
  assert.equal(value.messages, undefined, "statuses come without messages");
  assert.equal(value.statuses[0].pricing.category, "utility");
  assert.equal(value.statuses[0].pricing.pricing_model, "PMP");
  assert.equal(value.statuses[0].conversation.origin.type, "utility");
  const delivery = await act(phone, { text: "hello", name: "Sari" });
  const inbound = delivery.payload.entry[0].changes[0].value;
  assert.deepEqual(inbound.contacts, [{ profile: { name: "Sari" }, wa_id: phone.slice(1) }]);
  assert.equal(inbound.statuses, undefined);
});
