// Widget size and speed against vanilla-cookieconsent 3.1.0 (PRODUCT.md's smallest peer),
// both served by the same local Worker and opened in the same headless Chromium.
// Usage: OPTIN_BASE=http://127.0.0.1:8787 node scripts/bench-widget.mjs [runs]
// Prints a table; exits 1 if our median time-to-prompt exceeds BUDGET_MS.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { launch, BASE } from "../tests/e2e/support.mjs";

const RUNS = Number(process.argv[2] ?? 15);
const BUDGET_MS = Number(process.env.WIDGET_TTP_BUDGET_MS ?? 1500);
const peerDir = "node_modules/vanilla-cookieconsent/dist";
// `scripts/dev build` stages the peer into www/ before wrangler dev starts (it serves
// the assets it saw at start), so a copy made here would not be served.
if (!existsSync("www/bench/peer/cookieconsent.umd.js")) {
  console.error("www/bench/peer/ is missing: run scripts/dev build (it stages the peer) and restart the stack");
  process.exit(2);
}

const gz = (path) => gzipSync(readFileSync(path), { level: 9 }).length;
const wasm = readdirSync("www/widget").find((f) => f.endsWith(".wasm"));
const sizes = {
  ours: gz("www/widget.js") + gz(`www/widget/${wasm}`),
  peer: gz(`${peerDir}/cookieconsent.umd.js`) + gz(`${peerDir}/cookieconsent.css`),
};

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
async function timeToPrompt(browser, path) {
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    const context = await browser.newContext(); // cold cache and storage every run
    const page = await context.newPage();
    await page.goto(`${BASE}${path}`);
    await page.waitForFunction(() => window.__shownAt !== undefined, null, { timeout: 15_000 });
    times.push(await page.evaluate(() => window.__shownAt));
    await context.close();
  }
  return times;
}

const browser = await launch();
await timeToPrompt(browser, "/bench/ours.html"); // warm the Worker, not the browser
const ours = await timeToPrompt(browser, "/bench/ours.html");
const peer = await timeToPrompt(browser, "/bench/peer.html");
await browser.close();

const row = (name, bytes, t) =>
  `| ${name} | ${bytes} | ${median(t).toFixed(0)} | ${Math.min(...t).toFixed(0)} | ${Math.max(...t).toFixed(0)} |`;
console.log(`\nTime from navigation to the prompt on screen, ${RUNS} cold page loads each (ms), and gzip -9 bytes:\n`);
console.log("| widget | JS+CSS+wasm gz (B) | median ms | min ms | max ms |\n|---|---|---|---|---|");
console.log(row("ours (modal, checkout and chat surfaces)", sizes.ours, ours));
console.log(row("vanilla-cookieconsent 3.1.0 (banner + preferences)", sizes.peer, peer));
if (median(ours) > BUDGET_MS) {
  console.error(`our median time-to-prompt ${median(ours).toFixed(0)} ms is over the ${BUDGET_MS} ms budget`);
  process.exit(1);
}
