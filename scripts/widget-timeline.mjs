// Where the modal's time to prompt goes: cold loads of the shop's /bench/ours.html (the
// merchant's origin, SHOP_BASE; the widget from the Worker's, OPTIN_BASE) with the
// browser's own functions timed from outside the widget (no change to what is served).
// Usage: SHOP_BASE=http://127.0.0.1:8791 node scripts/widget-timeline.mjs [runs]
// Prints the median of each step, in ms, over the runs (after one warm-up load).
import { launch, SHOP } from "../tests/e2e/support.mjs";
import { median } from "./lib/harness.mjs";

const RUNS = Number(process.argv[2] ?? 10);

/** Runs in the page before its scripts: notes when each browser call happens. */
function instrument() {
  const t = (window.__timeline = {});
  const now = () => performance.now();
  const wrap = (obj, name, before, after) => {
    const orig = obj[name];
    obj[name] = function (...args) {
      if (before) t[before] ??= now();
      const r = orig.apply(this, args);
      if (after) Promise.resolve(r).then(() => (t[after] ??= now()), () => {});
      return r;
    };
  };
  wrap(window, "fetch", "first fetch sent");
  wrap(WebAssembly, "instantiateStreaming", null, "wasm instantiated");
  wrap(Response.prototype, "json", null, "config parsed");
  wrap(HTMLDialogElement.prototype, "showModal", "showModal called", null);
  document.addEventListener("whatsapp-optin:open", () => {
    t["open event"] = now();
    requestAnimationFrame(() => setTimeout(() => (t["first frame with the prompt"] = now())));
  });
}

const browser = await launch();
const runs = [];
for (let i = 0; i <= RUNS; i++) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.addInitScript(instrument);
  await page.goto(`${SHOP}/bench/ours.html`);
  await page.waitForFunction(() => window.__timeline["first frame with the prompt"] !== undefined, null, { timeout: 15_000 });
  const run = await page.evaluate(() => {
    const arrived = (re) => performance.getEntriesByType("resource").find((e) => re.test(e.name))?.responseEnd;
    return {
      "widget.js arrived": arrived(/\/widget\.js$/),
      ...window.__timeline,
      "wasm arrived": arrived(/\.wasm$/),
      "config arrived": arrived(/\/config/),
    };
  });
  if (i > 0) runs.push(run); // the first load warms the Worker
  await context.close();
}
await browser.close();

// A step no load reached (since the loader shows the modal, the wasm comes only at the
// first touch of the form, and the per-site script carries the config) is listed as such.
const reached = (s) => runs.some((r) => r[s] !== undefined);
const at = (s) => median(runs.map((r) => r[s]).filter((v) => v !== undefined));
const keys = [...new Set(runs.flatMap((r) => Object.keys(r)))];
const steps = keys.filter(reached).sort((a, b) => at(a) - at(b));
console.log(`\nModal page, ${RUNS} cold loads: median ms from navigation to each step\n`);
console.log("| step | median ms |\n|---|---|");
for (const s of steps) console.log(`| ${s} | ${at(s).toFixed(0)} |`);
const missing = keys.filter((s) => !reached(s));
if (missing.length) console.log(`\nNot reached before the prompt in any load: ${missing.join(", ")}.`);
const gap = (a, b) => (reached(a) && reached(b) ? median(runs.map((r) => r[b] - r[a]).filter(Number.isFinite)).toFixed(0) : "–");
console.log(`\nMedian per-run gaps (ms): script arrival → showModal ${gap("widget.js arrived", "showModal called")}; ` +
  `showModal → open event ${gap("showModal called", "open event")}; ` +
  `open event → first frame ${gap("open event", "first frame with the prompt")}; ` +
  `script arrival → config arrived ${gap("widget.js arrived", "config arrived")}.`);
