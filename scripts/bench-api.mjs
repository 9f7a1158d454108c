#!/usr/bin/env node
// API throughput and export speed against the baseline Worker (issue #7).
//
//   OPTIN_BASE=http://127.0.0.1:8787 node scripts/bench-api.mjs [--short]
//
// Needs our stack running (scripts/dev demo, or the test stack). Starts the
// baseline Worker (tests/baseline-worker: a constant config, one SQLite row per
// consent, no validation, chain or outbox) in its own `wrangler dev` on
// BASELINE_PORT (default OPTIN port + 20), then, for each concurrency level,
// sends the same number of config GETs and consent POSTs to both — interleaved,
// ours and the baseline taking turns in ROUNDS slices (ABAB…), each warmed with the
// same few requests first — and prints ops/s, p50 and p99 side by side with the
// ratio ours/baseline. The permission check (GET …/permissions/{phone} with a
// site API key: KV key lookup + one ledger call deciding every category) is timed
// the same way against the baseline's one-row Durable Object read. After each consent level it waits (at most 60 s)
// until every confirmation those consents queued is read, so the next operation is not
// timed against their sends. Then 20 consent POSTs to each, one at a time, ours each
// once the confirmation before it is read: the POST alone, printed beside the baseline's
// (not a target: it shows how much of consent@1's gap is the work each consent brings
// back into the Worker — its send and three status webhooks). Then it exports the bench site's ledger as NDJSON and CSV
// from ours and the baseline's rows as NDJSON, five times each in turns, and prints
// rows/s and the ratio of the medians.
//
// The full run (not --short) then writes a ledger of EXPORT_EVENTS (1,000,000)
// grants through the dev-only seed route (the stack needs DEV_SEED=allow, as
// `scripts/dev bench-api` sets it), streams its NDJSON export counting lines as
// they arrive, and prints the time and the resident memory of our `wrangler dev`
// tree before and at its peak during the export (sampled every 100 ms).
//
// Bounded: a fixed request count per level, a time cap per level, loopback only.
// Budget (exit 1 when exceeded; the numbers are printed either way):
//   - ours at the highest level: consent p99 ≤ API_CONSENT_P99_BUDGET_MS (3000)
//   - ours: NDJSON export ≥ EXPORT_ROWS_PER_S_BUDGET rows/s (500)
//   - every request answered 200/201 (a 4xx/5xx here is a bug, not load)
//   - full run: the big export answers every event, and the tree's memory grows
//     by at most BIG_EXPORT_RSS_BUDGET_MB (256) during it (streamed, not buffered)
//   - each ratio ours/baseline (throughput) ≥ its floor in RATIO_FLOORS. The
//     target is 0.8× everywhere (the speed issue); where today's code is below it
//     the line says NOT MET and the floor is today's measured ratio less a margin
//     for a shared 2-core machine, so a regression still fails the run.
import http from "node:http";
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { ROOT, startProcess, killGroup, waitUp, request, percentile, median, sleep, serverTree, cpuSeconds, rssBytes, createBenchSite } from "./lib/harness.mjs";

const SHORT = process.argv.includes("--short");
const LEVELS = [1, 16, 64]; // the speed issue's three levels, in CI too
const REQUESTS = SHORT ? 200 : 600; // per operation, per level, per Worker
const LEVEL_SECONDS = 60;
const ROUNDS = 4; // slices per operation and level, ours and the baseline taking turns
const WARMUP = 10; // requests each Worker gets before every measured operation
const TARGET = 0.8;
/** Regression floors for ours/baseline throughput (see the header); measured 2026-12-01 (export: 2026-12-04, 0.52–0.68× against 0.27–0.31× before its pages stayed in JS; floor 0.25). */
const RATIO_FLOORS = {
  "config@1": 0.2, "config@16": 0.2, "consent@1": 0.1, "consent@16": 0.3, "config@64": 0.2, "consent@64": 0.3, export: 0.25,
  // First measured 2026-12-02 (see BENCHMARKS.md); floors set below with the same margin.
  "permissions@1": 0.15, "permissions@16": 0.15, "permissions@64": 0.15,
};
const OURS = process.env.OPTIN_BASE ?? "http://127.0.0.1:8787";
const BASELINE_PORT = Number(process.env.BASELINE_PORT ?? Number(new URL(OURS).port) + 20);
const BASELINE = `http://127.0.0.1:${BASELINE_PORT}`;
const ADMIN = { authorization: `Bearer ${process.env.ADMIN_TOKEN ?? "dev-admin-token"}` };
const P99_BUDGET = Number(process.env.API_CONSENT_P99_BUDGET_MS ?? 3000);
const EXPORT_BUDGET = Number(process.env.EXPORT_ROWS_PER_S_BUDGET ?? 500);
const BIG_EVENTS = Number(process.env.EXPORT_EVENTS ?? 1_000_000);
const BIG_RSS_BUDGET = Number(process.env.BIG_EXPORT_RSS_BUDGET_MB ?? 256) * 2 ** 20;
const SEED_BATCH = 20_000; // the seed route's most per call
const BIG_SECONDS = 1800; // the seeding and the export each stop after this
const RUN = randomBytes(3).toString("hex");
const SITE = `bench-${RUN}`;
const NOTICE =
  "I agree to receive the messages I select below from Toko Acme on WhatsApp. I can stop at any time by replying STOP.";

let baseline = null;
const stop = () => killGroup(baseline);
process.on("exit", stop);
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(130));

async function startBaseline() {
  const state = mkdtempSync(join(ROOT, "target/baseline-state-"));
  baseline = startProcess(join(ROOT, "node_modules/.bin/wrangler"), [
    "dev", "--config", "tests/baseline-worker/wrangler.toml", "--ip", "127.0.0.1", "--port", String(BASELINE_PORT),
    "--persist-to", state, "--inspector-port", String(BASELINE_PORT + 1442), "--log-level", "warn",
  ], "baseline-wrangler.log");
  await waitUp(`${BASELINE}/v1/sites/${SITE}/config`, "baseline wrangler dev");
}

let readKey = "";
/** The processes of each `wrangler dev` (see serverTree), whose CPU time is read around each operation. */
const trees = { ours: [], base: [] };
const SETTLE_MS = 1500;

let seq = 0;
let lookups = 0;
const operations = {
  config: (base) => ({ url: `${base}/v1/sites/${SITE}/config` }),
  // The people the consents recorded, in turn: a real lookup each time.
  permissions: (base) => ({
    url: `${base}/v1/sites/${SITE}/permissions/%2B62813${60000000 + (lookups++ % 50)}`,
    headers: { authorization: `Bearer ${readKey}` },
  }),
  consent: (base) => {
    const n = seq++;
    return {
      url: `${base}/v1/sites/${SITE}/consents`,
      method: "POST",
      headers: { "content-type": "application/json", origin: OURS, "idempotency-key": `bench-${RUN}-${n}` },
      body: JSON.stringify({
        phone: `+62813${60000000 + n}`, categories: ["order_updates"], locale: "en",
        notice_version: 1, notice_text: NOTICE, surface: "modal",
      }),
    };
  },
};

/**
 * `op` at `concurrency` on ours and the baseline alike: both warmed with the same
 * requests, then REQUESTS each in ROUNDS slices taken in turns (ABAB…), so a
 * disturbance of the shared machine falls on both. Answers [ours, baseline].
 */
async function interleaved(op, concurrency) {
  const cpu0 = [cpuSeconds(trees.ours), cpuSeconds(trees.base)];
  await drive(OURS, op, concurrency, WARMUP);
  await drive(BASELINE, op, concurrency, WARMUP);
  const slices = { ours: [], base: [] };
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 ? [["base", BASELINE], ["ours", OURS]] : [["ours", OURS], ["base", BASELINE]];
    for (const [who, url] of order) slices[who].push(await drive(url, op, concurrency, REQUESTS / ROUNDS));
  }
  // The confirmations our consents queued are sent by the ledger's alarm after the
  // answer: their CPU belongs to the consent too, so let them go out first — all of
  // them, or the next operation (and the export) would be timed against the rest of
  // this level's sends, work the baseline does not have.
  await sleep(SETTLE_MS);
  if (op === "consent") await drained(concurrency);
  const sent = WARMUP + REQUESTS;
  const [ours, base] = [merge(slices.ours), merge(slices.base)];
  const perRequest = (tree, before) => (tree.length ? ((cpuSeconds(tree) - before) * 1000) / sent : NaN);
  ours.cpuMs = perRequest(trees.ours, cpu0[0]);
  base.cpuMs = perRequest(trees.base, cpu0[1]);
  return [ours, base];
}

const DRAIN_SECONDS = 60;
const EXPORT_RUNS = 5;
/**
 * Waits (at most DRAIN_SECONDS) until every consent ours recorded has its
 * confirmation read (the simulator's last status webhook) or failed; prints the wait.
 */
async function drained(concurrency) {
  const t0 = performance.now();
  const left = await unread(200);
  drains.push(`${concurrency} clients: ${f((performance.now() - t0) / 1000 + SETTLE_MS / 1000, 1)} s${left > 0 ? ` (${left} confirmations still not read after ${DRAIN_SECONDS} s)` : ""}`);
}
const drains = [];

/** Polls ours every `everyMs` (at most DRAIN_SECONDS) until each grant's confirmation is read or failed; how many are not. */
async function unread(everyMs) {
  const agent = new http.Agent({ keepAlive: true });
  const t0 = performance.now();
  let left = NaN;
  while (performance.now() - t0 < DRAIN_SECONDS * 1000) {
    const r = await request(agent, `${OURS}/admin/sites/${SITE}/stats`, { headers: ADMIN });
    const stats = JSON.parse(r.text);
    const grants = stats.events.find((e) => e.kind === "grant")?.n ?? 0;
    const done = stats.confirmations.filter((c) => c.status === "read" || c.status === "failed").reduce((t, c) => t + c.n, 0);
    if ((left = grants - done) <= 0) break;
    await sleep(everyMs);
  }
  agent.destroy();
  return left;
}

const QUIET_CONSENTS = 20;
/**
 * The consent POST on its own: QUIET_CONSENTS to each Worker, one at a time, ours
 * each sent only once the confirmation of the one before is read (its send and
 * three status webhooks are over), so no earlier consent's work runs beside it.
 * Not a target: it says how much of consent@1's gap is that work. Latencies [ours, baseline].
 */
async function quietConsents() {
  const agent = new http.Agent({ keepAlive: true });
  const lat = { ours: [], base: [] };
  for (let i = 0; i < QUIET_CONSENTS; i++) {
    for (const [who, base] of [["ours", OURS], ["base", BASELINE]]) {
      const { url, ...opts } = operations.consent(base);
      const t0 = performance.now();
      const r = await request(agent, url, opts);
      lat[who].push(performance.now() - t0);
      if (r.status !== 201) throw new Error(`quiet consent to ${who}: ${r.status} ${r.text.slice(0, 200)}`);
      if (who === "ours" && (await unread(20)) > 0) throw new Error("a quiet consent's confirmation was not read within 60 s");
      await sleep(50);
    }
  }
  agent.destroy();
  return [lat.ours.sort((a, b) => a - b), lat.base.sort((a, b) => a - b)];
}

/** One result from the slices of a run: all latencies, throughput over their summed time. */
function merge(parts) {
  const latencies = parts.flatMap((p) => p.latencies).sort((a, b) => a - b);
  const seconds = parts.reduce((t, p) => t + p.seconds, 0);
  return {
    n: latencies.length, rps: latencies.length / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99),
    failures: parts.flatMap((p) => p.failures),
  };
}

/** `count` requests of one operation at `concurrency`; latencies in ms, failures listed. */
async function drive(base, op, concurrency, count) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies = [];
  const failures = [];
  let issued = 0;
  const deadline = Date.now() + LEVEL_SECONDS * 1000;
  const t0 = performance.now();
  async function client() {
    while (issued < count && Date.now() < deadline) {
      issued++;
      const { url, ...opts } = operations[op](base);
      const start = performance.now();
      try {
        const r = await request(agent, url, opts);
        if (r.status !== 200 && r.status !== 201) failures.push(`${r.status} ${r.text.slice(0, 120)}`);
      } catch (e) {
        failures.push(e.code ?? e.message);
      }
      latencies.push(performance.now() - start);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, client));
  const seconds = (performance.now() - t0) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return { n: latencies.length, seconds, latencies, rps: latencies.length / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), failures };
}

async function timeExport(url) {
  const agent = new http.Agent({ keepAlive: false });
  const t0 = performance.now();
  const r = await request(agent, url, { headers: ADMIN });
  const ms = performance.now() - t0;
  if (r.status !== 200) throw new Error(`export ${url}: ${r.status} ${r.text.slice(0, 200)}`);
  const rows = r.text.split("\n").filter((l) => l.trim() !== "").length;
  return { rows, bytes: Buffer.byteLength(r.text), ms };
}

/**
 * The million-event export: seeds a site of its own, then streams its NDJSON
 * export, counting lines and bytes as they arrive (nothing kept), while sampling
 * the memory of our wrangler dev tree. Answers the problems found.
 */
async function bigExport(agent) {
  const site = `${SITE}-big`;
  await createBenchSite(agent, OURS, site, RUN, process.env.ADMIN_TOKEN ?? "dev-admin-token");
  const headers = { ...ADMIN, "content-type": "application/json" };
  const t0 = performance.now();
  for (let from = 0; from < BIG_EVENTS; from += SEED_BATCH) {
    if (performance.now() - t0 > BIG_SECONDS * 1000) return [`seeding stopped after ${BIG_SECONDS}s at ${from} events`];
    const events = Math.min(SEED_BATCH, BIG_EVENTS - from);
    const r = await request(agent, `${OURS}/admin/sites/${site}/dev-seed`, { method: "POST", headers, body: JSON.stringify({ from, events }) });
    if (r.status !== 200) return [`dev-seed: ${r.status} ${r.text.slice(0, 200)} (does the stack set DEV_SEED=allow?)`];
  }
  const seedS = (performance.now() - t0) / 1000;
  const rss0 = rssBytes(trees.ours);
  let peak = rss0;
  const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(trees.ours))), 100);
  const t1 = performance.now();
  const { status, rows, bytes } = await new Promise((resolve, reject) => {
    const req = http.get(`${OURS}/admin/sites/${site}/export?format=ndjson`, { headers: ADMIN, timeout: BIG_SECONDS * 1000 }, (res) => {
      let rows = 0, bytes = 0;
      res.on("data", (c) => {
        bytes += c.length;
        for (let i = c.indexOf(10); i !== -1; i = c.indexOf(10, i + 1)) rows++;
      });
      res.on("end", () => resolve({ status: res.statusCode, rows, bytes }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`export over ${BIG_SECONDS}s`)));
    req.on("error", reject);
  }).finally(() => clearInterval(sampler));
  const ms = performance.now() - t1;
  const mb = (b) => f(b / 2 ** 20, 0);
  console.log(`\n| big export | events seeded | seeding s | rows exported | bytes | export s | rows/s | our tree's RSS before MB | peak during MB | growth MB |`);
  console.log("|---|---|---|---|---|---|---|---|---|---|");
  console.log(`| ours NDJSON | ${BIG_EVENTS} | ${f(seedS)} | ${rows} | ${bytes} | ${f(ms / 1000)} | ${f(rows / (ms / 1000), 0)} | ${mb(rss0)} | ${mb(peak)} | ${mb(peak - rss0)} |`);
  const problems = [];
  if (status !== 200) problems.push(`big export answered ${status}`);
  if (rows !== BIG_EVENTS) problems.push(`big export: ${rows} rows for ${BIG_EVENTS} events`);
  if (peak - rss0 > BIG_RSS_BUDGET) problems.push(`big export: memory grew ${mb(peak - rss0)} MB > budget ${mb(BIG_RSS_BUDGET)} MB`);
  return problems;
}

const f = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "–");

async function main() {
  const agent = new http.Agent({ keepAlive: true });
  readKey = await createBenchSite(agent, OURS, SITE, RUN, process.env.ADMIN_TOKEN ?? "dev-admin-token");
  await startBaseline();
  trees.ours = serverTree(Number(new URL(OURS).port));
  trees.base = serverTree(BASELINE_PORT);
  console.log(`Site ${SITE}; ours ${OURS}, baseline ${BASELINE}; ${REQUESTS} requests per operation per level.`);
  console.log("\n| operation | concurrency | ours ops/s | ours p50 ms | ours p99 ms | baseline ops/s | baseline p50 ms | baseline p99 ms | ours / baseline ops/s |");
  console.log("|---|---|---|---|---|---|---|---|---|");
  const problems = [];
  const ratios = [];
  const cpuRows = [];
  let topConsentP99 = NaN;
  for (const c of LEVELS) {
    for (const op of ["config", "consent", "permissions"]) {
      const [ours, base] = await interleaved(op, c);
      console.log(`| ${op} | ${c} | ${f(ours.rps)} | ${f(ours.p50)} | ${f(ours.p99)} | ${f(base.rps)} | ${f(base.p50)} | ${f(base.p99)} | ${f(ours.rps / base.rps, 2)}× |`);
      ratios.push([`${op}@${c}`, ours.rps / base.rps]);
      cpuRows.push(`| ${op} | ${c} | ${f(ours.cpuMs, 2)} | ${f(base.cpuMs, 2)} | ${f(ours.cpuMs / base.cpuMs, 2)}× |`);
      for (const [who, r] of [["ours", ours], ["baseline", base]]) {
        if (r.n < REQUESTS) problems.push(`${who} ${op} at ${c}: only ${r.n} of ${REQUESTS} requests within ${LEVEL_SECONDS}s`);
        if (r.failures.length) problems.push(`${who} ${op} at ${c}: ${r.failures.length} failed, first: ${r.failures[0]}`);
      }
      if (op === "consent") topConsentP99 = ours.p99;
    }
  }
  const [qo, qb] = await quietConsents();
  console.log(`\nThe consent POST on a quiet Worker (${QUIET_CONSENTS} each, one at a time; ours each once the confirmation before it was read, so no send or status webhook runs beside it; not a target, the share of consent@1's gap that is its confirmation's work):\n`);
  console.log("| consent POST alone | ours p50 ms | ours p90 ms | baseline p50 ms | baseline p90 ms | baseline / ours p50 |\n|---|---|---|---|---|---|");
  console.log(`| one at a time | ${f(percentile(qo, 50))} | ${f(percentile(qo, 90))} | ${f(percentile(qb, 50))} | ${f(percentile(qb, 90))} | ${f(percentile(qb, 50) / percentile(qo, 50), 2)}× |`);
  console.log(`\nCPU time per request: user + system time of each \`wrangler dev\` process tree (${trees.ours.length} processes ours, ${trees.base.length} the baseline's, from /proc), read before the warm-up and ${SETTLE_MS} ms after the last slice (for consent: once its confirmations were read), over the ${WARMUP + REQUESTS} requests each got; ours includes the confirmation each consent sends.`);
  console.log(`\nAfter each consent level, until every confirmation it queued was read (the next operation starts then): ${drains.join("; ")}.`);
  console.log("\n| operation | concurrency | ours CPU ms/request | baseline CPU ms/request | ours / baseline |\n|---|---|---|---|---|");
  for (const row of cpuRows) console.log(row);
  // One export takes 5–50 ms here, where a burst from another process moves a single
  // timing by as much: EXPORT_RUNS of each, taken in turns, judged on their medians.
  const exports = { nd: [], csv: [], base: [] };
  for (let i = 0; i < EXPORT_RUNS; i++) {
    exports.nd.push(await timeExport(`${OURS}/admin/sites/${SITE}/export?format=ndjson`));
    exports.base.push(await timeExport(`${BASELINE}/admin/sites/${SITE}/export`));
    exports.csv.push(await timeExport(`${OURS}/admin/sites/${SITE}/export?format=csv`));
  }
  const medianOf = (runs) => ({ ...runs[0], ms: median(runs.map((e) => e.ms)), first: runs[0].ms, min: Math.min(...runs.map((e) => e.ms)), max: Math.max(...runs.map((e) => e.ms)) });
  const [nd, csv, base] = [medianOf(exports.nd), medianOf(exports.csv), medianOf(exports.base)];
  console.log(`\n${EXPORT_RUNS} exports of each, in turns (median judged):\n\n| export | rows | bytes | first ms | min ms | median ms | max ms | rows/s (median) |`);
  console.log("|---|---|---|---|---|---|---|---|");
  const ndRate = nd.rows / (nd.ms / 1000);
  for (const [name, e] of [["ours NDJSON (events with evidence)", nd], ["ours CSV", csv], ["baseline NDJSON (raw rows)", base]]) {
    console.log(`| ${name} | ${e.rows} | ${e.bytes} | ${f(e.first)} | ${f(e.min)} | ${f(e.ms)} | ${f(e.max)} | ${f(e.rows / (e.ms / 1000), 0)} |`);
  }
  ratios.push(["export", ndRate / (base.rows / (base.ms / 1000))]);
  console.log(`\n| ours / baseline | ratio | target | floor | verdict |\n|---|---|---|---|---|`);
  for (const [name, r] of ratios) {
    const floor = RATIO_FLOORS[name];
    const verdict = r >= TARGET ? "met" : r >= floor ? "NOT MET (above its floor)" : "NOT MET, BELOW ITS FLOOR";
    console.log(`| ${name} | ${f(r, 2)}× | ≥ ${TARGET}× | ≥ ${floor}× | ${verdict} |`);
    if (!(r >= floor)) problems.push(`${name}: ours/baseline ${f(r, 2)}× < floor ${floor}×`);
  }
  if (!SHORT && BIG_EVENTS > 0) problems.push(...(await bigExport(agent)));
  const consents = seq / 2; // the same count went to each Worker
  if (nd.rows < consents) problems.push(`ours exported ${nd.rows} rows for ${consents} consents`);
  if (topConsentP99 > P99_BUDGET) problems.push(`consent p99 ${f(topConsentP99)} ms at ${LEVELS.at(-1)} > budget ${P99_BUDGET} ms`);
  if (ndRate < EXPORT_BUDGET) problems.push(`NDJSON export ${f(ndRate, 0)} rows/s < budget ${EXPORT_BUDGET} rows/s`);
  if (problems.length) {
    console.log(`\nFAILED:\n- ${problems.join("\n- ")}`);
    process.exitCode = 1;
  } else {
    console.log(`\nWithin budget: consent p99 ≤ ${P99_BUDGET} ms at ${LEVELS.at(-1)}, export ≥ ${EXPORT_BUDGET} rows/s, no failed request.`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 2;
}).finally(stop);
