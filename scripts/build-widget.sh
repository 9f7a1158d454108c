#!/usr/bin/env bash
# Builds the widget twice: Rust → wasm (size profile) → wasm-bindgen (no-modules)
# → wasm-opt -Oz. The modal-only build (no `surfaces` feature: the form of the
# modal the loader shows) has its glue inside the loader script www/widget.js,
# which fetches its wasm on the visitor's first interaction with the modal; the
# full build (checkout opt-in and chat widget too) is
# www/widget/optin_widget_full.<hash>.{js,wasm}, which the loader fetches only for
# pages that show those surfaces or call mount()/consent().
#
# core and alloc are rebuilt for the widget with panics that abort on the spot
# (`-Cpanic=immediate-abort`, `-Zbuild-std`; needs the rust-src component and,
# on stable, RUSTC_BOOTSTRAP as the fuzz targets do): no panic messages, file
# paths or core::fmt in the download (nor source locations or Debug output).
# Its own target dir keeps the ordinary wasm32 build (clippy, tests) untouched.
#
# Size steps after -Oz: wasm-opt renames every import, export and the import
# module to one or two letters (wasm-bindgen's hashed names would otherwise be
# shipped twice, in the wasm and in the JS glue) and prints the mapping, which
# is applied to the glue; esbuild then minifies the scripts.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT=target/widget
FEATURES=(--enable-bulk-memory --enable-nontrapping-float-to-int --enable-reference-types
  --enable-sign-ext --enable-mutable-globals)
rm -rf "$OUT" && mkdir -p "$OUT" www/widget
rm -f www/widget/*.wasm www/widget/*.js

# $1: output name, $2: no-modules global, then cargo feature flags.
build() {
  local name=$1 global=$2; shift 2
  RUSTC_BOOTSTRAP=1 RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none -Zfmt-debug=none" \
    cargo build -p optin-widget --target wasm32-unknown-unknown --release "$@" \
    -Zbuild-std=core,alloc --target-dir target/widget-std
  wasm-bindgen target/widget-std/wasm32-unknown-unknown/release/optin_widget.wasm \
    --out-dir "$OUT/$name" --out-name "$name" --target no-modules --no-typescript \
    --no-modules-global "$global" --omit-default-module-path --encode-into always
  # Rust's data starts at 1 MiB and a fresh memory is zeroed: both let -Oz drop more.
  wasm-opt -Oz --converge --low-memory-unused --zero-filled-memory "${FEATURES[@]}" \
    --strip-debug --strip-producers "$OUT/$name/${name}_bg.wasm" -o "$OUT/$name/oz.wasm"
  wasm-opt --minify-imports-and-exports-and-modules "${FEATURES[@]}" \
    "$OUT/$name/oz.wasm" -o "$OUT/$name/opt.wasm" >"$OUT/$name/minify-map.json"
  local hash; hash=$(sha256sum "$OUT/$name/opt.wasm" | cut -c1-12)
  cp "$OUT/$name/opt.wasm" "www/widget/$name.$hash.wasm"
  echo "$name.$hash.wasm" >"$OUT/$name/wasm-name"
}
build optin_widget wasm_bindgen --no-default-features
build optin_widget_full whatsappOptInFull

# Applies wasm-opt's renaming to a wasm-bindgen glue file.
rename_glue() {
  node -e '
    const fs = require("fs");
    const [glue, map, out] = process.argv.slice(1);
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
    // The loader always passes a URL or a fetch of our application/wasm file:
    // wasm-bindgen'"'"'s other ways in (initSync, ArrayBuffer, the non-streaming
    // fallback, deprecation warnings) are dead weight in the download.
    const from = g.indexOf("    async function __wbg_load(");
    const to = g.indexOf("    return Object.assign(__wbg_init, { initSync }, exports);");
    if (from < 0 || to < 0) throw new Error("wasm-bindgen glue changed: __wbg_load/__wbg_init not found");
    g = g.slice(0, from) + `    async function __wbg_init({ module_or_path: m }) {
        if (wasm !== undefined) return wasm;
        const { instance, module } = await WebAssembly.instantiateStreaming(
            m instanceof URL ? fetch(m) : m, __wbg_get_imports());
        return __wbg_finalize_init(instance, module);
    }
    return Object.assign(__wbg_init, exports);
` + g.slice(to + "    return Object.assign(__wbg_init, { initSync }, exports);\n".length);
    fs.writeFileSync(out, g);
  ' "$1" "$2" "$3"
}
rename_glue "$OUT/optin_widget/optin_widget.js" "$OUT/optin_widget/minify-map.json" "$OUT/lite-glue.js"
rename_glue "$OUT/optin_widget_full/optin_widget_full.js" "$OUT/optin_widget_full/minify-map.json" \
  "$OUT/full-glue.js"
esbuild "$OUT/full-glue.js" --minify --target=es2020 --legal-comments=none --log-level=warning \
  --outfile="$OUT/full.min.js"
full_wasm=$(cat "$OUT/optin_widget_full/wasm-name")
full_js="${full_wasm%.wasm}.js"
cp "$OUT/full.min.js" "www/widget/$full_js"

# The Turnstile challenge module, imported by the loader only when a consent is
# answered /problems/challenge-required.
esbuild crates/optin-widget/js/challenge.js --minify --format=esm --target=es2020 --legal-comments=none \
  --log-level=warning --outfile="$OUT/challenge.min.js"
challenge_js="challenge.$(sha256sum "$OUT/challenge.min.js" | cut -c1-12).js"
cp "$OUT/challenge.min.js" "www/widget/$challenge_js"

version=$(awk -F'"' '/^version = /{print $2; exit}' Cargo.toml)
node -e '
  const fs = require("fs");
  const [loader, glue, wasm, fullJs, fullWasm, challenge, version, out] = process.argv.slice(1);
  const js = fs.readFileSync(loader, "utf8")
    .replace("/*__WASM_BINDGEN__*/", () => fs.readFileSync(glue, "utf8"))
    .replaceAll("__WASM__", "widget/" + wasm)
    .replace("__FULL_JS__", "widget/" + fullJs)
    .replace("__FULL_WASM__", "widget/" + fullWasm)
    .replace("__CHALLENGE__", "widget/" + challenge)
    .replace("__VERSION__", version);
  fs.writeFileSync(out, js);
' crates/optin-widget/js/loader.js "$OUT/lite-glue.js" "$(cat "$OUT/optin_widget/wasm-name")" \
  "$full_js" "$full_wasm" "$challenge_js" "$version" "$OUT/widget.full.js"
esbuild "$OUT/widget.full.js" --minify --target=es2020 --legal-comments=none \
  --log-level=warning --outfile=www/widget.js
printf 'widget: www/widget.js %s B + www/widget/%s %s B (raw); full build: www/widget/%s %s B + %s B\n' \
  "$(wc -c <www/widget.js)" "$(cat "$OUT/optin_widget/wasm-name")" \
  "$(wc -c <"www/widget/$(cat "$OUT/optin_widget/wasm-name")")" "${full_wasm%.wasm}.{js,wasm}" \
  "$(wc -c <"www/widget/$full_js")" "$(wc -c <"www/widget/$full_wasm")"
