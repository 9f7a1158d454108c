// SECURITY.md names, per threat, the tests that catch it. This check fails when a
// named test does not exist (renamed, deleted, or never written): an e2e test is
// named as `file.test.mjs` → "its title" (a title may end in "…", a prefix), a
// Rust test by its function name in backticks (`module::tests::name` or `name`).
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const md = readFileSync("SECURITY.md", "utf8");
const missing = [];
let checked = 0;

/** Every `test("…"` title in an e2e file. */
const titles = (file) => {
  const src = readFileSync(join("tests/e2e", file), "utf8");
  const named = [...src.matchAll(/\btest\(\s*"((?:[^"\\]|\\.)*)"/g)].map((m) => JSON.parse(`"${m[1]}"`));
  // A table-driven file (`test(\`${name} → …\`)`): each row's leading string is its title.
  const rows = /\btest\(`\$\{name\}/.test(src) ? [...src.matchAll(/^\s*\["([^"]+)",/gm)].map((m) => m[1]) : [];
  return named.concat(rows);
};

for (const m of md.matchAll(/`([\w-]+\.test\.mjs)` → ([^|]*?)(?=`[\w-]+\.test\.mjs` →|`[\w/.-]+\.rs` →|consent-core →|`scripts\/|\||$)/gs)) {
  const [, file, text] = m;
  let have;
  try { have = titles(file); } catch { missing.push(`${file}: no such file`); continue; }
  for (const q of text.matchAll(/"([^"]+)"/g)) {
    const name = q[1].split("…")[0].trimEnd();
    if (name.length < 12) continue; // a quoted value ("template after STOP"), not a title
    checked++;
    if (!have.some((t) => t.startsWith(name))) missing.push(`${file} → "${q[1]}"`);
  }
}

const rust = [];
const walk = (dir) => {
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith(".rs")) rust.push(readFileSync(p, "utf8"));
  }
};
walk("crates");
const fns = new Set(rust.flatMap((src) => [...src.matchAll(/\bfn ([a-z0-9_]+)\s*\(/g)].map((m) => m[1])));
for (const m of md.matchAll(/`((?:[a-z0-9_]+::)*([a-z0-9_]+))`/g)) {
  const name = m[2];
  if ((name.match(/_/g) ?? []).length < 3) continue; // a field or a setting, not a test name
  checked++;
  if (!fns.has(name)) missing.push(`Rust test \`${m[1]}\``);
}

console.log(`SECURITY.md: ${checked} named tests checked, ${missing.length} missing`);
for (const m of missing) console.log(`  missing: ${m}`);
process.exit(missing.length ? 1 : 0);
