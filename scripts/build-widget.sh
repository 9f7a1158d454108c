#!/usr/bin/env bash
# Builds the widget: Rust → wasm (size profile) → wasm-bindgen (no-modules) →
# wasm-opt -Oz → one minified loader script www/widget.js + a fingerprinted .wasm.
#
# core and alloc are rebuilt for the widget with panics that abort on the spot
# (`-Cpanic=immediate-abort`, `-Zbuild-std`; needs the rust-src component and,
# on stable, RUSTC_BOOTSTRAP as the fuzz targets do): no panic messages, file
# paths or core::fmt in the download (nor source locations or Debug output). Its own target dir keeps the ordinary
# wasm32 build (clippy, tests) untouched.
#
# Size steps after -Oz: wasm-opt renames every import, export and the import
# module to one or two letters (wasm-bindgen's hashed names would otherwise be
# shipped twice, in the wasm and in the JS glue) and prints the mapping, which
# is applied to the glue; esbuild then minifies the script.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT=target/widget
FEATURES=(--enable-bulk-memory --enable-nontrapping-float-to-int --enable-reference-types
  --enable-sign-ext --enable-mutable-globals)
RUSTC_BOOTSTRAP=1 RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none -Zfmt-debug=none" \
  cargo build -p optin-widget --target wasm32-unknown-unknown --release \
  -Zbuild-std=core,alloc --target-dir target/widget-std
rm -rf "$OUT" && mkdir -p "$OUT" www/widget
wasm-bindgen target/widget-std/wasm32-unknown-unknown/release/optin_widget.wasm \
  --out-dir "$OUT" --target no-modules --no-typescript --omit-default-module-path --encode-into always
# Rust's data starts at 1 MiB and a fresh memory is zeroed: both let -Oz drop more.
wasm-opt -Oz --converge --low-memory-unused --zero-filled-memory "${FEATURES[@]}" --strip-debug --strip-producers \
  "$OUT/optin_widget_bg.wasm" -o "$OUT/optin_widget.oz.wasm"
wasm-opt --minify-imports-and-exports-and-modules "${FEATURES[@]}" \
  "$OUT/optin_widget.oz.wasm" -o "$OUT/optin_widget.opt.wasm" >"$OUT/minify-map.json"
hash=$(sha256sum "$OUT/optin_widget.opt.wasm" | cut -c1-12)
wasm_name="optin_widget.$hash.wasm"
rm -f www/widget/*.wasm
cp "$OUT/optin_widget.opt.wasm" "www/widget/$wasm_name"
version=$(awk -F'"' '/^version = /{print $2; exit}' Cargo.toml)
node -e '
  const fs = require("fs");
  const [loader, glue, map, wasm, version, out] = process.argv.slice(1);
  const { imports, exports } = JSON.parse(fs.readFileSync(map, "utf8"));
  const imp = new Map(), exp = new Map(exports), modules = new Set();
  for (const [module, name, to] of imports) { imp.set(name, to); modules.add(module); }
  if (modules.size !== 1) throw new Error("expected one import module, got " + [...modules]);
  let g = fs.readFileSync(glue, "utf8");
  let renamed = 0;
  // Import object keys: `            name: function(`.
  g = g.replace(/^(\s+)([A-Za-z_$][\w$]*): function\(/gm, (m, sp, name) =>
    imp.has(name) ? (renamed++, sp + JSON.stringify(imp.get(name)) + ": function(") : m);
  if (renamed !== imp.size) throw new Error(`renamed ${renamed} of ${imp.size} imports`);
  g = g.split(JSON.stringify([...modules][0])).join(JSON.stringify("a"));
  // Export uses: `wasm.name`.
  g = g.replace(/\bwasm\.([A-Za-z_$][\w$]*)/g, (m, name) =>
    exp.has(name) ? "wasm." + exp.get(name) : m);
  const js = fs.readFileSync(loader, "utf8")
    .replace("/*__WASM_BINDGEN__*/", () => g)
    .replace("__WASM__", "widget/" + wasm)
    .replace("__VERSION__", version);
  fs.writeFileSync(out, js);
' crates/optin-widget/js/loader.js "$OUT/optin_widget.js" "$OUT/minify-map.json" "$wasm_name" "$version" \
  "$OUT/widget.full.js"
esbuild "$OUT/widget.full.js" --minify --target=es2020 --legal-comments=none \
  --log-level=warning --outfile=www/widget.js
printf 'widget: www/widget.js %s B, www/widget/%s %s B (raw)\n' \
  "$(wc -c <www/widget.js)" "$wasm_name" "$(wc -c <"www/widget/$wasm_name")"
