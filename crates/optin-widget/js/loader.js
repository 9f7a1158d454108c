/* WhatsApp opt-in widget loader. Include once or many times:
 *   <script src="https://<worker>/widget.js" data-site="<site>" async></script>
 * Exposes window.WhatsAppOptIn = { open(), close(), version } and dispatches
 * `whatsapp-optin:*` CustomEvents on document. Needs CSP script-src 'wasm-unsafe-eval'. */
(function () {
  "use strict";
  if (window.WhatsAppOptIn) return; // idempotent: a second copy of the tag does nothing
  var script = document.currentScript;
  var src = script ? script.src : "";
  var site = script && script.getAttribute("data-site");
  var api = (script && script.getAttribute("data-api")) || new URL(src).origin;
  var autoOpen = !(script && script.getAttribute("data-auto-open") === "false");
  var ready = null;
  var pending = [];
  var call = function (name) {
    return function () {
      if (ready) ready[name]();
      else pending.push(name);
    };
  };
  window.WhatsAppOptIn = { open: call("open"), close: call("close"), version: "__VERSION__" };
  if (!site) {
    console.error("WhatsAppOptIn: the script tag needs data-site");
    return;
  }
  /*__WASM_BINDGEN__*/
  wasm_bindgen({ module_or_path: new URL("__WASM__", src) })
    .then(function () {
      ready = wasm_bindgen;
      wasm_bindgen.start(site, api, autoOpen);
    })
    .catch(function (err) {
      document.dispatchEvent(
        new CustomEvent("whatsapp-optin:error", {
          bubbles: true,
          detail: { site: site, surface: "modal", message: String(err) },
        })
      );
    });
})();
