#!/usr/bin/env bash
# Builds the widget: Rust → wasm (size profile) → wasm-bindgen (no-modules) →
# wasm-opt -Oz → one loader script www/widget.js + a fingerprinted .wasm.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT=target/widget
cargo build -p optin-widget --target wasm32-unknown-unknown --release
rm -rf "$OUT" && mkdir -p "$OUT" www/widget
wasm-bindgen target/wasm32-unknown-unknown/release/optin_widget.wasm \
  --out-dir "$OUT" --target no-modules --no-typescript
wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-reference-types \
  --enable-sign-ext --enable-mutable-globals \
  "$OUT/optin_widget_bg.wasm" -o "$OUT/optin_widget.opt.wasm"
hash=$(sha256sum "$OUT/optin_widget.opt.wasm" | cut -c1-12)
wasm_name="optin_widget.$hash.wasm"
rm -f www/widget/*.wasm
cp "$OUT/optin_widget.opt.wasm" "www/widget/$wasm_name"
version=$(awk -F'"' '/^version = /{print $2; exit}' Cargo.toml)
node -e '
  const fs = require("fs");
  const [loader, glue, wasm, version, out] = process.argv.slice(1);
  const js = fs.readFileSync(loader, "utf8")
    .replace("/*__WASM_BINDGEN__*/", () => fs.readFileSync(glue, "utf8"))
    .replace("__WASM__", "widget/" + wasm)
    .replace("__VERSION__", version);
  fs.writeFileSync(out, js);
' crates/optin-widget/js/loader.js "$OUT/optin_widget.js" "$wasm_name" "$version" www/widget.js
printf 'widget: www/widget.js %s B, www/widget/%s %s B (raw)\n' \
  "$(wc -c <www/widget.js)" "$wasm_name" "$(wc -c <"www/widget/$wasm_name")"
