// Widget size and speed against vanilla-cookieconsent (PRODUCT.md's smallest peer),
// measured the way a merchant runs them: every page on the merchant's origin (the shop
// server, scripts/shop-server.mjs serving www/shop: SHOP_BASE), our widget from the
// Worker's origin (OPTIN_BASE), the peer from a CDN's origin: a static server this
// script starts on a loopback port, serving node_modules/vanilla-cookieconsent/dist the
// way a CDN does (CORS, Timing-Allow-Origin, a year's immutable cache), under the name
// cdn.peer.test (Chromium's host rules map it to that port; nothing leaves loopback).
//
//   OPTIN_BASE=http://127.0.0.1:8787 SHOP_BASE=http://127.0.0.1:8791 node scripts/bench-widget.mjs [runs]
//
// One warm-up load of each page (discarded: the Worker, the shop and the CDN server each
// answer once first), then `runs` rounds of ours, the peer, our checkout embed (ABAB…),
// each load in a fresh browser context (cold cache, empty storage; a timing ratio over its
// budget after them gets as many rounds more, judged on all); then 3 control loads
// of the embed page with its reserved space removed (the layout-shift check's reference)
// and min(runs, 8) pages on which a consent is submitted twice through the modal (the CORS
// preflight the first costs, and that the second reuses it). Prints medians side by side
// and ours/peer for each budgeted metric; exits 1 when a ratio is over its budget, or the
// checkout embed shifts the page.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { randomInt } from "node:crypto";
import { gzipSync } from "node:zlib";
import { chromium } from "playwright-core";
import { BASE } from "../tests/e2e/support.mjs";
import { median, ROOT } from "./lib/harness.mjs";

const RUNS = Number(process.argv[2] ?? 15);
const SHOP = (process.env.SHOP_BASE ?? "http://127.0.0.1:8791").replace(/\/$/, "");
const WORKER = new URL(BASE).origin;
// WIDGET_CPU_THROTTLE=4 slows Chromium's CPU 4× (DevTools' CPU throttling), for a
// phone-like main thread; 1 (the default, what CI runs) leaves it as it is.
const THROTTLE = Number(process.env.WIDGET_CPU_THROTTLE ?? 1);
const CONSENT_RUNS = Math.min(RUNS, 8);

// Targets (the issue): ours ≤ the peer's for time to prompt, bytes before the prompt and
// the longest task (and main-thread time, judged only on a throttled CPU), i.e. ours/peer
// ≤ 1. Budgets are what fails the run: the target plus a tolerance for the shared 2-core
// machine the bench runs on (1.25 for timings) — except while ours does not meet the
// target: then the budget is today's measured ratio plus a small margin, so a regression
// still fails, and the output says "NOT MET". Lower a budget as ours improves; never
// raise one to make a run pass. The figures are in BENCHMARKS.md (runs of 2026-12-01).
const TARGET = 1;
const BUDGET = {
  // NOT MET in most runs. Since the loader shows the modal itself (no wasm before the
  // prompt, 2026-12-04), unthrottled runs of 10 loads put ours/peer at 1.060, 1.152,
  // 0.973, 1.081 and 1.272, throttled 4× 0.912: ours waits for the config's round trip
  // (71 ms from its script's arrival to the prompt against the peer's 43–55 ms; the
  // peer's config is in the page). Budget 1.45: those plus a margin for a CI machine,
  // under the 1.6 / 1.75 it was while the wasm came first.
  ttp: 1.45,
  // Met: ours 7,380 B against the peer's 15,498 B (0.476, deterministic). The
  // budget is the target; tests/size-budget.mjs holds the bytes themselves to 10 KB.
  bytes: 1,
  // Met (the median load of each has no task of 50 ms or more): the target with the 1.25 tolerance.
  task: 1.25,
  // Throttled 4× (judged there only; `scripts/dev test` runs 8 rounds at 4× since
  // 2026-12-07): 0.799, 0.963, 1.054 and 0.796 in runs since the loader shows the modal
  // (1.08 and 1.15 while the wasm came first). The target with the 1.25 tolerance.
  main: 1.25,
};
// The Long Tasks API reports only tasks of 50 ms or more: a load without one counts as
// 50 ms in the longest-task ratio (below that the two cannot be told apart).
const TASK_FLOOR_MS = 50;

// ---- The peer's CDN: its package's dist/, from memory, on an origin of its own. ----
const PEER_DIR = join(ROOT, "node_modules/vanilla-cookieconsent");
const PEER_VERSION = JSON.parse(readFileSync(join(PEER_DIR, "package.json"), "utf8")).version;
const CDN_HOST = "cdn.peer.test";
const CDN_PREFIX = `/vanilla-cookieconsent@${PEER_VERSION}/dist/`;
const TYPES = { ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8" };
const cdnFiles = new Map(
  readdirSync(join(PEER_DIR, "dist"))
    .filter((f) => statSync(join(PEER_DIR, "dist", f)).isFile())
    .map((f) => {
      const raw = readFileSync(join(PEER_DIR, "dist", f));
      return [f, { raw, gz: gzipSync(raw, { level: 9 }) }];
    }),
);
const cdn = createServer((req, res) => {
  const path = new URL(req.url, "http://cdn").pathname;
  const file = path.startsWith(CDN_PREFIX) ? cdnFiles.get(path.slice(CDN_PREFIX.length)) : undefined;
  if (!file || (req.method !== "GET" && req.method !== "HEAD")) {
    res.writeHead(404, { "content-type": "text/plain", "access-control-allow-origin": "*" });
    return res.end("not found");
  }
  // Compressed as the Worker (wrangler dev) compresses ours: gzip when the browser takes it.
  const gzip = /\bgzip\b/.test(req.headers["accept-encoding"] ?? "");
  const body = gzip ? file.gz : file.raw;
  res.writeHead(200, {
    "content-type": TYPES[path.slice(path.lastIndexOf("."))] ?? "application/octet-stream",
    "content-length": body.length,
    ...(gzip ? { "content-encoding": "gzip" } : {}),
    vary: "accept-encoding",
    "cache-control": "public, max-age=31536000, immutable",
    "access-control-allow-origin": "*",
    "cross-origin-resource-policy": "cross-origin",
    "timing-allow-origin": "*",
    "x-content-type-options": "nosniff",
  });
  res.end(req.method === "HEAD" ? undefined : body);
});
await new Promise((ok) => cdn.listen(0, "127.0.0.1", ok));
const CDN = `http://${CDN_HOST}`;
const cdnPort = cdn.address().port;

// The bench pages must be the shop's, pointing at this Worker and this peer version.
{
  const ours = await fetch(`${SHOP}/bench/ours.html`).then((r) => r.text()).catch(() => "");
  const peer = await fetch(`${SHOP}/bench/peer.html`).then((r) => r.text()).catch(() => "");
  if (!ours.includes(`${WORKER}/v1/sites/demo/widget.js`)) {
    console.error(`${SHOP}/bench/ours.html does not load ${WORKER}/v1/sites/demo/widget.js (the README's tag): is the shop server (SHOP_BASE) up, with --worker ${WORKER}?`);
    process.exit(2);
  }
  if (!peer.includes(`${CDN}${CDN_PREFIX}`)) {
    console.error(`${SHOP}/bench/peer.html does not load vanilla-cookieconsent ${PEER_VERSION} (installed) from ${CDN}${CDN_PREFIX}`);
    process.exit(2);
  }
}

// What a page downloads for the widget before its prompt (and 300 ms after): ours is the
// loader, glue, wasm and config from the Worker; the peer everything from its CDN. gzip -9
// of each body as received (the modal page loads the modal-only build, checkout the full one).
const OURS_PATH = /^\/(widget\.js|widget\/|v1\/sites\/[^/]+\/(config|widget\.js))/;
const isWidget = (url) => {
  const u = new URL(url);
  return (u.origin === WORKER && OURS_PATH.test(u.pathname)) || u.origin === CDN;
};
async function widgetBytes(responses) {
  let bytes = 0;
  for (const r of responses) if (isWidget(r.url())) bytes += gzipSync(await r.body(), { level: 9 }).length;
  return bytes;
}

// The embed's layout-shift check is held to what the same page scores when the embed's
// space is not reserved (the control: this rule added to the page): it must fail that.
const UNRESERVED = "<style>[data-wa-optin=checkout]{min-height:0 !important}</style>";
// Above 1/50 of the control's score: on this page that is a push of about two pixels.
const CLS_SHARE = 1 / 50;
/** Serves `path` with `extra` added at the end of its <head> (control loads only). */
async function withHead(page, path, extra) {
  await page.route(`${SHOP}${path}`, async (route) => {
    const res = await route.fetch();
    await route.fulfill({ response: res, body: (await res.text()).replace("</head>", `${extra}</head>`) });
  });
}

/** A fresh context and page, with a CDP session (CPU throttling when asked). */
async function freshPage(browser) {
  const context = await browser.newContext(); // cold cache and storage every load
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  if (THROTTLE > 1) await cdp.send("Emulation.setCPUThrottlingRate", { rate: THROTTLE });
  return { context, page, cdp };
}

/**
 * One cold load of `path` on the shop (`head`: markup added to its <head>): ms to the
 * prompt, to the show call and from the widget script's arrival, the longest task
 * (≥ 50 ms, else 0), main-thread time, CLS and what moved, bytes.
 */
async function load(browser, path, head = "") {
  const { context, page, cdp } = await freshPage(browser);
  if (head) await withHead(page, path, head);
  await cdp.send("Performance.enable");
  const responses = [];
  const said = [];
  page.on("response", (r) => responses.push(r));
  page.on("console", (m) => said.push(m.text()));
  page.on("pageerror", (e) => said.push(e.message));
  await page.goto(`${SHOP}${path}`);
  await page.waitForFunction(() => window.__shownAt !== undefined, null, { timeout: 15_000 }).catch((e) => {
    throw new Error(`${SHOP}${path}: no prompt within 15 s (${e.message}); the page said:\n  ${said.join("\n  ")}\n` +
      `responses: ${responses.map((r) => `${r.status()} ${r.url()}`).join(", ")}`);
  });
  await page.waitForTimeout(300); // let the observers see the tasks and shifts that rendering caused
  const { metrics } = await cdp.send("Performance.getMetrics");
  const seen = await page.evaluate(() => {
    // The issue times from the script's start; an async script starts when its bytes
    // are in, so that is when ours (widget.js) or the peer's library arrived.
    const script = performance.getEntriesByType("resource")
      .find((e) => /\/(widget\.js|cookieconsent\.umd\.js)$/.test(new URL(e.name).pathname));
    return { ms: window.__shownAt, called: window.__calledAt, fromScript: window.__shownAt - script.responseEnd, task: window.__longestTask, cls: window.__cls, moved: window.__moved };
  });
  // DevTools' TaskDuration: the renderer main thread's busy time so far (s).
  const main = metrics.find((m) => m.name === "TaskDuration").value * 1000;
  const out = { ...seen, main, bytes: await widgetBytes(responses) };
  await context.close();
  return out;
}

/** Submits the open modal with a fresh number; the consent POST and its preflight as CDP saw them. */
async function submitConsent(page, requests) {
  const dialog = page.getByRole("dialog");
  const before = requests.length;
  await dialog.getByRole("checkbox").first().check();
  await dialog.getByLabel("WhatsApp number").fill(`+62812${randomInt(10_000_000, 100_000_000)}`);
  await dialog.getByRole("button", { name: "Subscribe on WhatsApp" }).click();
  const isPost = (r) => r.method === "POST" && /\/v1\/sites\/[^/]+\/consents$/.test(new URL(r.url).pathname);
  const end = Date.now() + 15_000;
  let post;
  while (!(post = requests.slice(before).find((r) => isPost(r) && r.end !== undefined))) {
    if (Date.now() > end) throw new Error("the consent POST did not finish within 15 s");
    await page.waitForTimeout(20);
  }
  await page.waitForTimeout(50); // the preflight's own events, if any, are in by now
  // CDP lists a preflight as a request of its own, initiated by the POST it is for.
  const preflights = requests.slice(before).filter((r) => r.initiator?.type === "preflight" && r.initiator.requestId === post.id);
  const rtt = (r) => (r.timing ? r.timing.receiveHeadersEnd - r.timing.sendStart : NaN);
  return {
    status: post.status,
    post: rtt(post),
    // From the page's fetch() to the POST going out: the preflight's cost to the consent.
    wait: post.timing ? post.timing.requestTime * 1000 + post.timing.sendStart - post.start * 1000 : NaN,
    preflights: preflights.length,
    preflight: preflights.length ? preflights[0].answered * 1000 - preflights[0].start * 1000 : NaN,
    preflightRtt: preflights.length ? rtt(preflights[0]) : NaN,
    preflightStatus: preflights[0]?.status,
  };
}

/** A cold modal page; two consents from it. CDP's Network domain lists preflights as their own requests. */
async function consentTwice(browser) {
  const { context, page, cdp } = await freshPage(browser);
  const requests = [];
  const byId = new Map();
  cdp.on("Network.requestWillBeSent", (e) => {
    const r = { id: e.requestId, url: e.request.url, method: e.request.method, initiator: e.initiator, start: e.timestamp };
    requests.push(r);
    byId.set(e.requestId, r);
  });
  cdp.on("Network.responseReceived", (e) => {
    const r = byId.get(e.requestId);
    if (r) Object.assign(r, { status: e.response.status, timing: e.response.timing, answered: e.timestamp });
  });
  cdp.on("Network.loadingFinished", (e) => { const r = byId.get(e.requestId); if (r) r.end = e.timestamp; });
  cdp.on("Network.loadingFailed", (e) => { const r = byId.get(e.requestId); if (r) Object.assign(r, { end: e.timestamp, failed: e.errorText }); });
  await cdp.send("Network.enable");
  await page.goto(`${SHOP}/bench/ours.html`);
  const dialog = page.getByRole("dialog");
  await dialog.waitFor({ state: "visible", timeout: 15_000 });
  const first = await submitConsent(page, requests);
  // The widget has shown the answer (thanks, or a refusal such as the per-IP limit's).
  await dialog.locator("[role=status], [role=alert]").filter({ hasText: /\S/ }).first().waitFor({ timeout: 15_000 });
  await dialog.getByRole("button", { name: "Close" }).click();
  await page.evaluate(() => window.WhatsAppOptIn.open());
  await dialog.getByRole("checkbox").first().waitFor({ state: "visible" });
  const second = await submitConsent(page, requests);
  await context.close();
  return { first, second };
}

// The e2e tests' Chromium flags (tests/e2e/support.mjs), plus the CDN's host name.
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    `--host-resolver-rules=MAP ${CDN_HOST} 127.0.0.1:${cdnPort}`,
    // Local Network Access: with the CDN's name mapped to loopback, Chromium 156 refused
    // widget.js to the load that followed each peer load ("Permission was denied for this
    // request to access the `loopback` address space"), and a page Playwright fulfils
    // itself (the control loads) counts as public. A merchant's page, the Worker and a CDN
    // are all public addresses, where these checks never apply; here all are loopback.
    "--disable-features=LocalNetworkAccessChecks",
  ],
});
const PAGES = { ours: "/bench/ours.html", peer: "/bench/peer.html", embed: "/bench/checkout.html" };
const runs = { ours: [], peer: [], embed: [] };
const med = (rs, k) => median(rs.map((r) => r[k]));
const floor = (rs) => median(rs.map((r) => Math.max(r.task, TASK_FLOOR_MS)));
const timingsOver = () =>
  med(runs.ours, "ms") / med(runs.peer, "ms") > BUDGET.ttp || (THROTTLE === 1 && floor(runs.ours) / floor(runs.peer) > BUDGET.task) ||
  (THROTTLE > 1 && med(runs.ours, "main") / med(runs.peer, "main") > BUDGET.main);
let confirming = false;
let consents;
let control;
try {
  for (const p of Object.values(PAGES)) await load(browser, p); // warm-up, the same for each
  for (let i = 0; i < RUNS; i++) for (const [k, p] of Object.entries(PAGES)) runs[k].push(await load(browser, p));
  // A timing over its budget after `runs` rounds is measured again before it fails: as
  // many rounds more, judged on all of them (one other build's burst on this shared
  // machine can move a median of 10). Printed, and bounded: once.
  if (timingsOver()) {
    confirming = true;
    console.log(`A timing ratio is over its budget after ${RUNS} rounds: ${RUNS} rounds more, judged on all ${2 * RUNS}.`);
    for (let i = 0; i < RUNS; i++) for (const [k, p] of Object.entries(PAGES)) runs[k].push(await load(browser, p));
  }
  control = [];
  for (let i = 0; i < 3; i++) control.push(await load(browser, PAGES.embed, UNRESERVED));
  consents = [];
  for (let i = 0; i < CONSENT_RUNS; i++) consents.push(await consentTwice(browser));
} finally {
  await browser.close();
  cdn.close();
}

const max = (rs, k) => Math.max(...rs.map((r) => r[k]));
const fmt = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : "–");
const task = (x) => (x ? fmt(x) : "none ≥ 50");
const row = (name, rs) =>
  `| ${name} | ${max(rs, "bytes")} | ${fmt(med(rs, "ms"))} | ${fmt(Math.min(...rs.map((r) => r.ms)))} | ${fmt(max(rs, "ms"))} | ${fmt(med(rs, "fromScript"))} | ${fmt(med(rs, "called"))} | ${task(med(rs, "task"))} | ${task(max(rs, "task"))} | ${fmt(med(rs, "main"))} | ${max(rs, "cls").toFixed(4)} |`;
console.log(`\nCross-origin: pages from the shop ${SHOP}, our widget from the Worker ${WORKER}, vanilla-cookieconsent ${PEER_VERSION} from ${CDN} (127.0.0.1:${cdnPort}).`);
console.log(`Cold page loads, ${runs.ours.length} of each${confirming ? ` (${RUNS} + ${RUNS} to confirm a ratio over budget)` : ""}, interleaved${THROTTLE > 1 ? `, CPU throttled ${THROTTLE}×` : ""}: ms from navigation (and, median, from the widget script's arrival) to the end of the first frame that shows the prompt, median ms to the widget's show call (before its layout and paint), the longest main-thread task (median and worst load), main-thread busy time to 300 ms after the prompt, the worst cumulative layout shift; gzip -9 bytes:\n`);
console.log("| widget | downloaded for it, gz -9 (B) | median ms | min ms | max ms | median ms from the script's arrival | median ms to the show call | longest task ms, median | longest task ms, worst | main-thread ms, median | CLS |\n|---|---|---|---|---|---|---|---|---|---|---|");
console.log(row("ours: modal", runs.ours));
console.log(row("ours: checkout embed in a form", runs.embed));
console.log(row(`vanilla-cookieconsent ${PEER_VERSION} (banner + preferences)`, runs.peer));

const over = [];
const notMet = [];
const checks = [
  ["time to prompt (median ms)", med(runs.ours, "ms"), med(runs.peer, "ms"), BUDGET.ttp, true],
  ["bytes before the prompt (gz -9)", max(runs.ours, "bytes"), max(runs.peer, "bytes"), BUDGET.bytes, true],
  // At 4× neither has a load without a task over 50 ms, and ours/peer went 0.82–1.25
  // between runs (1.237, 1.248): printed there, judged unthrottled, where it always was.
  [`longest task (median ms, < ${TASK_FLOOR_MS} counted as ${TASK_FLOOR_MS})${THROTTLE > 1 ? ", judged only unthrottled" : ""}`, floor(runs.ours), floor(runs.peer), BUDGET.task, THROTTLE === 1],
  [`main-thread time (median ms)${THROTTLE > 1 ? "" : ", judged only with WIDGET_CPU_THROTTLE"}`, med(runs.ours, "main"), med(runs.peer, "main"), BUDGET.main, THROTTLE > 1],
];
console.log("\n| ours / peer | ours | peer | ratio | target | budget | verdict |\n|---|---|---|---|---|---|---|");
for (const [name, a, b, budget, judged] of checks) {
  const ratio = a / b;
  let verdict = ratio <= TARGET ? "met" : ratio <= budget ? "NOT MET (within budget)" : "OVER BUDGET";
  if (!judged) verdict = `(${verdict.toLowerCase()}, not judged)`;
  else if (ratio > budget) over.push(`${name}: ours/peer ${ratio.toFixed(3)} is over its budget ${budget}`);
  else if (ratio > TARGET) notMet.push(`${name}: ours/peer ${ratio.toFixed(3)} > ${TARGET}`);
  console.log(`| ${name} | ${fmt(a)} | ${fmt(b)} | ${ratio.toFixed(3)} | ≤ ${TARGET} | ≤ ${budget} | ${verdict} |`);
}
console.log(`\nBudgets (ours/peer): time to prompt ≤ ${BUDGET.ttp}${THROTTLE > 1 ? ` at ${THROTTLE}×` : ""}, today's ratios plus a margin while the target 1 is met in some runs only; bytes ≤ ${BUDGET.bytes}, the target; longest task and main-thread time ≤ ${BUDGET.task}, the target plus a tolerance for this shared machine.`);
if (notMet.length) console.log(`\n*** NOT MET (target ours ≤ peer): ${notMet.join("; ")} ***`);

const clsLimit = max(control, "cls") * CLS_SHARE;
console.log(`\nThe checkout embed page without its reserved space (control, 3 loads): CLS ${max(control, "cls").toFixed(4)}; the embed's limit is 1/50 of that, ${clsLimit.toFixed(6)}.`);
if (!(clsLimit > 0)) over.push("the control page did not shift: the layout-shift check would pass anything");
const moved = [...new Set(runs.embed.flatMap((r) => r.moved))].join("\n  ");
if (max(runs.embed, "cls") > clsLimit) {
  over.push(`the checkout embed shifted the page (CLS ${max(runs.embed, "cls").toFixed(6)} > ${clsLimit.toFixed(6)}); its space must be reserved. Moved:\n  ${moved}`);
} else if (moved) {
  console.log(`Within the limit, the embed page moved:\n  ${moved}`);
}

const firsts = consents.map((c) => c.first);
const seconds = consents.map((c) => c.second);
const statuses = (cs) => [...new Set(cs.map((c) => c.status))].join(", ");
console.log(`\nA cross-origin consent (POST application/json with an Idempotency-Key: not a simple request), ${CONSENT_RUNS} cold modal pages, two consents each (fresh numbers), CDP Network timings, median ms:\n`);
console.log("| consent | preflights sent | OPTIONS round trip (sent → answered) | OPTIONS send → headers | the POST's wait from fetch() to being sent | POST send → headers | POST status |\n|---|---|---|---|---|---|---|");
const crow = (name, cs) =>
  `| ${name} | ${cs.reduce((n, c) => n + c.preflights, 0)} of ${cs.length} | ${fmt(median(cs.map((c) => c.preflight)), 1)} | ${fmt(median(cs.map((c) => c.preflightRtt)), 1)} | ${fmt(median(cs.map((c) => c.wait)), 1)} | ${fmt(median(cs.map((c) => c.post)), 1)} | ${statuses(cs)} |`;
console.log(crow("first from the page", firsts));
console.log(crow("second from the same page", seconds));
if (firsts.some((c) => c.preflights !== 1)) over.push("a first consent from a fresh page was not preceded by exactly one preflight (see the table): the measure is off");
if (seconds.some((c) => c.preflights !== 0)) over.push("a second consent from the same page sent a preflight again: the preflight is not cached (Access-Control-Max-Age)");
if ([...firsts, ...seconds].some((c) => c.status !== 201 && c.status !== 200)) console.log("Note: a consent was not answered 201 (see the status column; e.g. the per-IP limit after a test run): its POST time is a refusal's.");

if (over.length) {
  console.error(`\nFAIL:\n${over.join("\n")}`);
  process.exit(1);
}
