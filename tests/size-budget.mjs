// Widget size budget: gzip -9 of everything a page downloads for the widget.
// Prints the numbers; exits non-zero when the budget is exceeded.
import { readFileSync, readdirSync } from "node:fs";
import { gzipSync } from "node:zlib";

const BUDGET_BYTES = Number(process.env.WIDGET_BUDGET_BYTES ?? 40 * 1024);
const gz = (path) => gzipSync(readFileSync(path), { level: 9 }).length;
const wasm = readdirSync("www/widget").filter((f) => f.endsWith(".wasm"));
if (wasm.length !== 1) throw new Error(`expected one widget wasm in www/widget, found ${wasm}`);
const parts = { "widget.js": gz("www/widget.js"), [wasm[0]]: gz(`www/widget/${wasm[0]}`) };
const total = Object.values(parts).reduce((a, b) => a + b, 0);
for (const [name, bytes] of Object.entries(parts)) console.log(`${name.padEnd(36)} ${bytes} B gzip`);
console.log(`${"total (JS + wasm; CSS is inside the wasm)".padEnd(36)} ${total} B gzip, budget ${BUDGET_BYTES} B`);
if (total > BUDGET_BYTES) {
  console.error(`widget is over budget by ${total - BUDGET_BYTES} B`);
  process.exit(1);
}
