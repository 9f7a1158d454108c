// WhatsApp webhooks end to end: Meta's verification, signed status updates from
// the simulator, a person's STOP / START / HELP / opt-out button, and what the
// outbox does with each Graph error of PRODUCT.md's table.
import { test } from "node:test";
import assert from "node:assert/strict";
import { BASE, SIM, ADMIN_TOKEN, freshPhone, subscriber, simMessages, eventually, sleep, signWebhook as sign, postWebhook, SHOP, viewUntil } from "./support.mjs";

const VERIFY_TOKEN = process.env.WEBHOOK_VERIFY_TOKEN ?? "dev-verify-token";
const DEMO_PNID = "100000000000001";
const NOTICES = {
  en: "I agree to receive the messages I select below from Toko Acme on WhatsApp. I can stop at any time by replying STOP.",
  id: "Saya setuju menerima pesan yang saya pilih di bawah dari Toko Acme melalui WhatsApp. Saya dapat berhenti kapan saja dengan membalas BERHENTI.",
  "pt-BR": "Concordo em receber de Toko Acme no WhatsApp as mensagens que seleciono abaixo. Posso cancelar a qualquer momento respondendo PARAR.",
};
const DELIVERED = ["sent", "delivered", "read"];
// scripts/dev sets OUTBOX_PAIR_GAP_MS small (Meta's pair limit is about 6 s; the default).
const PAIR_GAP_MS = Number(process.env.OUTBOX_PAIR_GAP_MS ?? 1500);

async function consent(phone, { locale = "en", categories = ["delivery", "order_updates"] } = {}) {
  const res = await fetch(`${BASE}/v1/sites/demo/consents`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: SHOP },
    body: JSON.stringify({
      phone, categories, locale, notice_version: 1, notice_text: NOTICES[locale], surface: "modal",
    }),
  });
  assert.equal(res.status, 201, await res.clone().text());
  return res.json();
}

const sim = (method, path, body) =>
  fetch(`${SIM}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });


/** A person writes to the business; the simulator delivers it as a signed webhook. */
async function say(phone, message) {
  const res = await sim("POST", "/_sim/inbound", { from: phone, ...message });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(body.delivery.http_status, 200, "the Worker accepted the signed webhook");
  return body.id;
}

const replies = async (phone) => (await simMessages(phone)).filter((m) => m.text);

function statusWebhook(wamid, status, callback) {
  return JSON.stringify({
    object: "whatsapp_business_account",
    entry: [{ id: "1", changes: [{ field: "messages", value: {
      messaging_product: "whatsapp",
      metadata: { display_phone_number: "15550000000", phone_number_id: DEMO_PNID },
      statuses: [{ id: wamid, status, timestamp: "1700000000", recipient_id: "62", biz_opaque_callback_data: callback }],
    } }] }],
  });
}


test("GET verification echoes the challenge only for the right token", async () => {
  const verify = (q) => fetch(`${BASE}/webhooks/whatsapp?${new URLSearchParams(q)}`);
  const ok = await verify({ "hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444" });
  assert.equal(ok.status, 200);
  assert.match(ok.headers.get("content-type"), /^text\/plain/);
  assert.equal(await ok.text(), "1158201444");
  for (const [q, status, slug] of [
    [{ "hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1" }, 403, "verification-failed"],
    [{ "hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1" }, 403, "verification-failed"],
    [{ "hub.challenge": "1" }, 403, "verification-failed"],
    [{ "hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN }, 400, "invalid-query"],
    [{ "hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "<script>" }, 400, "invalid-query"],
  ]) {
    const res = await verify(q);
    assert.equal(res.status, status, JSON.stringify(q));
    assert.equal(res.headers.get("content-type"), "application/problem+json");
    assert.equal((await res.json()).type, `/problems/${slug}`);
  }
});

test("a status webhook with a bad or missing signature is refused and changes nothing", async () => {
  const phone = freshPhone().e164;
  await sim("POST", "/_sim/statuses", { statuses: [] }); // this send gets no status webhooks
  const { id } = await consent(phone);
  const sent = await viewUntil(phone, (v) => v.confirmations[0]?.status === "sent", "confirmation sent");
  const body = statusWebhook(sent.confirmations[0].wamid, "read", id);
  for (const signature of [undefined, "", sign(body, "not-the-secret"), sign(body).slice(0, 40), "sha1=abc"]) {
    const res = await postWebhook(body, signature);
    assert.equal(res.status, 401, String(signature));
    assert.equal((await res.json()).type, "/problems/invalid-signature");
  }
  const tampered = await postWebhook(body.replace("read", "sent"), sign(body));
  assert.equal(tampered.status, 401, "the signature covers the exact body");
  const after = await subscriber(phone);
  assert.equal(after.body.confirmations[0].status, "sent", "nothing was processed");
  assert.deepEqual(after.body.confirmations[0].statuses, []);

  const good = await postWebhook(body, sign(body));
  assert.equal(good.status, 200, "the same body, correctly signed, is accepted");
  await viewUntil(phone, (v) => v.confirmations[0].status === "read", "read after a signed webhook");
  const malformed = "{\"object\":";
  assert.equal((await postWebhook(malformed, sign(malformed))).status, 400, "signed but malformed JSON is a 400");
});

test("a consent is sent, and the simulator's status webhooks show it delivered and read", async () => {
  const phone = freshPhone().e164;
  const { id } = await consent(phone);
  const view = await viewUntil(phone, (v) => v.confirmations[0]?.status === "read", "confirmation read");
  const [c] = view.confirmations;
  assert.equal(c.consent_id, id);
  assert.deepEqual(c.statuses.map((s) => s.status), ["sent", "delivered", "read"]);
  const [msg] = await simMessages(phone);
  assert.equal(c.wamid, msg.wamid);
});

test("duplicate and out-of-order statuses never move a confirmation backwards", async () => {
  const phone = freshPhone().e164;
  await sim("POST", "/_sim/statuses", { statuses: ["read", "delivered", "sent", "read", "delivered", "sent"] });
  await consent(phone);
  const done = await eventually(async () => {
    const hooks = (await (await sim("GET", "/_sim/webhooks")).json()).webhooks;
    const [msg] = await simMessages(phone);
    return msg && hooks.filter((h) => h.wamid === msg.wamid).length === 6;
  });
  assert.ok(done, "all six status webhooks were delivered");
  const { body } = await subscriber(phone);
  const [c] = body.confirmations;
  assert.equal(c.status, "read", "read stays read after late delivered/sent");
  assert.deepEqual(c.statuses.map((s) => s.status), ["read", "delivered", "sent"], "duplicates are ignored");
});

test("a failed status records its error code", async () => {
  const phone = freshPhone().e164;
  await sim("POST", "/_sim/statuses", { statuses: ["sent", "failed", "delivered"], error_code: 131026 });
  await consent(phone);
  const view = await viewUntil(phone, (v) => v.confirmations[0]?.statuses.length === 3, "three statuses");
  const [c] = view.confirmations;
  assert.equal(c.status, "failed");
  assert.match(c.last_error, /^131026 /);
  assert.equal(c.statuses.find((s) => s.status === "failed").error_code, 131026);
});

async function optOutCase(locale, message, replyPattern, method = "keyword") {
  const phone = freshPhone().e164;
  await consent(phone, { locale });
  await viewUntil(phone, (v) => DELIVERED.includes(v.confirmations[0]?.status), "confirmation sent");
  const inbound = await say(phone, typeof message === "function" ? message((await subscriber(phone)).body) : message);
  const view = await viewUntil(phone, (v) => v.events.at(-1).kind === "withdraw", "withdraw event");
  const withdraw = view.events.at(-1);
  assert.deepEqual([...withdraw.categories].sort(), ["delivery", "order_updates"], "all categories at once");
  assert.equal(withdraw.evidence.source, "in_thread");
  assert.equal(withdraw.evidence.method, method);
  assert.equal(withdraw.evidence.inbound_message_id, inbound);
  assert.equal(withdraw.prev_hash, view.events.at(-2).hash, "the withdrawal is chained");
  assert.deepEqual(view.state.map((s) => s.status), ["withdrawn", "withdrawn"]);
  const reply = await eventually(async () => (await replies(phone))[0]);
  assert.ok(reply, "a reply was sent");
  assert.match(reply.text, replyPattern);
  assert.match(reply.text, /Toko Acme/);
  return phone;
}

test("STOP withdraws everything and is answered in English", () =>
  optOutCase("en", { text: "STOP" }, /unsubscribed.*reply START/));

test("BERHENTI from an Indonesian subscriber is answered in Indonesian", () =>
  optOutCase("id", { text: "berhenti" }, /berhenti berlangganan.*balas MULAI/));

test("\"Parar\" (any case, accents ignored) from a Portuguese subscriber", () =>
  optOutCase("pt-BR", { text: " Párar! " }, /Inscrição cancelada.*VOLTAR/));

test("the template's opt-out button withdraws everything", () =>
  optOutCase("en", (view) => ({ button_payload: `OPTOUT:${view.events[0].id}` }), /unsubscribed/, "quick_reply"));

test("a redelivered STOP (the same bytes, the same ids) records nothing and queues no second reply", async () => {
  const phone = freshPhone().e164;
  await consent(phone);
  await viewUntil(phone, (v) => DELIVERED.includes(v.confirmations[0]?.status), "confirmation sent");
  const res = await sim("POST", "/_sim/inbound", { from: phone, text: "STOP" });
  const first = (await res.json()).delivery;
  assert.equal(first.http_status, 200);
  await viewUntil(phone, (v) => v.events.length === 2, "withdraw");
  const again = (await (await sim("POST", "/_sim/redeliver", { seq: first.seq })).json()).delivery;
  assert.equal(again.http_status, 200, "a redelivery is answered 200");
  assert.equal(again.redelivery_of, first.seq);
  assert.deepEqual(again.payload, first.payload, "Meta redelivers the same bytes with the same ids");
  // The outbox does not wait on the pair gap: one reply row, whatever its send state.
  const view = (await subscriber(phone)).body;
  assert.equal(view.events.length, 2, "no second withdraw");
  assert.equal(view.confirmations.filter((c) => c.kind === "text").length, 1, "one reply queued, not two");
  // And once the pair gap has passed twice over, the person got exactly one reply.
  const sent = await eventually(async () => (await replies(phone)).length >= 1);
  assert.ok(sent, "the reply went out");
  await sleep(2 * PAIR_GAP_MS + 500);
  assert.equal((await replies(phone)).length, 1, "exactly one reply reached them");
});

test("after STOP nothing more is sent; a new consent is a fresh opt-in; START re-subscribes", async () => {
  const phone = freshPhone().e164;
  await consent(phone, { categories: ["delivery"] });
  await viewUntil(phone, (v) => DELIVERED.includes(v.confirmations[0]?.status), "confirmation sent");
  await say(phone, { text: "STOP" });
  await viewUntil(phone, (v) => v.state[0]?.status === "withdrawn", "withdrawn");

  await say(phone, { text: "START" });
  const back = await viewUntil(phone, (v) => v.events.length === 3, "re-grant");
  const grant = back.events[2];
  assert.equal(grant.kind, "grant");
  assert.equal(grant.evidence.source, "in_thread");
  assert.deepEqual(grant.categories, ["delivery"], "the categories they had before");
  assert.deepEqual(back.state.map((s) => s.status), ["granted"]);
  assert.ok(await eventually(async () => (await replies(phone)).some((r) => /Welcome back/.test(r.text))), "welcome back reply");

  await say(phone, { text: "HELP" });
  const help = await eventually(async () => (await replies(phone)).find((r) => /Reply STOP/.test(r.text) && /START/.test(r.text) && !/Welcome/.test(r.text)));
  assert.ok(help, "HELP gets the help text");
  assert.equal((await subscriber(phone)).body.events.length, 3, "HELP changes no consent");

  await say(phone, { text: "STOP" });
  await viewUntil(phone, (v) => v.events.length === 4, "withdrawn again");
  const templates = (await simMessages(phone)).filter((m) => m.template).length;
  await consent(phone, { categories: ["order_updates"] });
  const fresh = await viewUntil(phone, (v) => v.events.length === 5, "fresh consent");
  assert.equal(fresh.events[4].kind, "grant", "a fresh opt-in after STOP is recorded");
  const suppressed = await viewUntil(phone, (v) => v.confirmations.some((c) => c.status === "suppressed"), "cooldown");
  assert.match(suppressed.confirmations.find((c) => c.status === "suppressed").last_error, /cooldown/);
  await sleep(500);
  assert.equal((await simMessages(phone)).filter((m) => m.template).length, templates,
    "but someone who just said STOP gets no template inside the resend cooldown");
});

// One row per code of PRODUCT.md's error table: [code, attempts, final status].
const ERROR_TABLE = [
  ...[130429, 131056, 4, 80007, 1, 2, 131000, 131016, 131057].map((c) => [c, 2, "sent"]),
  ...[131050, 131026, 131047, 132000, 132001, 132012, 132018, 100].map((c) => [c, 1, "failed"]),
];
// PRODUCT.md's "halt, alert" rows: the site's sending is held, not just that row.
const HALT_CODES = [131048, 190, 0, 10, 200, 299, 368, 131031, 131042];

for (const [code, attempts, final] of ERROR_TABLE) {
  test(`Graph error ${code}: ${attempts} attempt(s), then ${final}`, async () => {
    const phone = freshPhone().e164;
    await sim("DELETE", "/_sim/faults");
    // For this phone only: a retry of an earlier test's send must not take it.
    assert.equal((await sim("POST", "/_sim/faults", { code, count: 1, to: phone })).status, 200);
    await consent(phone);
    const ok = (s) => (final === "sent" ? DELIVERED.includes(s) : s === final);
    const view = await viewUntil(phone, (v) => ok(v.confirmations[0]?.status), `status ${final}`);
    const [c] = view.confirmations;
    assert.equal(c.attempts, attempts);
    const calls = await simMessages(phone);
    assert.equal(calls.length, attempts, "the simulator saw exactly that many calls");
    assert.equal(calls[0].error_code, code);
    if (final === "failed") assert.match(c.last_error, new RegExp(`^${code} `));
  });
}

const adminFetch = (path, init = {}) =>
  fetch(`${BASE}/admin/sites/${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
const stats = async () => (await adminFetch("demo/stats")).json();

for (const code of HALT_CODES) {
  test(`Graph error ${code}: the site's sending halts, later confirmations wait, resume sends them`, async () => {
    const [first, second] = [freshPhone().e164, freshPhone().e164];
    await sim("DELETE", "/_sim/faults");
    assert.equal((await sim("POST", "/_sim/faults", { code, count: 1, to: first })).status, 200);
    try {
      await consent(first);
      const held = await viewUntil(first, (v) => v.confirmations[0]?.attempts === 1, "first attempt");
      assert.equal(held.confirmations[0].status, "pending", "held, not failed: it goes out after resume");
      assert.match(held.confirmations[0].last_error, new RegExp(`^${code} `));
      const halted = await stats();
      assert.equal(halted.sending.halted, true, "stats show the halt");
      assert.match(halted.sending.reason, new RegExp(`^${code} `));

      await consent(second);
      await sleep(800);
      assert.equal((await simMessages(second)).length, 0, "no later confirmation is attempted while halted");
      assert.equal((await subscriber(second)).body.confirmations[0].status, "pending");
      assert.equal((await simMessages(first)).length, 1, "nor is the held one retried");
    } finally {
      const resumed = await adminFetch("demo/resume-sending", { method: "POST" });
      assert.equal(resumed.status, 200);
      const body = await resumed.json();
      assert.equal(body.sending.halted, false);
      assert.match(body.resumed[0]?.reason ?? "", new RegExp(`^${code} `), "it says what it lifted");
    }
    for (const phone of [first, second]) {
      await viewUntil(phone, (v) => DELIVERED.includes(v.confirmations[0]?.status), "sent after resume");
      assert.equal((await simMessages(phone)).filter((m) => m.status === "accepted").length, 1, "exactly once");
    }
    assert.equal((await stats()).sending.halted, false);
  });
}

test("resume-sending: only POST, only with the admin token, and a no-op when not halted", async () => {
  const noToken = await fetch(`${BASE}/admin/sites/demo/resume-sending`, { method: "POST" });
  assert.equal(noToken.status, 401);
  const get = await adminFetch("demo/resume-sending");
  assert.equal(get.status, 405);
  assert.equal(get.headers.get("allow"), "POST");
  assert.match(get.headers.get("content-type"), /problem\+json/);
  const unknown = await adminFetch("no-such-site-x/resume-sending", { method: "POST" });
  assert.equal(unknown.status, 404);
  const idle = await adminFetch("demo/resume-sending", { method: "POST" });
  assert.equal(idle.status, 200);
  assert.deepEqual(await idle.json(), { sending: { halted: false }, resumed: [] });
});

test("Graph error 131049: retried much later, and suppressed when the person opts out first", async () => {
  const phone = freshPhone().e164;
  await sim("DELETE", "/_sim/faults");
  await sim("POST", "/_sim/faults", { code: 131049, count: 1, to: phone });
  await consent(phone);
  const waiting = await viewUntil(phone, (v) => v.confirmations[0]?.attempts === 1, "first attempt");
  assert.equal(waiting.confirmations[0].status, "pending", "held back, not given up");
  assert.match(waiting.confirmations[0].last_error, /^131049 /);
  await sleep(500);
  assert.equal((await simMessages(phone)).length, 1, "not retried soon");
  // The person opts out meanwhile (they can write in; the failed template never reached them).
  await say(phone, { text: "STOP", phone_number_id: DEMO_PNID });
  const after = await viewUntil(phone, (v) => v.confirmations[0].status === "suppressed", "suppressed");
  assert.equal(after.confirmations[0].attempts, 1);
});


test("pair limit: a STOP right after the confirmation is honoured at once, its reply waits the pair gap", async () => {
  const phone = freshPhone().e164;
  await consent(phone, { categories: ["delivery"] });
  const confirmation = await eventually(async () => (await simMessages(phone)).find((m) => m.template && m.status === "accepted"));
  assert.ok(confirmation, "the confirmation went out");
  await say(phone, { text: "STOP" });
  assert.equal((await subscriber(phone)).body.state[0].status, "withdrawn", "the withdrawal does not wait");
  const reply = await eventually(async () => (await replies(phone))[0]);
  assert.ok(reply, "the STOP reply went out");
  const gap = reply.received_at_ms - confirmation.received_at_ms;
  assert.ok(gap >= PAIR_GAP_MS, `reply ${gap} ms after the confirmation; the pair gap is ${PAIR_GAP_MS} ms`);
  assert.equal((await simMessages(phone)).length, 2, "each sent once");
});
