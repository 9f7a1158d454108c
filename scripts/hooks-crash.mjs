#!/usr/bin/env node
// Webhooks out with the Worker killed mid-delivery: its own stack (simulator +
// wrangler dev on a fresh --persist-to, loopback only), a receiver here that
// verifies every request with the `standardwebhooks` package and holds each one
// for a while, so the Worker is SIGKILLed (wrangler and workerd) while
// deliveries are in flight, then restarted on the same state. Then every
// chained event of every person must arrive, a duplicate only with the same
// webhook-id and body, each person's events in order; reconciliation printed
// like scripts/load.mjs does. Exit 1 when anything is off.
//
//   node scripts/hooks-crash.mjs [--people 8] [--kills 1]
//   (PORT / SIM_PORT, default 8893 / 8894)
import http from "node:http";
import { existsSync, mkdtempSync } from "node:fs";
import { join } from "node:path";
import { Webhook } from "standardwebhooks";
import { ROOT, sleep, startProcess, killGroup, waitUp, crashAndRestart as restartAfterKill } from "./lib/harness.mjs";

const option = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const PEOPLE = Math.min(Number(option("--people", 8)), 50);
const KILLS = Math.min(Number(option("--kills", 1)), 3);
const PORT = Number(process.env.PORT ?? 8893);
const SIM_PORT = Number(process.env.SIM_PORT ?? 8894);
const BASE = `http://127.0.0.1:${PORT}`;
const SIM = `http://127.0.0.1:${SIM_PORT}`;
const SHOP = "http://127.0.0.1:8891";
const HOLD_MS = 1500; // the receiver sits on each request this long: the kill lands mid-delivery
const NOTICE = "I agree to receive the messages I select below from Toko Acme on WhatsApp. I can stop at any time by replying STOP.";
const SITE = `crash-${Date.now().toString(36)}`;
const log = (...a) => console.log(...a);

const stack = { sim: null, wrangler: null, stateDir: null };

function startWrangler() {
  stack.wrangler = startProcess(join(ROOT, "node_modules/.bin/wrangler"), [
    "dev", "--ip", "127.0.0.1", "--port", String(PORT), "--persist-to", stack.stateDir,
    "--var", `GRAPH_BASE:${SIM}`, "--var", `DEMO_ORIGIN:${BASE}`,
    "--var", "HOOK_URLS:local", "--var", "HOOK_TIMEOUT_MS:3000", "--var", "HOOK_BACKOFF_MS:200",
    "--var", "HOOK_BACKOFF_CAP_MS:1000",
    "--inspector-port", String(PORT + 1442), "--log-level", "warn",
  ], "hooks-crash-wrangler.log");
  return waitUp(`${BASE}/v1/sites/demo/config`, "wrangler dev", 300_000);
}

async function stackUp() {
  const sim = join(ROOT, "target/release/cloud-api-simulator");
  if (!existsSync(sim)) throw new Error("target/release/cloud-api-simulator missing: run scripts/dev build");
  stack.stateDir = mkdtempSync(join(ROOT, "target/hooks-crash-state-"));
  stack.sim = startProcess(sim, ["--port", String(SIM_PORT), "--token", "dev-wa-token"], "hooks-crash-simulator.log");
  await waitUp(`${SIM}/_sim/health`, "simulator", 30_000);
  await startWrangler();
}

function stackDown() {
  killGroup(stack.wrangler);
  killGroup(stack.sim);
}
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => { stackDown(); process.exit(130); });
process.on("exit", stackDown);

const crashAndRestart = () => restartAfterKill(stack.wrangler, startWrangler);

// ---------------------------------------------------------------- the receiver
const rcv = { secret: null, received: [], unverified: 0, inFlight: 0 };
const server = http.createServer(async (req, res) => {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const body = Buffer.concat(chunks).toString("utf8");
  let payload;
  try {
    payload = new Webhook(rcv.secret).verify(body, req.headers);
  } catch {
    rcv.unverified++;
    res.writeHead(401).end();
    return;
  }
  rcv.received.push({ id: req.headers["webhook-id"], body, payload });
  rcv.inFlight++;
  await sleep(HOLD_MS);
  rcv.inFlight--;
  if (!res.destroyed) res.writeHead(204).end();
});

const admin = (path, init = {}) => fetch(`${BASE}/admin/sites/${path}`, {
  ...init, headers: { authorization: "Bearer dev-admin-token", "content-type": "application/json" },
});

async function must(res, status) {
  if (res.status !== status) throw new Error(`${res.url}: ${res.status} ${await res.text()}`);
  return res.json();
}

async function person(i) {
  const phone = `+62813${55000000 + i}`;
  const consent = await must(await fetch(`${BASE}/v1/sites/${SITE}/consents`, {
    method: "POST", headers: { "content-type": "application/json", origin: SHOP },
    body: JSON.stringify({ phone, categories: ["order_updates", "delivery"], locale: "en", notice_version: 1, notice_text: NOTICE, surface: "modal" }),
  }), 201);
  return { phone, token: consent.preferences_token };
}

const narrow = (token, categories) => fetch(`${BASE}/v1/preferences/${token}`, {
  method: "PUT", headers: { "content-type": "application/json", origin: BASE }, body: JSON.stringify({ categories }),
});

async function chainIds(phone) {
  const view = await must(await admin(`${SITE}/subscribers/${encodeURIComponent(phone)}`), 200);
  return view.events.map((e) => e.id);
}

async function main() {
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  await stackUp();
  await must(await admin(SITE, { method: "PUT", body: JSON.stringify({
    id: SITE, business_name: "Toko Acme", allowed_origins: [SHOP], privacy_policy_url: `${BASE}/privacy.html`,
    default_locale: "en", default_calling_code: 62, categories: ["order_updates", "delivery"], notice_version: 1,
    whatsapp: { phone_number_id: "100000000000001", template_name: "optin_confirmation", template_languages: ["en"], token_secret: "WA_TOKEN_DEMO" },
  }) }), 200);
  const ep = await must(await admin(`${SITE}/webhook-endpoints`, { method: "POST", body: JSON.stringify({
    url: `http://127.0.0.1:${server.address().port}/hooks`, events: ["consent.granted", "consent.updated", "consent.withdrawn"],
  }) }), 201);
  rcv.secret = ep.secret;

  const people = [];
  const restarts = [];
  for (let k = 0; k <= KILLS; k++) {
    const batch = [];
    for (let i = 0; i < PEOPLE; i++) batch.push(await person(k * PEOPLE + i));
    for (const p of batch.slice(0, PEOPLE / 2)) await narrow(p.token, ["delivery"]);
    people.push(...batch);
    if (k === KILLS) break;
    // Kill while the receiver holds a delivery.
    const end = Date.now() + 20_000;
    while (rcv.inFlight === 0 && Date.now() < end) await sleep(20);
    const inFlight = rcv.inFlight;
    restarts.push({ in_flight_at_kill: inFlight, restart_ms: await crashAndRestart() });
  }
  // Everyone withdraws after the last restart (this traffic also wakes each ledger).
  for (const p of people) await narrow(p.token, []);

  const expected = new Map();
  for (const p of people) expected.set(p.phone, await chainIds(p.phone));
  const want = [...expected.values()].reduce((n, ids) => n + ids.length, 0);
  const end = Date.now() + 120_000;
  const distinct = () => new Set(rcv.received.map((r) => r.id)).size;
  while (distinct() < want && Date.now() < end) await sleep(250);

  // ---------------------------------------------------------------- reconciliation
  const byId = new Map();
  let duplicates = 0;
  let differing = 0;
  for (const r of rcv.received) {
    const seen = byId.get(r.id);
    if (!seen) byId.set(r.id, r);
    else { duplicates++; if (seen.body !== r.body) differing++; }
  }
  let missing = 0;
  let outOfOrder = 0;
  for (const [phone, ids] of expected) {
    missing += ids.filter((id) => !byId.has(id)).length;
    const seqs = [...byId.values()].filter((r) => r.payload.data.phone === phone).map((r) => r.payload.data.subscriber_seq);
    if (seqs.some((s, i) => s !== i + 1)) outOfOrder++;
  }
  const row = { people: people.length, kills: restarts.length, events_recorded: want, requests: rcv.received.length,
    distinct_delivered: byId.size, missing, duplicates_same_id: duplicates, duplicates_differing_body: differing,
    people_out_of_order: outOfOrder, unverified: rcv.unverified };
  const cols = Object.keys(row);
  log(`| ${cols.join(" | ")} |\n|${cols.map(() => "---").join("|")}|\n| ${cols.map((c) => row[c]).join(" | ")} |`);
  for (const r of restarts) log(`kill: ${r.in_flight_at_kill} delivery(ies) in flight at the kill; Worker back in ${r.restart_ms} ms`);
  const ok = missing === 0 && differing === 0 && outOfOrder === 0 && rcv.unverified === 0 && restarts.every((r) => r.in_flight_at_kill > 0);
  log(ok ? "hooks-crash: ok — nothing lost, duplicates only with the same webhook-id, order per person kept"
    : "hooks-crash: FAILED");
  server.close();
  process.exit(ok ? 0 : 1);
}

main().catch((e) => { console.error(e); process.exit(1); });
