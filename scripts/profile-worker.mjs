#!/usr/bin/env node
// Where our Worker's CPU time goes (the speed issue's first step): a V8 CPU profile
// of the Worker's isolate (the edge and the ledger Durable Object run in the same
// one under `wrangler dev`), taken over its inspector while one operation is sent,
// and summarised by function — self time, and time including callees.
//
//   node --experimental-websocket scripts/profile-worker.mjs [consent|config|permissions|export]
//
// `export` streams EXPORT_SITE's NDJSON export (a site with events: the one
// `scripts/bench-api.mjs` left behind, say), COUNT (default 30 for it) times.
//
// Needs our stack (scripts/dev demo or stack) with its inspector on INSPECTOR_PORT
// (default: the Worker's port + 1442, as scripts/dev starts it). COUNT requests
// (300) at CONCURRENCY (4), loopback only, bounded by count and a 120 s cap.
// Function names are the wasm's own (its name section), so a Rust function reads
// as its mangled path; JS glue and workerd built-ins as V8 names them.
import http from "node:http";
import { randomBytes } from "node:crypto";
import { request, sleep, createBenchSite } from "./lib/harness.mjs";

const OP = process.argv[2] ?? "consent";
const OURS = process.env.OPTIN_BASE ?? "http://127.0.0.1:8787";
const INSPECTOR = Number(process.env.INSPECTOR_PORT ?? Number(new URL(OURS).port) + 1442);
const COUNT = Number(process.env.COUNT ?? (OP === "export" ? 30 : 300));
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 4);
const TOP = Number(process.env.TOP ?? 25);
// Also list our own functions (and SQLite's exec) by inclusive time, where the glue hides them.
const OWN = /optin_worker::|consent_core::|^exec$|serde_json::/;
const RUN = randomBytes(3).toString("hex");
const SITE = OP === "export" ? process.env.EXPORT_SITE : `prof-${RUN}`;
const ADMIN_TOKEN = process.env.ADMIN_TOKEN ?? "dev-admin-token";
const NOTICE =
  "I agree to receive the messages I select below from Toko Acme on WhatsApp. I can stop at any time by replying STOP.";

if (OP === "export" && !SITE) {
  console.error("export: set EXPORT_SITE to a site with events");
  process.exit(2);
}
if (typeof WebSocket === "undefined") {
  console.error("run with: node --experimental-websocket scripts/profile-worker.mjs");
  process.exit(2);
}

let seq = 0;
function operation(key) {
  const n = seq++;
  if (OP === "config") return { url: `${OURS}/v1/sites/${SITE}/config` };
  if (OP === "export") {
    return { url: `${OURS}/admin/sites/${SITE}/export?format=ndjson`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } };
  }
  if (OP === "permissions") {
    return { url: `${OURS}/v1/sites/${SITE}/permissions/%2B62813${70000000 + (n % 50)}`, headers: { authorization: `Bearer ${key}` } };
  }
  return {
    url: `${OURS}/v1/sites/${SITE}/consents`, method: "POST",
    headers: { "content-type": "application/json", origin: OURS, "idempotency-key": `prof-${RUN}-${n}` },
    body: JSON.stringify({ phone: `+62813${70000000 + n}`, categories: ["order_updates"], locale: "en", notice_version: 1, notice_text: NOTICE, surface: "modal" }),
  };
}

async function drive(agent, key, count) {
  const deadline = Date.now() + 120_000;
  let issued = 0;
  let failed = 0;
  const client = async () => {
    while (issued < count && Date.now() < deadline) {
      issued++;
      const { url, ...opts } = operation(key);
      const r = await request(agent, url, opts);
      if (r.status !== 200 && r.status !== 201) failed++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, client));
  return { issued, failed };
}

/** A Chrome DevTools Protocol session on the Worker's inspector. */
async function inspector() {
  const targets = await (await fetch(`http://127.0.0.1:${INSPECTOR}/json`)).json();
  const target = targets.find((t) => t.webSocketDebuggerUrl);
  if (!target) throw new Error(`no inspectable target on port ${INSPECTOR}`);
  // wrangler's inspector proxy accepts only a local Origin (undici's WebSocket takes headers).
  const ws = new WebSocket(target.webSocketDebuggerUrl, { headers: { origin: "http://localhost" } });
  await new Promise((ok, fail) => {
    ws.onopen = ok;
    ws.onerror = () => fail(new Error(`inspector ${target.webSocketDebuggerUrl} refused`));
  });
  let id = 0;
  const pending = new Map();
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.id && pending.has(msg.id)) {
      pending.get(msg.id)(msg);
      pending.delete(msg.id);
    }
  };
  const send = (method, params = {}) =>
    new Promise((ok, fail) => {
      const n = ++id;
      pending.set(n, (msg) => (msg.error ? fail(new Error(`${method}: ${msg.error.message}`)) : ok(msg.result)));
      ws.send(JSON.stringify({ id: n, method, params }));
    });
  return { send, close: () => ws.close(), title: target.title ?? target.url };
}

/** Self and inclusive milliseconds per function name from a V8 CPU profile. */
function summarise(profile) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  }
  const name = (n) => {
    const f = n.callFrame;
    return f.functionName || `(anonymous ${f.url.split("/").pop()}:${f.lineNumber})`;
  };
  const selfBy = new Map();
  const totalBy = new Map();
  let all = 0;
  // Inclusive time counts a function once per stack, however often it recurses.
  const walk = (id, onStack) => {
    const n = nodes.get(id);
    const nm = name(n);
    let total = self.get(id) ?? 0;
    all += total;
    selfBy.set(nm, (selfBy.get(nm) ?? 0) + total);
    const inner = new Set(onStack).add(nm);
    for (const c of n.children ?? []) total += walk(c, inner);
    if (!onStack.has(nm)) totalBy.set(nm, (totalBy.get(nm) ?? 0) + total);
    return total;
  };
  walk(profile.nodes[0].id, new Set());
  return { selfBy, totalBy, all };
}

async function main() {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const key = OP === "export" ? null : await createBenchSite(agent, OURS, SITE, RUN, ADMIN_TOKEN);
  await drive(agent, key, OP === "export" ? 3 : 20); // compiled and cached before the profile starts
  const dt = await inspector();
  await dt.send("Profiler.enable");
  await dt.send("Profiler.setSamplingInterval", { interval: 200 });
  await dt.send("Profiler.start");
  const t0 = performance.now();
  const { issued, failed } = await drive(agent, key, COUNT);
  const ms = performance.now() - t0;
  await sleep(1500); // the confirmations the consents queued leave from the ledger's alarm
  const { profile } = await dt.send("Profiler.stop");
  dt.close();
  agent.destroy();
  const { selfBy, totalBy, all } = summarise(profile);
  const idle = (selfBy.get("(idle)") ?? 0) + (selfBy.get("(program)") ?? 0);
  const busy = all - idle;
  console.log(`Profile of ${dt.title}: ${OP} × ${issued} at ${CONCURRENCY} clients in ${ms.toFixed(0)} ms (${failed} not 2xx).`);
  console.log(`Sampled ${all.toFixed(0)} ms, of which (idle)/(program) ${idle.toFixed(0)} ms; busy ${busy.toFixed(0)} ms = ${(busy / issued).toFixed(2)} ms per request in this isolate.`);
  const table = (title, by) => {
    console.log(`\n| ${title} | ms | % of busy | ms per request |\n|---|---|---|---|`);
    const rows = [...by].filter(([n]) => n !== "(idle)" && n !== "(program)" && n !== "(root)").sort((a, b) => b[1] - a[1]).slice(0, TOP);
    for (const [n, t] of rows) console.log(`| \`${n.slice(0, 110)}\` | ${t.toFixed(1)} | ${((100 * t) / busy).toFixed(1)} | ${(t / issued).toFixed(3)} |`);
  };
  table("function (self time)", selfBy);
  table("function (including callees)", totalBy);
  table("our own function (including callees)", new Map([...totalBy].filter(([n]) => OWN.test(n))));
  if (failed) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 2;
});
