// Widget size budget: gzip -9 of everything a page downloads before the prompt
// shows — the loader script (which builds and shows the modal, its CSS inside)
// and the config response with the visitor's strings. The modal-only wasm, fetched
// on the visitor's first interaction with the prompt, and the full build (checkout
// opt-in, chat widget), fetched at once only by pages that show those, are printed
// too. The config is fetched from the running Worker
// (OPTIN_BASE) for the demo site in every locale; the largest counts.
// Prints the numbers; exits non-zero when the budget is exceeded.
import { readFileSync, readdirSync } from "node:fs";
import { gzipSync } from "node:zlib";

// The speed issue's target is vanilla-cookieconsent's 15,498 B; the budget is lowered
// as bytes are won: 24.5 KB while the wasm came before the prompt (24,891 B), 10 KB
// since the loader shows the modal itself (9,006 B, 2026-12-04).
const BUDGET_BYTES = Number(process.env.WIDGET_BUDGET_BYTES ?? 10 * 1024);
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

// The README's tag: the per-site script, the loader with the config inside (in the
// locale of the browser's Accept-Language), one response.
let perSite = { bytes: 0, locale: "" };
for (const locale of LOCALES) {
  const res = await fetch(`${BASE}/v1/sites/demo/widget.js`, { headers: { "accept-language": locale } });
  if (!res.ok) throw new Error(`per-site script for ${locale}: HTTP ${res.status}`);
  const bytes = gzip(Buffer.from(await res.arrayBuffer()));
  if (bytes > perSite.bytes) perSite = { bytes, locale };
}

const parts = {
  "widget.js": gz("www/widget.js"),
  [`config response (demo, ${config.locale}: largest)`]: config.bytes,
};
const split = Object.values(parts).reduce((a, b) => a + b, 0);
for (const [name, bytes] of Object.entries(parts)) console.log(`${name.padEnd(42)} ${bytes} B gzip`);
console.log(`${"widget.js + config".padEnd(42)} ${split} B gzip`);
console.log(`${`or /v1/sites/demo/widget.js (${perSite.locale}: largest)`.padEnd(42)} ${perSite.bytes} B gzip`);
const total = Math.max(split, perSite.bytes);
console.log(`${"total before the prompt shows (the larger)".padEnd(42)} ${total} B gzip, budget ${BUDGET_BYTES} B`);
const form = gz(`www/widget/${wasm}`);
console.log(`${"then, at the first interaction: the form".padEnd(42)} ${form} B gzip (${wasm}), ${total + form} B in all`);
const extra = full.reduce((n, f) => n + gz(`www/widget/${f}`), 0);
console.log(`${"checkout/chat pages: the full build".padEnd(42)} ${extra} B gzip (${full.join(" + ")}), ` +
  `${total + extra} B in all`);
if (total > BUDGET_BYTES) {
  console.error(`widget is over budget by ${total - BUDGET_BYTES} B`);
  process.exit(1);
}
