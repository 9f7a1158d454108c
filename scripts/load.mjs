#!/usr/bin/env node
// Load + reconciliation harness (issue #7 "Prove it holds").
//
//   node scripts/load.mjs [--short] [--faults] [--levels 1,16,64,256] [--requests N]
//
// Owns its stack: starts the Cloud API simulator and `wrangler dev` on fresh
// persisted state (PORT / SIM_PORT, default 8787 / 8789), creates three sites via
// the admin API, then drives the Worker at each concurrency level with a mix of
// config fetches, consents (1,000 phones × 3 sites, unique Idempotency-Keys, some
// deliberate replays) and opt-outs (a person's STOP, delivered by the simulator
// as a signed inbound webhook). Afterwards it waits for the outbox to drain and
// reconciles what the clients were told against the ledger and the simulator:
//
//   - every 2xx consent id is in the site's export exactly once, and nothing else is;
//   - every consent has exactly one accepted confirmation template in the simulator
//     (request.biz_opaque_callback_data = consent id), or none and its outbox row is
//     `suppressed` because that phone withdrew on that site;
//   - no template reached a phone after it withdrew on that site;
//   - every STOP that the Worker accepted shows up as a withdraw (or nothing was
//     granted), and each subscriber's state is what their events say;
//   - GET /admin/sites/{site}/verify is ok.
//
// Senders: the mix also sends business messages through the send API (each site's
// own `send` key, a unique Idempotency-Key, some replays) while people withdraw,
// pause and switch to a weekly digest (preference API). Reconciled:
//
//   - every 202 reached the simulator exactly once, or its message was suppressed
//     because the person withdrew or paused before it left (or it was in flight at
//     the crash); a replayed key named the same message;
//   - no business message reached a person at a time their events say they had
//     withdrawn that category or were paused;
//   - no 202 was given while the person was paused, and under a weekly digest at
//     most one per category per 7 days;
//   - every refusal names a rule (not-subscribed, paused, frequency).
//
// --faults: the simulator fails 30% of sends transiently (its rate mode: HTTP 500,
// Graph 130429 / 131000, slow answers) for every level, up to 64 concurrent clients
// also in the short form, and the Worker (wrangler dev and its workerd) is killed
// with SIGKILL mid-run and restarted on the same --persist-to. --sim-faults queues a
// fixed number of such faults per level instead (works with --external).
// Requests that fail meanwhile are retried with the same Idempotency-Key.
//
// Bounded: each level stops after its request count or its time limit, retries are
// capped, the drain wait is capped, and the stack is stopped on every exit path.
// Exit status: 0 when everything reconciles, 1 on any mismatch, 2 on a harness error.
import { ROOT, sleep, startProcess, killGroup, waitUp, request as harnessRequest, percentile, crashAndRestart as restartAfterKill } from "./lib/harness.mjs";
import { mkdtempSync, mkdirSync, writeFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import http from "node:http";
import { randomBytes } from "node:crypto";

const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const SHORT = flag("--short");
const RESTART = flag("--faults"); // simulator faults + a Worker crash and restart
const FAULTS = RESTART || flag("--sim-faults"); // simulator faults only (works with --external)
// --external: use a stack someone else started (OPTIN_BASE, SIM_BASE, OPTIN_STATE_DIR),
// as `scripts/dev test` does after the end-to-end tests. Not with --faults.
const EXTERNAL = flag("--external");
const LEVELS = option("--levels", SHORT ? (RESTART ? "1,16,64" : "1,16") : "1,16,64,256").split(",").map(Number);
const FAIL_RATE = 0.3; // --faults: share of send calls the simulator fails
const REQUESTS = Number(option("--requests", SHORT ? 150 : 1000)); // per level
const LEVEL_SECONDS = Number(option("--seconds", SHORT ? 40 : 90)); // per level, hard stop (+180 s in the level with the restart)
const PHONES = 1000;
const PORT = Number(process.env.PORT ?? 8787);
const SIM_PORT = Number(process.env.SIM_PORT ?? 8789);
const BASE = EXTERNAL ? process.env.OPTIN_BASE ?? `http://127.0.0.1:${PORT}` : `http://127.0.0.1:${PORT}`;
const SIM = EXTERNAL ? process.env.SIM_BASE ?? `http://127.0.0.1:${SIM_PORT}` : `http://127.0.0.1:${SIM_PORT}`;
const ADMIN = { authorization: `Bearer ${process.env.ADMIN_TOKEN ?? "dev-admin-token"}` };
const NOTICE =
  "I agree to receive the messages I select below from Toko Acme on WhatsApp. I can stop at any time by replying STOP.";
const RUN = randomBytes(3).toString("hex");
// Fresh sites and business numbers per run, so a run never meets an earlier one's data.
const PNID_BASE = 200000000000000 + (parseInt(RUN, 16) % 1_000_000) * 1000;
const SITES = ["a", "b", "c"].map((s, i) => ({ id: `load-${RUN}-${s}`, pnid: String(PNID_BASE + i + 1) }));
const phoneOf = (i) => `+62812${70000000 + i}`;

const log = (...a) => console.log(...a);

// ---------------------------------------------------------------- the stack
const stack = { sim: null, wrangler: null, stateDir: null, restarts: 0 };

function startWrangler() {
  const bin = join(ROOT, "node_modules/.bin/wrangler");
  stack.wrangler = startProcess(bin, [
    "dev", "--ip", "127.0.0.1", "--port", String(PORT), "--persist-to", stack.stateDir,
    "--var", `GRAPH_BASE:${SIM}`, "--var", `DEMO_ORIGIN:${BASE}`,
    "--var", `TURNSTILE_BASE:http://127.0.0.1:${PORT + 3}`,
    "--var", `OUTBOX_BACKOFF_MS:${process.env.OUTBOX_BACKOFF_MS ?? 20}`,
    "--inspector-port", String(PORT + 1442), "--log-level", "warn",
  ], "load-wrangler.log");
  return waitUp(`${BASE}/v1/sites/demo/config`, "wrangler dev");
}

/** Webhook routing: each load site has its own business number (KV pnid:{id} → site). */
async function routeNumbers() {
  const kvFile = join(stack.stateDir, `pnid-${RUN}.json`);
  writeFileSync(kvFile, JSON.stringify(SITES.map((s) => ({ key: `pnid:${s.pnid}`, value: s.id }))));
  const kv = startProcess(join(ROOT, "node_modules/.bin/wrangler"), [
    "kv", "bulk", "put", kvFile, "--binding", "SITES", "--local", "--persist-to", stack.stateDir,
  ], "load-wrangler.log");
  const code = await new Promise((r) => kv.on("exit", r));
  if (code !== 0) throw new Error("wrangler kv bulk put failed (target/logs/load-wrangler.log)");
}

async function stackUp() {
  if (EXTERNAL) {
    stack.stateDir = process.env.OPTIN_STATE_DIR;
    if (!stack.stateDir) throw new Error("--external needs OPTIN_STATE_DIR (the stack's --persist-to)");
    if (RESTART) throw new Error("--faults restarts the Worker, so it needs its own stack (drop --external)");
    await routeNumbers(); // local KV, written while the Worker runs
    return;
  }
  const sim = join(ROOT, "target/release/cloud-api-simulator");
  if (!existsSync(sim)) throw new Error("target/release/cloud-api-simulator missing: run scripts/dev build");
  mkdirSync(join(ROOT, "target"), { recursive: true });
  stack.stateDir = mkdtempSync(join(ROOT, "target/load-state-"));
  await routeNumbers(); // before the Worker starts
  stack.sim = startProcess(sim, [
    "--port", String(SIM_PORT), "--token", "dev-wa-token",
    "--webhook-url", `${BASE}/webhooks/whatsapp`, "--app-secret", "dev-app-secret",
  ], "load-simulator.log");
  await waitUp(`${SIM}/_sim/health`, "simulator", 30_000);
  await startWrangler();
}

function stackDown() {
  if (EXTERNAL) return;
  killGroup(stack.wrangler);
  killGroup(stack.sim);
}
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => { stackDown(); process.exit(130); });
process.on("exit", stackDown);

/** Kills wrangler dev and workerd as a crash would (SIGKILL), restarts on the same state. */
async function crashAndRestart() {
  const ms = await restartAfterKill(stack.wrangler, startWrangler);
  stack.restarts++;
  return ms;
}

// ---------------------------------------------------------------- HTTP
let agent = new http.Agent({ keepAlive: true, maxSockets: 512 });

const request = (url, opts) => harnessRequest(agent, url, opts);
const json = (r) => JSON.parse(r.text);

/** Retries network errors and 5xx (up to `tries`, within `ms`); never 4xx. */
async function withRetry(fn, { tries = 200, ms = 240_000 } = {}) {
  const end = Date.now() + ms;
  let last;
  for (let i = 0; i < tries && Date.now() < end; i++) {
    try {
      const r = await fn();
      if (r.status < 500) return { res: r, retries: i };
      last = new Error(`HTTP ${r.status}: ${r.text.slice(0, 200)}`);
      retryCauses[`HTTP ${r.status}`] = (retryCauses[`HTTP ${r.status}`] ?? 0) + 1;
    } catch (e) {
      last = e;
      const cause = e.code ?? e.message;
      retryCauses[cause] = (retryCauses[cause] ?? 0) + 1;
    }
    await sleep(Math.min(2000, 100 * 2 ** Math.min(i, 5)));
  }
  throw last;
}

// ---------------------------------------------------------------- sites
async function createSites() {
  for (const s of SITES) {
    const config = {
      id: s.id, business_name: "Toko Acme", allowed_origins: [BASE], privacy_policy_url: `${BASE}/privacy.html`,
      default_locale: "en", default_calling_code: 62, categories: ["order_updates", "delivery"], notice_version: 1,
      whatsapp: { phone_number_id: s.pnid, template_name: "optin_confirmation", template_languages: ["en"], token_secret: "WA_TOKEN_DEMO" },
      limits: { per_ip_per_minute: 1_000_000, per_phone_per_hour: 10_000, daily_confirmations: 1_000_000, resend_cooldown_hours: 24 },
      // A load test is a burst by design: the burst breaker would hold its confirmations.
      breaker: { threshold_per_10_min: 100_000 },
    };
    const r = await request(`${BASE}/admin/sites/${s.id}`, {
      method: "PUT", headers: { ...ADMIN, "content-type": "application/json" }, body: JSON.stringify(config),
    });
    if (r.status !== 200) throw new Error(`PUT site ${s.id}: ${r.status} ${r.text}`);
    const k = await request(`${BASE}/admin/sites/${s.id}/keys`, {
      method: "POST", headers: { ...ADMIN, "content-type": "application/json" }, body: JSON.stringify({ name: "load", scopes: ["send"] }),
    });
    if (k.status !== 201) throw new Error(`POST key ${s.id}: ${k.status} ${k.text}`);
    s.key = json(k).key;
  }
}

// ---------------------------------------------------------------- the mix
const acks = []; // { site, phone, key, id, categories, token }
const sends = []; // { site, phone, category, id } for every 202
const refusals = {}; // reason → count
const prefChanges = []; // { site, phone, what, t0, t1 }
const stops = []; // { site, phone, t0, t1 }
const consented = SITES.map(() => []); // per site: phones with a 2xx consent
const retryCauses = {}; // what made clients retry: "HTTP 503", "ECONNRESET", …
const counters = { replays: 0, replayMismatch: 0, limited: 0, otherStatus: [], retried: 0, stopRetried: 0, sendReplays: 0, sendReplayMismatch: 0 };
const pick = (n) => Math.floor(Math.random() * n);

async function opConfig() {
  const s = SITES[pick(SITES.length)];
  const { res, retries } = await withRetry(() => request(`${BASE}/v1/sites/${s.id}/config`));
  counters.retried += retries;
  if (res.status !== 200) counters.otherStatus.push(`config ${res.status}`);
}

async function opConsent(seq) {
  const si = pick(SITES.length);
  const site = SITES[si];
  const phone = phoneOf(pick(PHONES));
  const categories = [["delivery"], ["order_updates"], ["order_updates", "delivery"]][pick(3)];
  const key = `load-${RUN}-${seq}`;
  const body = JSON.stringify({ phone, categories, locale: "en", notice_version: 1, notice_text: NOTICE, surface: "modal" });
  const send = () => request(`${BASE}/v1/sites/${site.id}/consents`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: BASE, "idempotency-key": key },
    body,
  });
  const { res, retries } = await withRetry(send);
  counters.retried += retries;
  if (res.status === 429) return counters.limited++;
  if (res.status !== 201) return counters.otherStatus.push(`consent ${res.status} ${res.text.slice(0, 120)}`);
  const { id, preferences_token: token } = json(res);
  acks.push({ site: site.id, phone, key, id, categories, token });
  consented[si].push(phone);
  if (Math.random() < 0.05) {
    // A client that never saw its answer sends the same request again.
    const again = (await withRetry(send)).res;
    counters.replays++;
    if (again.status !== 201 || json(again).id !== id || again.headers["idempotent-replayed"] !== "true") {
      counters.replayMismatch++;
    }
  }
}

async function opStop(seq) {
  const si = pick(SITES.length);
  if (consented[si].length === 0) return opConsent(seq);
  const phone = consented[si][pick(consented[si].length)];
  const t0 = Date.now();
  // The simulator delivers the signed webhook before it answers; retry if the Worker did not take it.
  const end = Date.now() + 240_000;
  for (let i = 0; i < 200 && Date.now() < end; i++) {
    let r;
    try {
      r = await request(`${SIM}/_sim/inbound`, {
        method: "POST", body: JSON.stringify({ from: phone, text: "STOP", phone_number_id: SITES[si].pnid }),
      });
    } catch (e) {
      r = { status: 0, text: String(e.code ?? e.message) };
    }
    const d = r.status === 200 ? json(r).delivery : null;
    if (d?.http_status === 200) {
      stops.push({ site: SITES[si].id, phone, t0, t1: Date.now() });
      return;
    }
    counters.stopRetried++;
    const cause = `STOP: ${r.status === 200 ? `Worker answered ${d?.http_status ?? d?.error ?? "nothing"}` : `simulator ${r.status}`}`;
    retryCauses[cause] = (retryCauses[cause] ?? 0) + 1;
    await sleep(Math.min(2000, 100 * 2 ** Math.min(i, 4)));
  }
  counters.otherStatus.push(`STOP for ${phone} never accepted`);
}

const SEND_CATEGORIES = ["delivery", "order_updates"];

/** A business message through the send API to someone who consented on the site (or, now and then, to someone who did not). */
async function opSend(seq) {
  const si = pick(SITES.length);
  const site = SITES[si];
  const phone = consented[si].length && Math.random() < 0.9 ? consented[si][pick(consented[si].length)] : phoneOf(pick(PHONES));
  const category = SEND_CATEGORIES[pick(2)];
  const key = `send-${RUN}-${seq}`;
  const body = JSON.stringify({ to: phone, category, template: { name: "order_shipped", components: [{ type: "body", parameters: [{ type: "text", text: `A-${seq}` }] }] } });
  const post = () => request(`${BASE}/v1/sites/${site.id}/messages`, {
    method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${site.key}`, "idempotency-key": key }, body,
  });
  const { res, retries } = await withRetry(post);
  counters.retried += retries;
  if (res.status === 202) {
    const { id } = json(res);
    sends.push({ site: site.id, phone, category, id });
    if (Math.random() < 0.05) {
      const again = (await withRetry(post)).res;
      counters.sendReplays++;
      if (again.status !== 202 || json(again).id !== id || again.headers["idempotent-replayed"] !== "true") counters.sendReplayMismatch++;
    }
    return;
  }
  const type = res.status < 500 ? json(res).type ?? "" : "";
  const reason = type.replace("/problems/", "");
  if (["not-subscribed", "paused", "frequency"].includes(reason)) refusals[reason] = (refusals[reason] ?? 0) + 1;
  else counters.otherStatus.push(`send ${res.status} ${res.text.slice(0, 120)}`);
}

/** A person who consented changes how they hear from the site: a pause, or the weekly digest. */
async function opPreference(seq) {
  const mine = acks.filter((a) => a.token);
  if (!mine.length) return opConsent(seq);
  const a = mine[pick(mine.length)];
  const pause = Math.random() < 0.5;
  const until = new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 10);
  // Keep what they hold (read first): this changes how often, not what.
  const { res: current } = await withRetry(() => request(`${BASE}/v1/preferences/${a.token}`));
  if (current.status !== 200) return counters.otherStatus.push(`preferences GET ${current.status} ${current.text.slice(0, 120)}`);
  const held = json(current).categories.filter((c) => c.granted).map((c) => c.category);
  if (!held.length) return; // they withdrew: nothing to pause
  const body = JSON.stringify(pause ? { categories: held, paused_until: until } : { categories: held, frequency: "weekly_digest" });
  const t0 = Date.now();
  const { res, retries } = await withRetry(() => request(`${BASE}/v1/preferences/${a.token}`, {
    method: "PUT", headers: { "content-type": "application/json", origin: BASE }, body,
  }));
  counters.retried += retries;
  if (res.status !== 200) return counters.otherStatus.push(`preferences ${res.status} ${res.text.slice(0, 120)}`);
  prefChanges.push({ site: a.site, phone: a.phone, what: pause ? "pause" : "weekly_digest", t0, t1: Date.now() });
}

const MIX = [
  [0.25, opConfig],
  [0.65, opConsent],
  [0.72, opStop],
  [0.94, opSend],
  [1.0, opPreference],
];

let seqCounter = 0;
async function runLevel(concurrency, { restartAt } = {}) {
  agent.destroy();
  agent = new http.Agent({ keepAlive: true, maxSockets: Math.max(concurrency * 2, 8) });
  const latencies = [];
  const perOp = {};
  let issued = 0;
  let errors = 0;
  let restartMs = null;
  const deadline = Date.now() + (LEVEL_SECONDS + (restartAt !== undefined ? 180 : 0)) * 1000;
  const t0 = Date.now();
  let restarting = null;
  async function worker() {
    while (issued < REQUESTS && Date.now() < deadline) {
      const n = issued++;
      if (restartAt !== undefined && n === restartAt && !restarting) {
        restarting = crashAndRestart().then((ms) => (restartMs = ms));
      }
      const r = Math.random();
      const op = MIX.find(([w]) => r < w)[1];
      const start = performance.now();
      try {
        await op(seqCounter++);
      } catch (e) {
        errors++;
        counters.otherStatus.push(`${op.name}: ${e.message}`);
      }
      const ms = performance.now() - start;
      latencies.push(ms);
      (perOp[op.name] ??= []).push(ms);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  if (restarting) await restarting;
  const seconds = (Date.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  for (const v of Object.values(perOp)) v.sort((a, b) => a - b);
  return {
    concurrency, requests: latencies.length, seconds, rps: latencies.length / seconds, errors, restartMs,
    p50: percentile(latencies, 50), p99: percentile(latencies, 99), p999: percentile(latencies, 99.9),
    perOp: Object.fromEntries(Object.entries(perOp).map(([k, v]) => [k, { n: v.length, p50: percentile(v, 50), p99: percentile(v, 99) }])),
  };
}

/** The simulator's rate mode on (`rate` > 0) or off; off answers what it did. */
async function failShare(rate) {
  if (rate === 0) {
    const seen = json(await request(`${SIM}/_sim/faults`));
    const r = await request(`${SIM}/_sim/faults`, { method: "DELETE" });
    if (r.status !== 200 && r.status !== 204) throw new Error(`faults off: ${r.status} ${r.text}`);
    return seen.chaos ?? seen;
  }
  const r = await request(`${SIM}/_sim/faults`, {
    method: "POST", body: JSON.stringify({ rate, seed: parseInt(RUN, 16), delay_ms: 1000 }),
  });
  if (r.status !== 200) throw new Error(`faults on: ${r.status} ${r.text}`);
  return null;
}

async function queueFaults() {
  const faults = [
    { kind: "http_500", count: 4 },
    { code: 130429, count: 3 },
    { code: 131000, count: 3 },
    { kind: "timeout", delay_ms: 1500, count: 2 },
    { kind: "http_500", http_status: 503, count: 3 },
  ];
  for (const f of faults) {
    const r = await request(`${SIM}/_sim/faults`, { method: "POST", body: JSON.stringify(f) });
    if (r.status !== 200) throw new Error(`queue fault: ${r.status} ${r.text}`);
  }
  return faults.reduce((n, f) => n + f.count, 0);
}

// ---------------------------------------------------------------- reconciliation
async function admin(path) {
  const { res } = await withRetry(() => request(`${BASE}/admin/sites/${path}`, { headers: ADMIN }), { tries: 10, ms: 30_000 });
  return res;
}

// A crash can leave, per ledger, the one row whose send was in flight in `sending`
// with nothing at the simulator; the sender releases it to `pending` after its
// 10-minute grace (it cannot know whether Meta got it). The faults run counts
// those as "deferred" rather than waiting 10 minutes, at most one per ledger per crash.
const deferredAllowance = () => stack.restarts; // each load site is one ledger (shards: 1)

async function drain(ms = SHORT ? 60_000 : 180_000) {
  const end = Date.now() + ms;
  let open = {};
  let stableSince = null;
  let lastSending = null;
  while (Date.now() < end) {
    open = {};
    let pending = 0;
    const sending = {};
    for (const s of SITES) {
      const st = json(await admin(`${s.id}/stats`));
      // Our confirmations and replies, and the merchant's messages (send API).
      for (const c of [...st.confirmations, ...(st.messages ?? [])]) {
        if (c.status === "pending") pending += c.n;
        if (c.status === "sending") sending[s.id] = (sending[s.id] ?? 0) + c.n;
        if (c.status === "pending" || c.status === "sending") open[s.id] = (open[s.id] ?? 0) + c.n;
      }
    }
    const faultsLeft = (json(await request(`${SIM}/_sim/faults`)).faults ?? []).length;
    const key = JSON.stringify(sending);
    if (key !== lastSending) { lastSending = key; stableSince = Date.now(); }
    const fewSending = Object.values(sending).every((n) => n <= deferredAllowance());
    if (pending === 0 && faultsLeft === 0 && Object.keys(sending).length === 0) return { drained: true, open };
    if (pending === 0 && faultsLeft === 0 && fewSending && Date.now() - stableSince > 5000) return { drained: true, open };
    await sleep(500);
  }
  return { drained: false, open };
}

async function pool(items, n, fn) {
  const out = new Array(items.length);
  let i = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (i < items.length) {
      const k = i++;
      out[k] = await fn(items[k]);
    }
  }));
  return out;
}

async function reconcile() {
  const messages = json(await request(`${SIM}/_sim/messages`)).messages;
  const templatesById = new Map(); // consent id → accepted template sends
  const templatesTo = new Map(); // `${pnid} ${phone}` → [received_at_ms]
  for (const m of messages) {
    if (m.status !== "accepted" || !m.template) continue;
    const cb = m.request?.biz_opaque_callback_data;
    templatesById.set(cb, (templatesById.get(cb) ?? 0) + 1);
    const k = `${m.phone_number_id} ${m.to}`;
    (templatesTo.get(k) ?? templatesTo.set(k, []).get(k)).push({ at: m.received_at_ms, id: cb });
  }
  const rows = [];
  const sendRows = [];
  const problems = [];
  for (const site of SITES) {
    const mine = acks.filter((a) => a.site === site.id);
    const ackIds = new Set(mine.map((a) => a.id));
    const ndjson = (await admin(`${site.id}/export?format=ndjson`)).text.trim();
    const events = ndjson ? ndjson.split("\n").map((l) => JSON.parse(l)) : [];
    const grants = events.filter((e) => e.kind === "grant");
    const grantCount = new Map();
    for (const g of grants) grantCount.set(g.id, (grantCount.get(g.id) ?? 0) + 1);
    const missing = [...ackIds].filter((id) => !grantCount.has(id));
    const duplicated = [...grantCount].filter(([, n]) => n > 1).map(([id]) => id);
    const unacked = grants.filter((g) => !ackIds.has(g.id)).map((g) => g.id);
    const withdrawsByPhone = new Map();
    for (const e of events) if (e.kind === "withdraw") (withdrawsByPhone.get(e.phone) ?? withdrawsByPhone.set(e.phone, []).get(e.phone)).push(e.server_ts);

    // Subscriber views for every phone this site saw.
    const phones = [...new Set(events.map((e) => e.phone))];
    const views = new Map();
    await pool(phones, 8, async (p) => {
      const r = await admin(`${site.id}/subscribers/${encodeURIComponent(p)}`);
      views.set(p, r.status === 200 ? json(r) : null);
    });
    let once = 0, suppressed = 0, none = 0, multiple = 0, suppressedWithoutStop = 0, deferred = 0;
    for (const a of mine) {
      const n = templatesById.get(a.id) ?? 0;
      const row = views.get(a.phone)?.confirmations.find((c) => c.consent_id === a.id && c.kind === "template");
      if (n === 1) once++;
      else if (n > 1) { multiple++; problems.push(`${site.id}: consent ${a.id} got ${n} templates`); }
      else if (row?.status === "suppressed") {
        suppressed++;
        if (!withdrawsByPhone.has(a.phone)) { suppressedWithoutStop++; problems.push(`${site.id}: consent ${a.id} suppressed but ${a.phone} never withdrew`); }
      } else if (row?.status === "sending" && deferred < deferredAllowance()) {
        deferred++; // in flight when the Worker was killed; resent after the grace
      } else { none++; problems.push(`${site.id}: consent ${a.id} has no template (outbox ${row?.status ?? "row missing"})`); }
    }
    // No template after a withdrawal on this site.
    // Split by when the consent behind the late template was recorded: before the
    // withdraw (its send was already queued, possibly in flight) or after it (the
    // cooldown should have suppressed it). Both count as mismatches.
    let afterQueued = 0, afterNew = 0;
    const grantTs = new Map(grants.map((g) => [g.id, g.server_ts]));
    for (const [phone, ts] of withdrawsByPhone) {
      const first = Math.min(...ts);
      const late = (templatesTo.get(`${site.pnid} ${phone}`) ?? []).filter((m) => m.at > first && ackIds.has(m.id));
      for (const m of late) {
        const queuedBefore = (grantTs.get(m.id) ?? Infinity) < first;
        if (queuedBefore) afterQueued++; else afterNew++;
        problems.push(`${site.id}: template for consent ${m.id} (recorded ${grantTs.get(m.id)}) reached ${phone} at ${m.at}, after its withdraw at ${first}${queuedBefore ? " — queued before the STOP" : ""}`);
      }
    }
    // Every accepted STOP is a withdraw, or there was nothing left to withdraw.
    let stopsSeen = 0, stopsUnmatched = 0;
    for (const s of stops.filter((x) => x.site === site.id)) {
      stopsSeen++;
      const evs = events.filter((e) => e.phone === s.phone);
      const matched = evs.some((e) => e.kind === "withdraw" && e.server_ts >= s.t0 - 5 && e.server_ts <= s.t1 + 5);
      const before = evs.filter((e) => e.server_ts < s.t0).at(-1);
      if (!matched && before?.kind !== "withdraw") { stopsUnmatched++; problems.push(`${site.id}: STOP from ${s.phone} at ${s.t0} left no withdraw`); }
    }
    // Current state equals a replay of the phone's events.
    let stateMismatch = 0;
    for (const p of phones) {
      const expect = {};
      for (const e of events.filter((x) => x.phone === p)) {
        if (e.kind === "grant") for (const c of e.categories) expect[c] = "granted";
        if (e.kind === "withdraw") for (const c of e.categories) expect[c] = "withdrawn";
        if (e.kind === "update") {
          for (const c of e.categories) expect[c] = "granted";
          for (const c of e.evidence?.withdrawn ?? []) expect[c] = "withdrawn";
        }
      }
      const got = Object.fromEntries((views.get(p)?.state ?? []).map((s) => [s.category, s.status]));
      if (JSON.stringify(Object.entries(expect).sort()) !== JSON.stringify(Object.entries(got).sort())) {
        stateMismatch++;
        problems.push(`${site.id}: state of ${p} is ${JSON.stringify(got)}, events say ${JSON.stringify(expect)}`);
      }
    }
    const sent = reconcileSends(site, events, views, templatesById, templatesTo, problems);
    const verify = json(await admin(`${site.id}/verify`));
    if (!verify.ok) problems.push(`${site.id}: verify ${JSON.stringify(verify)}`);
    if (missing.length) problems.push(`${site.id}: ${missing.length} acknowledged consents missing from the ledger`);
    if (duplicated.length) problems.push(`${site.id}: ${duplicated.length} consent ids in the ledger more than once`);
    if (unacked.length) problems.push(`${site.id}: ${unacked.length} ledger grants nobody was told about`);
    rows.push({
      site: site.id, "2xx consents": mine.length, "ledger grants": grants.length, missing: missing.length,
      "dup ids": duplicated.length, unacked: unacked.length, "1 template": once, suppressed, ...(RESTART ? { "deferred (in flight at crash)": deferred } : {}), "0 templates": none,
      ">1 templates": multiple, STOPs: stopsSeen, withdraws: [...withdrawsByPhone.values()].flat().length,
      "STOP not honoured": stopsUnmatched, "template after STOP (queued before it)": afterQueued, "template after STOP (consent after it)": afterNew, "state ≠ events": stateMismatch,
      verify: verify.ok ? `ok (${verify.events})` : "BROKEN",
    });
    sendRows.push({ site: site.id, ...sent });
    void suppressedWithoutStop;
  }
  return { rows, sendRows, problems, simMessages: messages.length };
}

/** A person's state at `t` by their events: categories held, pause, frequency. */
function stateAt(events, t) {
  const held = new Set();
  let pausedUntil = null;
  let frequency = "as_sent";
  for (const e of events) {
    if (e.server_ts > t) break;
    if (e.kind === "grant") for (const c of e.categories) held.add(c);
    if (e.kind === "withdraw") {
      if (!e.categories.length) held.clear();
      for (const c of e.categories) held.delete(c);
    }
    if (e.kind === "update") {
      held.clear();
      for (const c of e.categories) held.add(c);
    }
    if (e.evidence && "frequency" in e.evidence) {
      frequency = e.evidence.frequency ?? "as_sent";
      pausedUntil = e.evidence.paused_until ?? null;
    }
  }
  const paused = pausedUntil !== null && Date.parse(`${pausedUntil}T00:00:00Z`) > t;
  return { held, paused, frequency };
}

/** The send API's 202s on one site against the simulator and the people's events. */
function reconcileSends(site, events, views, templatesById, templatesTo, problems) {
  const mine = sends.filter((s) => s.site === site.id);
  const byPhone = new Map();
  for (const e of events) (byPhone.get(e.phone) ?? byPhone.set(e.phone, []).get(e.phone)).push(e);
  const out = { "202 sends": mine.length, "sent once": 0, suppressed: 0, ...(RESTART ? { "deferred (in flight at crash)": 0 } : {}), "0 sent": 0, ">1 sent": 0,
    "sent while withdrawn or paused": 0, "202 while paused or not held": 0, "weekly digest exceeded": 0 };
  const deferredBudget = deferredAllowance();
  const decided = new Map(); // `${phone} ${category}` → [{created_at, status}]
  for (const s of mine) {
    const m = views.get(s.phone)?.messages?.find((x) => x.id === s.id);
    const n = templatesById.get(s.id) ?? 0;
    if (n === 1) out["sent once"]++;
    else if (n > 1) { out[">1 sent"]++; problems.push(`${site.id}: message ${s.id} reached the simulator ${n} times`); }
    else if (m?.status === "suppressed") {
      out.suppressed++;
      // Only a withdrawal or a pause after it was queued may stop it.
      const later = (byPhone.get(s.phone) ?? []).filter((e) => e.server_ts >= m.created_at);
      const why = later.some((e) => { const st = stateAt(byPhone.get(s.phone), e.server_ts); return st.paused || !st.held.has(s.category); });
      if (!why) problems.push(`${site.id}: message ${s.id} suppressed though ${s.phone} neither withdrew ${s.category} nor paused`);
    }
    else if (m?.status === "sending" && RESTART && out["deferred (in flight at crash)"] < deferredBudget) out["deferred (in flight at crash)"]++;
    else { out["0 sent"]++; problems.push(`${site.id}: message ${s.id} never sent (status ${m?.status ?? "no record"})`); }
    if (!m) continue;
    const evs = byPhone.get(s.phone) ?? [];
    const at = stateAt(evs, m.created_at);
    if (at.paused || !at.held.has(s.category)) {
      out["202 while paused or not held"]++;
      problems.push(`${site.id}: message ${s.id} queued at ${m.created_at} while ${s.phone} ${at.paused ? "was paused" : `did not hold ${s.category}`}`);
    }
    const key = `${s.phone} ${s.category}`;
    (decided.get(key) ?? decided.set(key, []).get(key)).push({ at: m.created_at, status: m.status, state: at });
  }
  const sentIds = new Set(mine.map((s) => s.id));
  for (const [k, list] of templatesTo) {
    if (!k.startsWith(`${site.pnid} `)) continue;
    const phone = k.slice(site.pnid.length + 1);
    for (const d of list.filter((x) => sentIds.has(x.id))) {
      const s = mine.find((x) => x.id === d.id);
      const at = stateAt(byPhone.get(phone) ?? [], d.at);
      if (at.paused || !at.held.has(s.category)) {
        out["sent while withdrawn or paused"]++;
        problems.push(`${site.id}: message ${d.id} reached ${phone} at ${d.at} while ${at.paused ? "paused" : `${s.category} was not held`}`);
      }
    }
  }
  for (const [key, list] of decided) {
    list.sort((a, b) => a.at - b.at);
    for (let i = 1; i < list.length; i++) {
      const prev = list.slice(0, i).filter((p) => ["sent", "delivered", "read"].includes(p.status)).at(-1);
      if (list[i].state.frequency === "weekly_digest" && prev && list[i].at - prev.at < 7 * 86_400_000) {
        out["weekly digest exceeded"]++;
        problems.push(`${site.id}: ${key} got a second message within a week under the weekly digest`);
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------- main
function table(rows) {
  if (!rows.length) return "";
  const cols = Object.keys(rows[0]);
  const cell = (v) => (typeof v === "number" && !Number.isInteger(v) ? v.toFixed(1) : String(v ?? ""));
  const head = `| ${cols.join(" | ")} |\n|${cols.map(() => "---").join("|")}|`;
  return [head, ...rows.map((r) => `| ${cols.map((c) => cell(r[c])).join(" | ")} |`)].join("\n");
}

async function main() {
  const started = Date.now();
  log(`load: ${SHORT ? "short" : "full"}${FAULTS ? " + faults" : ""} run ${RUN}; levels ${LEVELS.join(",")}; ${REQUESTS} requests/level (≤${LEVEL_SECONDS}s each); Worker ${BASE}, simulator ${SIM}`);
  await stackUp();
  log(`load: stack up (state ${stack.stateDir}) in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  await createSites();
  const results = [];
  let faultsQueued = 0;
  if (RESTART) await failShare(FAIL_RATE);
  for (const [i, c] of LEVELS.entries()) {
    if (FAULTS && !RESTART) faultsQueued += await queueFaults();
    // In the faults run the Worker is killed in the middle of the last level.
    const restartAt = RESTART && i === LEVELS.length - 1 ? Math.floor(REQUESTS * 0.4) : undefined;
    const r = await runLevel(c, { restartAt });
    results.push(r);
    log(`load: c=${c}: ${r.requests} requests in ${r.seconds.toFixed(1)}s${r.restartMs !== null ? ` (Worker killed and back in ${(r.restartMs / 1000).toFixed(1)}s)` : ""}`);
  }
  const chaos = RESTART ? await failShare(0) : null;
  if (chaos) log(`load: the simulator failed ${chaos.faulted ?? "?"} of ${chaos.calls ?? "?"} send calls (rate ${FAIL_RATE})`);
  const drainStart = Date.now();
  const drained = await drain();
  await sleep(1000); // status webhooks still on their way
  const drainSeconds = (Date.now() - drainStart) / 1000;
  const { rows, sendRows, problems, simMessages } = await reconcile();

  log("\nThroughput and latency per concurrency level (latency of one mixed operation, ms; a consent op includes its retries and any replay):\n");
  log(table(results.map((r) => ({
    concurrency: r.concurrency, requests: r.requests, seconds: r.seconds, "ops/s": r.rps, p50: r.p50, p99: r.p99, "p99.9": r.p999,
    "consent p50": r.perOp.opConsent?.p50, "consent p99": r.perOp.opConsent?.p99, "config p50": r.perOp.opConfig?.p50, "STOP p50": r.perOp.opStop?.p50,
    errors: r.errors,
  }))));
  log(`\nReconciliation (${acks.length} acknowledged consents, ${stops.length} STOPs, ${simMessages} simulator send records; outbox ${drained.drained ? "drained" : `NOT drained: ${JSON.stringify(drained.open)}`} after ${drainSeconds.toFixed(1)}s):\n`);
  log(table(rows));
  log(`\nSend API (${sends.length} queued; refused: ${JSON.stringify(refusals)}; replays ${counters.sendReplays}, ${counters.sendReplayMismatch} answered differently):\n`);
  log(table(sendRows));
  log(`\nIdempotent replays: ${counters.replays} (${counters.replayMismatch} answered differently); 429s: ${counters.limited}; requests retried after an error: ${counters.retried}; STOP deliveries retried: ${counters.stopRetried}${FAULTS ? `; faults queued: ${faultsQueued}; Worker restarts: ${stack.restarts}` : ""}`);
  // PII in logs: no phone number of this run may appear in the stack's logs.
  const logs = (EXTERNAL ? ["wrangler.log", "simulator.log"] : ["load-wrangler.log", "load-simulator.log"])
    .map((f) => join(ROOT, "target/logs", f));
  // A missing log is a failed check, not a passed one.
  for (const f of logs.filter((f) => !existsSync(f))) problems.push(`PII check: ${f} is missing`);
  logs.splice(0, logs.length, ...logs.filter((f) => existsSync(f)));
  const phonesUsed = [...new Set([...acks.map((a) => a.phone), ...stops.map((s) => s.phone)])];
  for (const f of logs) {
    const text = readFileSync(f, "utf8");
    const leaked = phonesUsed.filter((p) => text.includes(p.slice(3))); // national digits, with or without +62
    if (leaked.length) problems.push(`${leaked.length} phone numbers appear in ${f}, e.g. ${leaked[0]}`);
  }
  log(`PII in logs: checked ${phonesUsed.length} numbers against ${logs.length ? logs.map((f) => f.slice(ROOT.length + 1)).join(", ") : "no log files"}`);
  if (Object.keys(retryCauses).length) log(`Retry causes: ${JSON.stringify(retryCauses)}`);
  if (counters.sendReplayMismatch) problems.push(`${counters.sendReplayMismatch} replayed sends answered differently`);
  if (!sends.length) problems.push("no message was queued through the send API: the senders did not run");
  if (counters.replayMismatch) problems.push(`${counters.replayMismatch} idempotent replays answered differently`);
  if (counters.limited) problems.push(`${counters.limited} consents were rate-limited (limits are set high for this run)`);
  if (!drained.drained) problems.push(`outbox not drained: ${JSON.stringify(drained.open)}`);
  for (const o of counters.otherStatus) problems.push(o);
  log(`load: total ${((Date.now() - started) / 1000).toFixed(1)}s`);
  if (problems.length) {
    log(`\nMISMATCHES (${problems.length}):`);
    for (const p of problems.slice(0, 50)) log(`  - ${p}`);
    process.exitCode = 1;
  } else {
    log("\nRECONCILED: every acknowledged consent is in the ledger once, confirmed once or suppressed after a STOP; every STOP honoured; every queued message sent once or suppressed after a withdrawal or pause, none to a withdrawn, paused or capped person; chains verify.");
  }
}

main().catch((e) => {
  console.error(`load: ${e.stack ?? e}`);
  process.exitCode = 2;
}).finally(stackDown);
