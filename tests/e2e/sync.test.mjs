// Consent events pushed to the merchant's systems (Standard Webhooks): a
// receiver in this process verifies every request with the `standardwebhooks`
// npm package (a client we did not write) and answers as a real CRM might —
// fine, 500, slower than the Worker's timeout, or not at all (its port closed).
// Each scenario ends in a reconciliation: every event the ledger recorded
// arrived, a duplicate only ever with the same webhook-id and body, and each
// person's events in order (their subscriber_seq 1, 2, 3 … with no gap).
// Real Worker (wrangler dev, HOOK_TIMEOUT_MS=1000 and short backoff from
// scripts/dev), real simulator for the WhatsApp side.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { randomBytes, randomInt } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { BASE, SIM, SHOP, SHOP_ORIGINS, admin, freshPhone, eventually, sleep, table } from "./support.mjs";

const NOTICE = "I agree to receive the messages I select below from Toko Acme on WhatsApp. I can stop at any time by replying STOP.";
const TIMEOUT_MS = Number(process.env.HOOK_TIMEOUT_MS ?? 1000);

/** A merchant's receiver: verifies each request with every secret it was given. */
class Receiver {
  constructor() {
    this.mode = "ok"; // ok | fail | slow
    this.secrets = [];
    this.received = []; // verified and accepted (2xx, or slow-but-processed)
    this.refused = 0; // answered 500
    this.unverified = [];
    this.sockets = new Set();
  }

  async start(port = 0) {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.on("connection", (s) => { this.sockets.add(s); s.on("close", () => this.sockets.delete(s)); });
    await new Promise((ok) => this.server.listen(port, "127.0.0.1", ok));
    this.port = this.server.address().port;
  }

  /** Down: the port refuses connections. */
  async stop() {
    for (const s of this.sockets) s.destroy();
    await new Promise((ok) => this.server.close(ok));
  }

  get url() { return `http://127.0.0.1:${this.port}/hooks`; }

  async handle(req, res) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks).toString("utf8");
    const headers = {
      "webhook-id": req.headers["webhook-id"],
      "webhook-timestamp": req.headers["webhook-timestamp"],
      "webhook-signature": req.headers["webhook-signature"],
    };
    let payload;
    try {
      // Every secret this receiver holds must verify on its own (a rotation's overlap signs with both).
      for (const secret of this.secrets) payload = new Webhook(secret).verify(body, headers);
    } catch (e) {
      this.unverified.push({ headers, error: String(e) });
      res.writeHead(401).end();
      return;
    }
    if (this.mode === "fail") {
      this.refused += 1;
      res.writeHead(500).end("oops");
      return;
    }
    this.received.push({ id: headers["webhook-id"], body, payload });
    if (this.mode === "slow") await sleep(TIMEOUT_MS + 700);
    if (!res.destroyed) res.writeHead(204).end();
  }
}

const receivers = [];
after(async () => { for (const r of receivers) await r.stop().catch(() => {}); });

async function receiver() {
  const r = new Receiver();
  await r.start();
  receivers.push(r);
  return r;
}

/** A fresh site on a business number of its own (so its statuses route to it). */
async function hookSite() {
  const id = `hk-${randomBytes(4).toString("hex")}`;
  const pnid = `8${randomInt(10 ** 13, 10 ** 14 - 1)}`;
  const config = {
    id, business_name: "Toko Acme", allowed_origins: SHOP_ORIGINS, privacy_policy_url: `${BASE}/privacy.html`,
    default_locale: "en", default_calling_code: 62, categories: ["order_updates", "delivery"], notice_version: 1,
    whatsapp: { phone_number_id: pnid, template_name: "optin_confirmation", template_languages: ["en"], token_secret: "WA_TOKEN_DEMO" },
  };
  const res = await admin(id, { method: "PUT", body: JSON.stringify(config) });
  assert.equal(res.status, 200, await res.text());
  return { id, pnid };
}

async function addEndpoint(site, rcv, events) {
  const res = await admin(`${site.id}/webhook-endpoints`, { method: "POST", body: JSON.stringify({ url: rcv.url, ...(events ? { events } : {}) }) });
  assert.equal(res.status, 201, await res.clone().text());
  assert.equal(res.headers.get("cache-control"), "no-store");
  const body = await res.json();
  assert.match(body.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  assert.match(body.id, /^whe_[0-9a-f]{16}$/);
  rcv.secrets = [body.secret];
  return body;
}

async function optIn(site, phone, categories = ["order_updates", "delivery"]) {
  const res = await fetch(`${BASE}/v1/sites/${site.id}/consents`, {
    method: "POST", headers: { "content-type": "application/json", origin: SHOP },
    body: JSON.stringify({ phone, categories, locale: "en", notice_version: 1, notice_text: NOTICE, surface: "modal" }),
  });
  assert.equal(res.status, 201, await res.clone().text());
  return res.json();
}

const narrow = (token, categories) => fetch(`${BASE}/v1/preferences/${token}`, {
  method: "PUT", headers: { "content-type": "application/json", origin: BASE }, body: JSON.stringify({ categories }),
});

async function stop(site, phone) {
  const res = await fetch(`${SIM}/_sim/inbound`, { method: "POST", body: JSON.stringify({ from: phone, phone_number_id: site.pnid, text: "STOP" }) });
  assert.equal(res.status, 200, await res.text());
}

/** The chain events of one person, from the export. */
async function chainOf(site, phone) {
  const res = await admin(`${site.id}/subscribers/${encodeURIComponent(phone)}`);
  assert.equal(res.status, 200);
  return (await res.json()).events;
}

/**
 * Every delivery is verified; duplicates carry the same id and body; each
 * person's distinct events arrive in order 1..n with no gap. Returns the
 * distinct events per phone.
 */
function reconcile(rcv, what) {
  assert.deepEqual(rcv.unverified, [], "every request verified with standardwebhooks");
  const byId = new Map();
  let duplicates = 0;
  for (const r of rcv.received) {
    const seen = byId.get(r.id);
    if (seen) {
      duplicates += 1;
      assert.equal(r.body, seen.body, `a duplicate of ${r.id} is byte for byte the same`);
    } else byId.set(r.id, r);
  }
  const perPhone = new Map();
  for (const r of byId.values()) {
    const { phone, subscriber_seq: seq } = r.payload.data;
    const list = perPhone.get(phone) ?? [];
    list.push(r.payload);
    perPhone.set(phone, list);
    assert.ok(Number.isInteger(seq), "every payload has a subscriber_seq");
  }
  for (const [phone, list] of perPhone) {
    const seqs = list.map((p) => p.data.subscriber_seq);
    assert.deepEqual(seqs, seqs.map((_, i) => i + 1), `${phone}: in order, no gap`);
  }
  console.log(`\n${what}\n${table([{ requests: rcv.received.length + rcv.refused, answered_500: rcv.refused,
    distinct: byId.size, duplicates_same_id: duplicates, people: perPhone.size, unverified: rcv.unverified.length }])}`);
  return perPhone;
}

const types = (list) => list.map((p) => p.type);
const consentTypes = (list) => types(list).filter((t) => t !== "message.status");

test("a person's opt-in, narrowing, STOP and message statuses reach the endpoint signed, in order, with the chain hash", { timeout: 60_000 }, async () => {
  const site = await hookSite();
  const rcv = await receiver();
  const ep = await addEndpoint(site, rcv);
  const phone = freshPhone().e164;
  const recorded = await optIn(site, phone);
  await eventually(async () => rcv.received.some((r) => r.payload.type === "message.status") || null);
  assert.equal((await narrow(recorded.preferences_token, ["delivery"])).status, 200);
  await stop(site, phone);
  await eventually(async () => rcv.received.some((r) => r.payload.type === "consent.withdrawn") || null);

  const events = reconcile(rcv, "one person, receiver up").get(phone);
  assert.deepEqual(consentTypes(events), ["consent.granted", "consent.updated", "consent.withdrawn"]);
  const [granted, updated, withdrawn] = events.filter((p) => p.type !== "message.status");
  assert.equal(granted.data.site, site.id);
  assert.equal(granted.data.consent_id, recorded.id);
  assert.deepEqual(granted.data.categories, ["order_updates", "delivery"]);
  assert.deepEqual(updated.data.withdrawn, ["order_updates"]);
  assert.equal(withdrawn.data.how, "keyword");
  assert.equal(withdrawn.data.consent_id, recorded.id);
  assert.match(granted.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  // Cross-check with the ledger: same event ids, same chain hashes.
  const chain = await chainOf(site, phone);
  for (const p of [granted, updated, withdrawn]) {
    const e = chain.find((c) => c.id === p.data.event_id);
    assert.ok(e, `event ${p.data.event_id} is in the chain`);
    assert.equal(p.data.chain_hash, e.hash);
  }
  const statuses = events.filter((p) => p.type === "message.status");
  assert.ok(statuses.some((s) => ["sent", "delivered", "read"].includes(s.data.status)), "the confirmation's status");
  assert.ok(statuses.every((s) => s.data.consent_id === recorded.id && s.data.phone === phone));

  const log = await (await admin(`${site.id}/webhook-endpoints/${ep.id}/deliveries`)).json();
  assert.ok(log.deliveries.length >= 4);
  assert.ok(log.deliveries.every((d) => d.status === "delivered" && d.attempts === 1 && d.last_status === 204));
  assert.ok(log.deliveries.every((d) => Number.isInteger(d.latency_ms)));
  const listed = await (await admin(`${site.id}/webhook-endpoints`)).json();
  assert.equal(listed.endpoints[0].state, "active");
  assert.ok(!JSON.stringify(listed).includes("whsec_"), "the secret is shown once, never listed");
});

/** Waits until `n` of the site's confirmations are read (their last status webhook applied). */
async function confirmationsRead(site, n) {
  await eventually(async () => {
    const stats = await (await admin(`${site.id}/stats`)).json();
    return stats.confirmations.filter((c) => c.status === "read").reduce((t, c) => t + c.n, 0) >= n || null;
  });
}

test("an endpoint added after a ledger's first events gets what follows, and once deleted gets nothing more", { timeout: 60_000 }, async () => {
  const site = await hookSite();
  // The ledger records a grant and applies its statuses while it has no endpoint.
  const before = freshPhone().e164;
  await optIn(site, before);
  await confirmationsRead(site, 1);
  const rcv = await receiver();
  const ep = await addEndpoint(site, rcv);
  const phone = freshPhone().e164;
  const recorded = await optIn(site, phone);
  await confirmationsRead(site, 2);
  await eventually(async () => rcv.received.some((r) => r.payload.type === "message.status" && r.payload.data.status === "read") || null);
  const events = reconcile(rcv, "an endpoint added after the ledger's first events");
  assert.deepEqual(consentTypes(events.get(phone)), ["consent.granted"]);
  assert.equal(events.get(phone)[0].data.consent_id, recorded.id);
  assert.ok(events.get(phone).some((p) => p.type === "message.status" && p.data.consent_id === recorded.id), "the confirmation's statuses too");
  assert.equal(events.get(before), undefined, "nothing from before the endpoint was added");

  const gone = await admin(`${site.id}/webhook-endpoints/${ep.id}`, { method: "DELETE" });
  assert.equal(gone.status, 200, await gone.text());
  const received = rcv.received.length;
  await optIn(site, freshPhone().e164);
  await confirmationsRead(site, 3);
  await sleep(500);
  assert.equal(rcv.received.length, received, "a deleted endpoint gets nothing of a later consent");
});

test("receiver down, then answering 500, then slower than the timeout: nothing lost, duplicates only with the same webhook-id, order kept", { timeout: 90_000 }, async () => {
  const site = await hookSite();
  const rcv = await receiver();
  const ep = await addEndpoint(site, rcv, ["consent.granted", "consent.updated", "consent.withdrawn"]);
  const people = [freshPhone().e164, freshPhone().e164, freshPhone().e164];

  // Down: its port refuses connections while three people opt in and two narrow.
  await rcv.stop();
  const tokens = [];
  for (const phone of people) tokens.push((await optIn(site, phone)).preferences_token);
  for (const token of tokens.slice(0, 2)) assert.equal((await narrow(token, ["delivery"])).status, 200);
  await sleep(1500);
  const down = await (await admin(`${site.id}/webhook-endpoints/${ep.id}/deliveries`)).json();
  assert.ok(down.deliveries.some((d) => d.attempts >= 1 && d.status === "pending" && d.last_error), JSON.stringify(down.deliveries[0]));
  const failing = (await (await admin(`${site.id}/webhook-endpoints`)).json()).endpoints[0];
  assert.equal(failing.state, "failing");
  assert.ok(failing.pending >= 5);

  // Up, but answering 500.
  rcv.mode = "fail";
  await rcv.start(rcv.port);
  await eventually(async () => rcv.refused >= 2 || null);
  assert.equal(rcv.received.length, 0);

  // Slower than the Worker's timeout: it takes each one, but too late; the Worker tries again.
  rcv.mode = "slow";
  await eventually(async () => rcv.received.length >= 2 || null, 20_000);
  rcv.mode = "ok";
  await eventually(async () => new Set(rcv.received.map((r) => r.id)).size >= 5 || null, 30_000);
  for (const token of tokens) await narrow(token, []);
  await eventually(async () => rcv.received.filter((r) => r.payload.type === "consent.withdrawn").length >= 3 || null, 30_000);

  const perPhone = reconcile(rcv, "three people; receiver down, 500, slow, then up");
  assert.ok(rcv.received.length > new Set(rcv.received.map((r) => r.id)).size, "the slow answers were sent again (same webhook-id)");
  assert.deepEqual(types(perPhone.get(people[0])), ["consent.granted", "consent.updated", "consent.withdrawn"]);
  assert.deepEqual(types(perPhone.get(people[1])), ["consent.granted", "consent.updated", "consent.withdrawn"]);
  assert.deepEqual(types(perPhone.get(people[2])), ["consent.granted", "consent.withdrawn"]);
  const log = await (await admin(`${site.id}/webhook-endpoints/${ep.id}/deliveries`)).json();
  assert.ok(log.deliveries.every((d) => d.status === "delivered"));
  assert.ok(log.deliveries.some((d) => d.attempts > 1));
});

test("pause holds deliveries, resume sends them; rotation signs with both secrets during the overlap; replay resends a range with the same ids", { timeout: 60_000 }, async () => {
  const site = await hookSite();
  const rcv = await receiver();
  const ep = await addEndpoint(site, rcv, ["consent.granted"]);
  const paused = await admin(`${site.id}/webhook-endpoints/${ep.id}/pause`, { method: "POST" });
  assert.equal((await paused.json()).state, "paused");
  const from = Date.now();
  await optIn(site, freshPhone().e164);
  await sleep(800);
  assert.equal(rcv.received.length, 0, "paused: nothing sent");
  assert.equal((await (await admin(`${site.id}/webhook-endpoints/${ep.id}/resume`, { method: "POST" })).json()).state, "active");
  await eventually(async () => rcv.received.length === 1 || null);

  const rotated = await admin(`${site.id}/webhook-endpoints/${ep.id}/rotate`, { method: "POST", body: JSON.stringify({ overlap_hours: 1 }) });
  assert.equal(rotated.status, 200);
  const fresh = (await rotated.json()).secret;
  assert.notEqual(fresh, rcv.secrets[0]);
  rcv.secrets = [rcv.secrets[0], fresh]; // both must verify on their own
  await optIn(site, freshPhone().e164);
  await eventually(async () => rcv.received.length === 2 || null);
  assert.equal(rcv.received.at(-1).payload.type, "consent.granted");

  const replay = await admin(`${site.id}/webhook-endpoints/${ep.id}/replay`, { method: "POST", body: JSON.stringify({ from, to: Date.now() }) });
  assert.equal(replay.status, 202);
  assert.equal((await replay.json()).replayed, 2);
  await eventually(async () => rcv.received.length === 4 || null);
  const ids = rcv.received.map((r) => r.id);
  assert.deepEqual(ids.slice(2), ids.slice(0, 2), "replayed with the same webhook-ids, in order");
  reconcile(rcv, "pause, resume, rotation and replay");
});

test("bad endpoint input is refused with a precise problem and nothing stored", async () => {
  const site = await hookSite();
  const post = (body) => admin(`${site.id}/webhook-endpoints`, { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body) });
  const rows = [
    [{ url: "ftp://crm.example.com/hooks" }, 422, "url", /http\(s\)/],
    [{ url: "javascript:alert(1)" }, 422, "url", /http\(s\)/],
    [{ url: "crm.example.com/hooks" }, 422, "url", /absolute URL/],
    [{ url: `https://crm.example.com/${"a".repeat(2049)}` }, 422, "url", /2048/],
    [{ url: "https://crm.example.com/h", events: ["consent.granted", "consent.deleted"] }, 422, "events", /unknown event 'consent\.deleted'/],
    [{ url: "https://crm.example.com/h", events: "consent.granted" }, 422, null, /sequence/],
    [{ url: "https://crm.example.com/h", secret: "whsec_mine" }, 422, "secret", /unknown field/],
    [{}, 422, "url", /missing field/],
    ["{not json", 400, null, /malformed|JSON/i],
  ];
  const seen = [];
  for (const [body, status, field, detail] of rows) {
    const res = await post(body);
    assert.equal(res.status, status, `${JSON.stringify(body).slice(0, 80)}: ${await res.clone().text()}`);
    assert.equal(res.headers.get("content-type"), "application/problem+json");
    const problem = await res.json();
    if (field) assert.equal(problem.field, field);
    assert.match(problem.detail, detail);
    seen.push({ input: JSON.stringify(body).slice(0, 40), status, type: problem.type, field: problem.field ?? "" });
  }
  console.log(`\nbad endpoint input\n${table(seen)}`);
  assert.deepEqual((await (await admin(`${site.id}/webhook-endpoints`)).json()).endpoints, [], "nothing stored");
  const unknown = await admin(`${site.id}/webhook-endpoints/whe_0000000000000000/rotate`, { method: "POST" });
  assert.equal(unknown.status, 404);
  const wrongMethod = await admin(`${site.id}/webhook-endpoints`, { method: "DELETE" });
  assert.equal(wrongMethod.status, 405);
  const replay = await admin(`${site.id}/webhook-endpoints/whe_0000000000000000/replay`, { method: "POST", body: JSON.stringify({ from: 5, to: 1 }) });
  assert.equal(replay.status, 422);
});
