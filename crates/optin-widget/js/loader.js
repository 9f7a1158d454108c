/* WhatsApp opt-in widget loader. Include once or many times:
 *   <script src="https://<worker>/widget.js" data-site="<site>" async></script>
 * Exposes window.WhatsAppOptIn = { open(), close(), mount(el, opts), consent(opts), version }
 * and dispatches `whatsapp-optin:*` CustomEvents on document (see widget.d.ts).
 * Needs CSP `script-src 'wasm-unsafe-eval'`; without it `whatsapp-optin:error` is
 * dispatched and nothing else happens (the merchant's page keeps working). */
(function () {
  "use strict";
  if (window.WhatsAppOptIn) return; // idempotent: a second copy of the tag does nothing
  var script = document.currentScript;
  // A copy run inline (an optimiser's, or a tag holding the text) has no src of
  // its own to find the wasm by: the tag it copies has, and says the site.
  if (!(script && script.src)) script = document.querySelector("script[data-site][src]") || script;
  var src = script ? script.src : "";
  var site = script && script.getAttribute("data-site");
  var api = (script && script.getAttribute("data-api")) || (src && new URL(src).origin);
  var autoOpen = !(script && script.getAttribute("data-auto-open") === "false");
  var chat = !!(script && script.hasAttribute("data-chat"));
  var ready = null;
  var failed = null;
  var pending = [];
  // Calls made before the wasm is ready are queued and replayed in order.
  // The modal-only build has no mount/consent: those load the full build.
  // Data handed to the wasm (the config, the Worker's answers, options passed
  // in) has no prototype: a field the page put on Object.prototype (old
  // libraries do) is never read as if the data had it.
  var bare = (v) => {
    if (v && typeof v == "object" && !(v instanceof Node))
      for (var k of Object.keys((v = Array.isArray(v) ? v : Object.assign(Object.create(null), v))))
        v[k] = bare(v[k]);
    return v;
  };
  var call = function (name) {
    return function () {
      var args = [].map.call(arguments, (v) => bare(v));
      var run = function () {
        if (failed) return Promise.reject(failed);
        if (!ready[name]) {
          return loadFull(false).then(function (m) { return m[name].apply(null, args); });
        }
        return ready[name].apply(null, args);
      };
      if (ready) return run();
      if (failed) return Promise.reject(failed);
      return new Promise(function (resolve, reject) {
        pending.push(function () {
          Promise.resolve().then(run).then(resolve, reject);
        });
      });
    };
  };
  window.WhatsAppOptIn = {
    open: call("open"),
    close: call("close"),
    mount: call("mount"),
    consent: call("consent"),
    version: "__VERSION__",
  };
  // Reserve the checkout opt-in's space before the wasm arrives (no layout shift).
  // A constructed stylesheet: allowed under a strict CSP, unlike a <style> element.
  try {
    var reserve = new CSSStyleSheet();
    reserve.replaceSync(
      "[data-wa-optin=checkout]{display:block;min-height:var(--wa-optin-checkout-height,8.5rem)}"
    );
    document.adoptedStyleSheets = document.adoptedStyleSheets.concat(reserve);
  } catch (e) {
    /* old browser: the space is not reserved */
  }
  // Single-page apps change route with history.pushState, which fires no event:
  // announce it, so the modal's targeting is evaluated again (popstate covers back/forward).
  try {
    var push = history.pushState;
    history.pushState = function () {
      var r = push.apply(this, arguments);
      window.dispatchEvent(new Event("whatsapp-optin:route"));
      return r;
    };
  } catch (e) {
    /* a frozen history: route changes are not seen */
  }
  var flush = function () {
    var queued = pending;
    pending = [];
    queued.forEach(function (f) { f(); });
  };
  // When the wasm cannot run (a CSP without 'wasm-unsafe-eval', an old browser),
  // show the merchant's plain link (data-fallback-href), e.g. to their wa.me chat.
  var fallback = function () {
    var href = script && script.getAttribute("data-fallback-href");
    if (!href || !document.body) return;
    var a = document.createElement("a");
    a.href = href;
    a.rel = "noopener";
    a.className = "whatsapp-optin-fallback";
    a.textContent = script.getAttribute("data-fallback-text") || "WhatsApp";
    try {
      var css = new CSSStyleSheet();
      css.replaceSync(
        ".whatsapp-optin-fallback{position:fixed;right:16px;bottom:16px;z-index:2147483000;" +
          "min-width:48px;min-height:48px;padding:0 16px;display:flex;align-items:center;" +
          "border-radius:24px;background:#006e5a;color:#fff;font:600 16px/1 system-ui,sans-serif}"
      );
      document.adoptedStyleSheets = document.adoptedStyleSheets.concat(css);
    } catch (e) {
      /* unstyled, still a link */
    }
    document.body.appendChild(a);
  };
  var say = (m) => console.error("WhatsAppOptIn: " + m);
  if (!site || !src)
    return say((failed = new Error(site ? "load widget.js with <script src>, not inline" : "the script tag needs data-site")).message);
  // A strict CSP that blocks the widget: say exactly what the policy must add
  // (for the widget's own URLs: the Worker's, and widget.js's if elsewhere).
  var csp = "this page's Content-Security-Policy blocked ";
  var ours = (u) => !u.indexOf(api + "/") || !u.indexOf(src.replace(/[^/]*$/, ""));
  document.addEventListener("securitypolicyviolation", (e) => {
    var u = e.blockedURI;
    if (u == "wasm-eval") say(csp + "WebAssembly; add 'wasm-unsafe-eval' to script-src");
    else if (ours(u)) say(csp + u + "; add " + new URL(u).origin + " to " + e.effectiveDirective.replace(/-elem$/, ""));
  });
  // No answer at all: the network or CORS (or the CSP, told above).
  var unreachable = (url) => say(url + ": network or CORS failure; is " + new URL(url).origin + " up and in connect-src?");
  // fetch(url) that says which URL failed; the failure still reaches its caller.
  var load = (url) => fetch((url = String(url))).catch((e) => { unreachable(url); throw e; });
  // The visitor's language: the page's lang, then the browser's, among ours
  // (consent-core's Locale::ALL, which a test there holds this list to; the Worker
  // falls back to the site default).
  // Sent as ?locale= so the config answer caches per URL, without Vary.
  var locale = "";
  [document.documentElement.lang].concat(navigator.languages || []).some((l) => {
    var primary = String(l || "").toLowerCase().split(/[-_]/)[0];
    return /^(en|id|pt|tr|da|es|de)$/.test(primary) && (locale = primary === "pt" ? "pt-BR" : primary);
  });
  // A page whose modal opens by itself requests the modal-only wasm at once,
  // before the config and before the document has been parsed. It is wasted
  // only if a checkout placeholder appears after this script (boot then loads
  // the full build instead).
  var early =
    autoOpen && !chat && !document.querySelector("[data-wa-optin=checkout]")
      ? load(new URL("__WASM__", src))
      : null;
  if (early) early.catch(function () {}); // reported by boot, if boot uses it
  // The config (with the strings in that locale) loads while the wasm does.
  // A page with the chat widget asks for its strings too (chat=1).
  var configUrl =
    api + "/v1/sites/" + encodeURIComponent(site) + "/config?" + (chat ? "chat=1&" : "") + "locale=" + locale;
  var config = load(configUrl).then(function (r) {
    return r.json().then(bare, function () {}).then(function (j) {
      if (r.ok && j) return j;
      // The Worker's problem says why (unknown site, …): keep its type and status.
      var err = new Error(configUrl + " answered " + r.status + ": " + (j && j.detail));
      err.status = r.status;
      err.type = j && j.type;
      say(err.message);
      throw err;
    });
  });
  // The config, or the error its request ended in (the widget reports it).
  config.catch(function () {}); // reported by boot, as the widget cannot start without it
  var fail = function (err) {
    failed = err;
    flush();
    fallback();
    document.dispatchEvent(new CustomEvent("whatsapp-optin:error", {
      bubbles: true,
      detail: { site: site, surface: "loader", message: String(err), status: err.status, type: err.type },
    }));
  };
  // Funnel counts for the merchant (POST /v1/sites/{site}/events): event type,
  // surface, variant and locale only; no phone, no URL. Batched and sent with
  // sendBeacon (text/plain: no preflight) when the page hides or 10 are queued.
  // Nothing is sent from a DNT/GPC browser if the site respects that.
  var events = api + "/v1/sites/" + site;
  var queue = [];
  var won = {};
  var beacons = null; // null until known whether this browser may be counted
  var post = () => {
    if (beacons === false) queue = [];
    while (beacons && queue.length)
      navigator.sendBeacon(events + "/events", '{"events":[' + queue.splice(0, 50).join() + "]}");
  };
  // Each event is queued as its JSON, written by hand: the page may have patched
  // JSON.stringify, or given Array.prototype a toJSON (Prototype.js).
  var str = (v) =>
    '"' + String(v).replace(/[\0-\x1f"\\]/g, (c) => "\\u" + (c.charCodeAt(0) + 65536).toString(16).slice(1)) + '"';
  var field = (k, v) => (v ? ',"' + k + '":' + str(v) : "");
  if (navigator.doNotTrack == 1 || navigator.globalPrivacyControl)
    config.then((c) => (beacons = !c.respect_dnt), () => (beacons = false))
      .then(post);
  else beacons = true;
  "impression open close submit consent".split(" ").forEach((name) =>
    document.addEventListener("whatsapp-optin:" + name, (e) => {
      var d = bare(e.detail || {}); // its own fields only
      var s = d.surface;
      // The locale the widget chose is the `lang` inside its shadow root.
      var lang = document.querySelector("whatsapp-optin")?.shadowRoot?.querySelector("[lang]")?.lang;
      // Closing after opting in is not a dismissal.
      if (name == "consent") return (won[s] = 1);
      if (name == "close" && won[s]) return (won[s] = 0);
      queue.push(
        '{"type":"' + (name == "close" ? "dismiss" : name) + '"' + field("surface", s) +
          field("variant", d.variant) + // absent: "default"
          field("locale", d.locale || lang) + // absent: the site's default
          "}"
      );
      queue.length < 10 || post();
    })
  );
  addEventListener("pagehide", post);
  document.addEventListener("visibilitychange", () => document.hidden && post());
  /*__WASM_BINDGEN__*/
  // The widget's consents go out through here (api::Poster in the wasm): fetch,
  // then the module's posted(ticket, status, json), status 0 when nothing came
  // back. Keeping the network in JS keeps a futures executor out of the wasm.
  var poster = function (m, c) {
    return function (ticket, url, body, key, keepalive) {
      // A number of a country the site takes no sign-ups from is refused here, as
      // the Worker would refuse it (422), before anything is sent. Calling codes are
      // prefix-free: "+234 803…" is of code 234 exactly when it begins with it.
      var d = /^(\+|00)(\d+)/.exec(body.match(/"phone":"([^"]*)/)[1].replace(/[^\d+]/g, ""));
      if (d && !(c.allowed_calling_codes || [c.default_calling_code]).some((cc) => !d[2].indexOf(cc)))
        return m.posted(ticket, 422, bare({ type: "/problems/country-not-allowed" }));
      // No prototype: fetch reads its options through the prototype chain, and the
      // page may have put `mode`, `credentials`, … on Object.prototype.
      var init = Object.setPrototypeOf({
        method: "POST",
        body: body,
        keepalive: keepalive,
        headers: { "Content-Type": "application/json", "Idempotency-Key": key },
      }, null);
      fetch(url, init)
        .then(
          function (r) {
            return r.json().then(
              function (j) { return [r.status, j]; },
              function () { return [r.status, null]; }
            );
          },
          function () {
            unreachable(url);
            return [0, null];
          }
        )
        .then(function (a) {
          var j = bare(a[1]);
          if (j && j.type == "/problems/origin-not-allowed")
            say("add " + location.origin + " to the allowed_origins of site " + site);
          // The site asks for a Turnstile check first (/problems/challenge-required,
          // the one problem with a site_key): the challenge module, loaded only now,
          // shows it, and the same consent goes again with its token.
          if (j && j.site_key)
            return import(new URL("__CHALLENGE__", src)).then((c) => c.default(j, body)).then(
              (b) => poster(m, c)(ticket, url, b, key, keepalive),
              () => m.posted(ticket, a[0], j)
            );
          m.posted(ticket, a[0], j);
        });
    };
  };
  // Starts module `m` with the site's config; its options go by name (a
  // missing one takes the wasm's default). `modal` false: no modal, for the
  // full build run next to the modal-only one.
  var begin = function (m, config, modal) {
    m.start({ site: site, api: api, config: config, post: poster(m, config), autoOpen: autoOpen, chat: chat, modal: modal });
    return m;
  };
  // The full build (checkout opt-in, chat widget): its glue script, then its wasm.
  // `withModal` false: it runs next to the modal-only build, for mount()/consent().
  var full = null;
  var loadFull = function (withModal) {
    if (!full) {
      full = new Promise(function (resolve, reject) {
        var tag = document.createElement("script");
        tag.src = new URL("__FULL_JS__", src).href;
        // A nonce-only CSP (no 'strict-dynamic') lets it run with the tag's own nonce.
        tag.nonce = script && script.nonce;
        tag.onload = function () { resolve(whatsappOptInFull); };
        tag.onerror = function () {
          unreachable(tag.src);
          reject(new Error("the widget's full build could not be loaded"));
        };
        document.head.appendChild(tag);
      }).then(function (m) {
        return Promise.all([m({ module_or_path: load(new URL("__FULL_WASM__", src)) }), config])
          // start() in a task of its own: its first calls compile the bigger
          // build's functions (lazily, on the main thread), which would otherwise
          // lengthen the task that finished compiling and instantiating it.
          .then(function (r) {
            return new Promise(function (resolve) { setTimeout(resolve, 0, r); });
          })
          .then(function (r) {
            return begin(m, r[1], withModal);
          });
      });
    }
    return full;
  };
  // Only pages that show the checkout opt-in or the chat widget need the full
  // build; the others download the modal-only one (less before the prompt).
  var lite = null;
  var loadLite = function () {
    if (!lite) {
      lite = wasm_bindgen({ module_or_path: early || load(new URL("__WASM__", src)) });
      lite.catch(function () {}); // reported by boot, if boot uses it
    }
    return lite;
  };
  // Compiling starts as soon as the glue is defined, streaming from `early`.
  if (early) loadLite();
  var boot = function () {
    var needsFull = chat || document.querySelector("[data-wa-optin=checkout]");
    var loaded = needsFull
      ? loadFull(true)
      : Promise.all([loadLite(), config]).then(function (r) {
          return begin(wasm_bindgen, r[1], true);
        });
    loaded.then(function (m) {
      ready = m;
      flush();
    }, fail);
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
})();
