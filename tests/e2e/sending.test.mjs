// The merchant's own sends through the Worker: a scoped API key, the send API
// deciding by what the person chose (category, pause, frequency, the 24-hour
// window), the permission check by the same rule, a queued message that never
// leaves once the person withdraws, and bad input refused with nothing queued.
// Real Worker (wrangler dev), real simulator over HTTP; the person's choices are
// made where people make them (the consent API, the preference API, WhatsApp).
import { test } from "node:test";
import assert from "node:assert/strict";
import { BASE, SIM, SHOP, admin, freshPhone, simMessages, eventually, sleep, viewUntil, newSite, subscriber } from "./support.mjs";

const DEMO_PNID = "100000000000001";
const NOTICE = "I agree to receive the messages I select below from Toko Acme on WhatsApp. I can stop at any time by replying STOP.";
const SENT = ["sent", "delivered", "read"];

async function mintKey(scopes, site = "demo", name = "crm") {
  const res = await admin(`${site}/keys`, { method: "POST", body: JSON.stringify({ name, scopes }) });
  assert.equal(res.status, 201, await res.clone().text());
  const body = await res.json();
  assert.match(body.key, /^wok_[0-9a-f]{16}_[0-9a-f]{64}$/);
  return body;
}

const sendKey = mintKey(["send"], "demo", "order system");

async function optIn(phone, categories = ["order_updates", "delivery", "payment_alerts"]) {
  const res = await fetch(`${BASE}/v1/sites/demo/consents`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: SHOP },
    body: JSON.stringify({ phone, categories, locale: "en", notice_version: 1, notice_text: NOTICE, surface: "modal" }),
  });
  assert.equal(res.status, 201, await res.clone().text());
  const recorded = await res.json();
  await viewUntil(phone, (v) => SENT.includes(v.confirmations[0]?.status), "confirmation sent");
  return recorded;
}

let n = 0;
async function send(body, { key, idem = `k-${Date.now()}-${n++}`, site = "demo" } = {}) {
  const token = key ?? (await sendKey).key;
  const res = await fetch(`${BASE}/v1/sites/${site}/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}`, ...(idem ? { "idempotency-key": idem } : {}) },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

const shipped = (to, category = "delivery", extra = {}) => ({
  to, category,
  template: { name: "order_shipped", components: [{ type: "body", parameters: [{ type: "text", text: "A-1001" }] }] },
  ...extra,
});

async function permissions(phone, key) {
  const res = await fetch(`${BASE}/v1/sites/demo/permissions/${encodeURIComponent(phone)}`, {
    headers: { authorization: `Bearer ${key ?? (await sendKey).key}` },
  });
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()).categories;
}

const prefs = (token, body) =>
  fetch(`${BASE}/v1/preferences/${token}`, { method: "PUT", headers: { "content-type": "application/json", origin: BASE }, body: JSON.stringify(body) });

const templatesTo = async (phone, name = "order_shipped") =>
  (await simMessages(phone)).filter((m) => m.template?.name === name);

test("an order update sent through the API reaches the person once, however often the merchant retries", async () => {
  const phone = freshPhone().e164;
  await optIn(phone);
  const idem = `order-A-1001-${phone}`;
  const first = await send(shipped(phone), { idem });
  assert.equal(first.status, 202, JSON.stringify(first.body));
  assert.equal(first.body.status, "queued");
  const again = await send(shipped(phone), { idem });
  assert.equal(again.status, 202);
  assert.equal(again.body.id, first.body.id, "the retry names the same message");
  assert.equal(again.headers.get("idempotent-replayed"), "true");

  const key = (await sendKey).key;
  const view = await eventually(async () => {
    const res = await fetch(`${BASE}/v1/sites/demo/messages/${first.body.id}`, { headers: { authorization: `Bearer ${key}` } });
    const v = await res.json();
    return SENT.includes(v.status) && v.statuses.length > 0 && v;
  });
  assert.ok(view, "the message was sent and its status webhook recorded");
  assert.equal(view.to, phone);
  assert.equal(view.category, "delivery");
  assert.equal(view.template, "order_shipped");
  assert.equal(view.language, "en", "the person's language, as they opted in");
  assert.ok(view.wamid.startsWith("wamid."));
  await sleep(500);
  const got = await templatesTo(phone);
  assert.equal(got.length, 1, `exactly one order_shipped reached the simulator: ${JSON.stringify(await simMessages(phone))}`);
  const sub = await subscriber(phone);
  assert.deepEqual(sub.body.messages.map((m) => [m.id, m.decision, m.reason]), [[first.body.id, "queued", "subscribed"]]);
  assert.equal(sub.body.confirmations.length, 1, "the confirmation list still holds only our own messages");
});

test("each rule refuses with its own problem, the permission check agrees, and a pause stops what was queued", async () => {
  const phone = freshPhone().e164;
  const { preferences_token: token } = await optIn(phone);

  const never = await send(shipped(phone, "account_updates"));
  assert.equal(never.status, 403);
  assert.equal(never.body.type, "/problems/not-subscribed");
  assert.equal(never.body.subscription_status, "never");
  assert.match(never.body.id, /^[0-9a-f-]{36}$/, "the refusal is kept under an id");

  const text = await send({ to: phone, category: "delivery", text: "Your parcel is at the door" });
  assert.equal(text.status, 422);
  assert.equal(text.body.type, "/problems/outside-window");
  assert.equal(text.body.field, "text");

  assert.equal((await prefs(token, { categories: ["order_updates", "delivery", "payment_alerts"], frequency: "weekly_digest" })).status, 200);
  assert.equal((await send(shipped(phone))).status, 202, "the week's first delivery message goes");
  const second = await send(shipped(phone));
  assert.equal(second.status, 409);
  assert.equal(second.body.type, "/problems/frequency");
  const retryAfter = Number(second.headers.get("retry-after"));
  assert.ok(retryAfter > 6 * 86_400 && retryAfter <= 7 * 86_400, `Retry-After ${retryAfter} s is about a week`);
  assert.equal((await send(shipped(phone, "payment_alerts"))).status, 202, "a critical category is not held back");

  let perms = await permissions(phone);
  assert.deepEqual(
    Object.fromEntries(Object.entries(perms).map(([c, p]) => [c, [p.may_send, p.reason]])),
    {
      order_updates: [true, "subscribed"], delivery: [false, "frequency"], appointment_reminders: [false, "not-subscribed"],
      payment_alerts: [true, "subscribed"], account_updates: [false, "not-subscribed"],
    },
  );
  assert.equal(perms.delivery.next_allowed_at, second.body.next_allowed_at);

  assert.equal((await prefs(token, { categories: ["order_updates", "delivery", "payment_alerts"], frequency: "critical_only" })).status, 200);
  const notCritical = await send(shipped(phone, "order_updates"));
  assert.equal(notCritical.status, 409);
  assert.equal(notCritical.body.type, "/problems/frequency");

  const day = new Date(Date.now() + 3 * 86_400_000).toISOString().slice(0, 10);
  assert.equal((await prefs(token, { categories: ["order_updates", "delivery", "payment_alerts"], frequency: "as_sent", paused_until: day })).status, 200);
  const paused = await send(shipped(phone, "payment_alerts"));
  assert.equal(paused.status, 409);
  assert.equal(paused.body.type, "/problems/paused");
  assert.equal(paused.body.paused_until, day);
  perms = await permissions(phone);
  assert.ok(Object.values(perms).every((p) => !p.may_send), JSON.stringify(perms));
  assert.equal(perms.delivery.paused_until, day);

  const sub = await subscriber(phone);
  assert.deepEqual(
    sub.body.messages.map((m) => m.reason),
    ["not-subscribed", "outside-window", "subscribed", "frequency", "subscribed", "frequency", "paused"],
    "every decision is kept, in order",
  );
  // The compliance export: every decision for this person, with the rule it turned on.
  const exported = await (await admin("demo/export?what=messages")).text();
  const mine = exported.trim().split("\n").map((l) => JSON.parse(l)).filter((m) => m.phone === phone);
  assert.deepEqual(mine.map((m) => [m.id, m.reason]), sub.body.messages.map((m) => [m.id, m.reason]));
  assert.equal(mine.find((m) => m.reason === "paused").detail.paused_until, day);
  const csv = await admin("demo/export?what=messages&format=csv");
  assert.equal(csv.status, 400);
  assert.equal((await csv.json()).field, "format");
  // The two queued ones either left before the pause or were stopped by it at the
  // sender's second look; the simulator saw exactly those the ledger calls sent.
  const settled = await eventually(async () => {
    const v = (await subscriber(phone)).body.messages.filter((m) => m.decision === "queued");
    return v.every((m) => m.status !== "pending" && m.status !== "sending") && v;
  });
  assert.equal(settled.length, 2);
  for (const m of settled.filter((m) => m.status === "suppressed")) assert.match(m.last_error, /no longer wanted/);
  await sleep(500);
  const sent = settled.filter((m) => SENT.includes(m.status)).length;
  assert.equal(settled.filter((m) => m.status === "suppressed").length + sent, 2, JSON.stringify(settled));
  assert.equal((await templatesTo(phone)).length, sent, "the simulator got exactly what the ledger says was sent");
});

test("free text goes inside the 24-hour window the person's own message opened", async () => {
  const phone = freshPhone().e164;
  await optIn(phone);
  const res = await fetch(`${SIM}/_sim/inbound`, { method: "POST", body: JSON.stringify({ from: phone, phone_number_id: DEMO_PNID, text: "Where is my parcel?" }) });
  assert.equal(res.status, 200);
  const perms = await (await fetch(`${BASE}/v1/sites/demo/permissions/${encodeURIComponent(phone)}?category=delivery`, {
    headers: { authorization: `Bearer ${(await sendKey).key}` },
  })).json();
  assert.ok(perms.window_open_until > Date.now() + 23 * 3_600_000, JSON.stringify(perms));
  assert.deepEqual(Object.keys(perms.categories), ["delivery"]);
  const text = await send({ to: phone, category: "delivery", text: "It is at the door now" });
  assert.equal(text.status, 202, JSON.stringify(text.body));
  const got = await eventually(async () => (await simMessages(phone)).find((m) => (m.text?.body ?? m.text) === "It is at the door now"));
  assert.ok(got, "the text reached the simulator");
});

test("a message queued before the person withdraws that category never leaves", async () => {
  const phone = freshPhone().e164;
  const { preferences_token: token } = await optIn(phone);
  // The confirmation just went: pacing per person (OUTBOX_PAIR_GAP_MS) keeps this one waiting.
  const queued = await send(shipped(phone));
  assert.equal(queued.status, 202);
  assert.equal((await prefs(token, { categories: ["order_updates"] })).status, 200);
  const key = (await sendKey).key;
  const view = await eventually(async () => {
    const v = await (await fetch(`${BASE}/v1/sites/demo/messages/${queued.body.id}`, { headers: { authorization: `Bearer ${key}` } })).json();
    return v.status !== "pending" && v;
  });
  assert.equal(view.status, "suppressed", JSON.stringify(view));
  assert.match(view.last_error, /no longer wanted/);
  await sleep(2_000);
  assert.equal((await templatesTo(phone)).length, 0, "nothing reached the person");
  const after = await send(shipped(phone));
  assert.equal(after.status, 403);
  assert.equal(after.body.subscription_status, "withdrawn");
});

test("keys: shown once, listed without secrets, rotated with an overlap, revoked at once", async () => {
  const minted = await mintKey(["read"], "demo", "reporting");
  const listed = await (await admin("demo/keys")).json();
  const entry = listed.keys.find((k) => k.id === minted.id);
  assert.deepEqual([entry.name, entry.scopes, entry.state], ["reporting", ["read"], "active"]);
  assert.ok(!JSON.stringify(listed).includes(minted.key.slice(-64)), "no secret in the list");

  const phone = freshPhone().e164;
  assert.equal((await fetch(`${BASE}/v1/sites/demo/permissions/${encodeURIComponent(phone)}`, { headers: { authorization: `Bearer ${minted.key}` } })).status, 200);

  const rotated = await admin(`demo/keys/${minted.id}/rotate`, { method: "POST", body: JSON.stringify({ overlap_hours: 1 }) });
  assert.equal(rotated.status, 201);
  const next = await rotated.json();
  assert.notEqual(next.key, minted.key);
  for (const k of [minted.key, next.key]) {
    const res = await fetch(`${BASE}/v1/sites/demo/permissions/${encodeURIComponent(phone)}`, { headers: { authorization: `Bearer ${k}` } });
    assert.equal(res.status, 200, "both work during the overlap");
  }
  const old = (await (await admin("demo/keys")).json()).keys.find((k) => k.id === minted.id);
  assert.equal(old.state, "expiring");
  assert.equal(old.replaced_by, next.id);

  assert.equal((await admin(`demo/keys/${minted.id}`, { method: "DELETE" })).status, 200);
  const revoked = await fetch(`${BASE}/v1/sites/demo/permissions/${encodeURIComponent(phone)}`, { headers: { authorization: `Bearer ${minted.key}` } });
  assert.equal(revoked.status, 401);
  assert.equal((await revoked.json()).type, "/problems/key-revoked");
});

test("bad send requests get a precise problem naming the field, and nothing is queued", async () => {
  const phone = freshPhone().e164;
  await optIn(phone);
  const readOnly = await mintKey(["read"]);
  const other = await newSite("send");
  const otherKey = await mintKey(["send"], other);
  const body = shipped(phone);
  const cases = [
    ["unknown category", { ...body, category: "offers" }, {}, 422, "invalid-body", "category"],
    ["a language the site has not", { ...body, template: { name: "order_shipped", language: "fr" } }, {}, 422, "invalid-body", "template.language"],
    ["malformed components", { ...body, template: { name: "order_shipped", components: [{ type: "body", parameters: "A-1001" }] } }, {}, 422, "invalid-body", "template.components"],
    ["a template name Meta cannot have", { ...body, template: { name: "Order Shipped!" } }, {}, 422, "invalid-body", "template.name"],
    ["both template and text", { ...body, text: "hi" }, {}, 422, "invalid-body", "template"],
    ["a number that cannot exist", { ...body, to: "+999123" }, {}, 422, "invalid-body", "to"],
    ["an unknown field", { ...body, priority: "high" }, {}, 422, "invalid-body", "priority"],
    ["malformed JSON", "{\"to\":", {}, 400, "malformed-json", undefined],
    ["no Idempotency-Key", body, { idem: null }, 400, "idempotency-key-required", "Idempotency-Key"],
    ["a key without the send scope", body, { key: readOnly.key }, 403, "scope-missing", "Authorization"],
    ["a key of another site", body, { key: otherKey.key }, 403, "key-other-site", "Authorization"],
    ["no key", body, { key: "" }, 401, "unauthorized", "Authorization"],
    ["the admin token", body, { key: "dev-admin-token" }, 401, "unauthorized", "Authorization"],
  ];
  for (const [what, b, opts, status, type, field] of cases) {
    const res = await send(b, opts);
    assert.equal(res.status, status, `${what}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.type, `/problems/${type}`, what);
    assert.equal(res.body.field, field, what);
  }
  const idem = `reuse-${phone}`;
  assert.equal((await send(body, { idem })).status, 202);
  const reused = await send(shipped(phone, "order_updates"), { idem });
  assert.equal(reused.status, 422);
  assert.equal(reused.body.type, "/problems/idempotency-key-reused");
  const sub = await subscriber(phone);
  assert.equal(sub.body.messages.length, 1, "only the one good request was decided");
});
