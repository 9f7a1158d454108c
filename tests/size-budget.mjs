// Widget size budget: gzip -9 of everything a page downloads before the prompt
// shows — the loader script, the modal-only wasm (CSS is inside it) and the
// config response with the visitor's strings. The full build (checkout opt-in,
// chat widget), fetched only by pages that show those, is printed too. The config is fetched from the running Worker
// (OPTIN_BASE) for the demo site in every locale; the largest counts.
// Prints the numbers; exits non-zero when the budget is exceeded.
import { readFileSync, readdirSync } from "node:fs";
import { gzipSync } from "node:zlib";

// Under the issue's CI ceiling of 25 KB (25,600 B), lowered as bytes are won:
// 24.5 KB since the loader sends consents and wasm-bindgen's init was trimmed (24,891 B).
const BUDGET_BYTES = Number(process.env.WIDGET_BUDGET_BYTES ?? 24.5 * 1024);
const BASE = process.env.OPTIN_BASE ?? "http://127.0.0.1:8787";
const LOCALES = ["en", "id", "pt-BR", "tr", "da", "es", "de"];
const gzip = (bytes) => gzipSync(bytes, { level: 9 }).length;
const gz = (path) => gzip(readFileSync(path));

const files = readdirSync("www/widget");
const one = (re) => {
  const found = files.filter((f) => re.test(f));
  if (found.length !== 1) throw new Error(`expected one ${re} in www/widget, found ${found}`);
  return found[0];
};
const wasm = one(/^optin_widget\.[0-9a-f]+\.wasm$/);
const full = [one(/^optin_widget_full\.[0-9a-f]+\.js$/), one(/^optin_widget_full\.[0-9a-f]+\.wasm$/)];

let config = { bytes: 0, locale: "" };
for (const locale of LOCALES) {
  const res = await fetch(`${BASE}/v1/sites/demo/config?locale=${locale}`).catch((e) => {
    throw new Error(`the size check needs the Worker at ${BASE} (start a stack): ${e.message}`);
  });
  if (!res.ok) throw new Error(`config for ${locale}: HTTP ${res.status}`);
  const bytes = gzip(Buffer.from(await res.arrayBuffer()));
  if (bytes > config.bytes) config = { bytes, locale };
}

const parts = {
  "widget.js": gz("www/widget.js"),
  [`${wasm} (modal-only)`]: gz(`www/widget/${wasm}`),
  [`config response (demo, ${config.locale}: largest)`]: config.bytes,
};
const total = Object.values(parts).reduce((a, b) => a + b, 0);
for (const [name, bytes] of Object.entries(parts)) console.log(`${name.padEnd(42)} ${bytes} B gzip`);
console.log(`${"total before the prompt shows".padEnd(42)} ${total} B gzip, budget ${BUDGET_BYTES} B`);
const extra = full.reduce((n, f) => n + gz(`www/widget/${f}`), 0);
console.log(`${"checkout/chat pages instead: full build".padEnd(42)} ${extra} B gzip (${full.join(" + ")}), ` +
  `${total - parts[`${wasm} (modal-only)`] + extra} B in all`);
if (total > BUDGET_BYTES) {
  console.error(`widget is over budget by ${total - BUDGET_BYTES} B`);
  process.exit(1);
}
