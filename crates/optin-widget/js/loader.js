/* WhatsApp opt-in widget loader. Include once or many times:
 *   <script src="https://<worker>/v1/sites/<site>/widget.js" async></script>
 * (this script with the site's config inside: no second request before the prompt),
 * or, the same without the config inside:
 *   <script src="https://<worker>/widget.js" data-site="<site>" async></script>
 * Exposes window.WhatsAppOptIn = { open(), close(), mount(el, opts), consent(opts), version }
 * and dispatches `whatsapp-optin:*` CustomEvents on document (see widget.d.ts).
 * The modal is this script's own: it builds, targets and shows it from the site's
 * config, so no wasm is downloaded before the prompt; the wasm (the phone's
 * formatting and check, the consent) is fetched on the visitor's first
 * interaction with it, and at once for pages with a checkout opt-in or the chat.
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
  // The per-site script, /v1/sites/<site>/widget.js, names its site in its path and
  // carries its config (the Worker put it on this script element); the widget's
  // files are then at the Worker's root, else beside this script.
  var own = src && /^\/v1\/sites\/([^/]+)\/widget\.js$/.exec(new URL(src).pathname);
  var site = (script && script.getAttribute("data-site")) || (own && decodeURIComponent(own[1]));
  var base = own ? new URL("/", src).href : src;
  var preloaded = own && script.whatsappOptInConfig;
  var api = (script && script.getAttribute("data-api")) || (src && new URL(src).origin);
  var autoOpen = !(script && script.getAttribute("data-auto-open") === "false");
  var chat = !!(script && script.hasAttribute("data-chat"));
  var failed = null;
  // Data handed to the wasm (the config, the Worker's answers, options passed
  // in) has no prototype: a field the page put on Object.prototype (old
  // libraries do) is never read as if the data had it.
  var bare = (v) => {
    if (v && typeof v == "object" && !(v instanceof Node))
      for (var k of Object.keys((v = Array.isArray(v) ? v : Object.assign(Object.create(null), v))))
        v[k] = bare(v[k]);
    return v;
  };
  // open() and close() go to the modal once the config has come (it is built
  // then); mount() and consent() to the full build, loaded for them if need be.
  // A call made before either is ready waits for it; after a failure it rejects.
  var modalBuilt, modalFailed;
  var whenModal = new Promise((ok, no) => ((modalBuilt = ok), (modalFailed = no)));
  whenModal.catch(() => {}); // a call made on it gets the failure
  var call = function (name) {
    return function () {
      var args = [].map.call(arguments, (v) => bare(v));
      if (failed) return Promise.reject(failed);
      if (name == "open" || name == "close") return whenModal.then((m) => m[name]());
      return loadFull().then(function (m) { return m[name].apply(null, args); });
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
  var ours = (u) => !u.indexOf(api + "/") || !u.indexOf(base.replace(/[^/]*$/, ""));
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
  // The config: the strings in that locale, the categories, the targeting. A page
  // with the chat widget asks for its strings too (chat=1).
  var configUrl =
    api + "/v1/sites/" + encodeURIComponent(site) + "/config?" + (chat ? "chat=1&" : "") + "locale=" + locale;
  var fetchConfig = () =>
    load(configUrl).then(function (r) {
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
  // The config the per-site script carries serves when it is in the locale asked
  // for here (the Worker took the browser's languages; a page's lang may pick another).
  var config = preloaded && preloaded.asked === locale && !chat ? Promise.resolve(bare(preloaded.config)) : fetchConfig();
  // The config, or the error its request ended in (the widget reports it).
  config.catch(function () {}); // reported by boot, as the widget cannot start without it
  var fail = function (err) {
    if (failed) return;
    failed = err;
    modalFailed(err);
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
            return import(new URL("__CHALLENGE__", base)).then((c) => c.default(j, body)).then(
              (b) => poster(m, c)(ticket, url, b, key, keepalive),
              () => m.posted(ticket, a[0], j)
            );
          m.posted(ticket, a[0], j);
        });
    };
  };
  // Starts module `m` with the site's config; its options go by name (a
  // missing one takes the wasm's default).
  var begin = function (m, config) {
    m.start({ site: site, api: api, config: config, post: poster(m, config), chat: chat });
    return m;
  };
  // The full build (checkout opt-in, chat widget, and the modal's form too):
  // its glue script, then its wasm.
  var full = null;
  var loadFull = function () {
    if (!full) {
      full = new Promise(function (resolve, reject) {
        var tag = document.createElement("script");
        tag.src = new URL("__FULL_JS__", base).href;
        // A nonce-only CSP (no 'strict-dynamic') lets it run with the tag's own nonce.
        tag.nonce = script && script.nonce;
        tag.onload = function () { resolve(whatsappOptInFull); };
        tag.onerror = function () {
          unreachable(tag.src);
          reject(new Error("the widget's full build could not be loaded"));
        };
        document.head.appendChild(tag);
      }).then(function (m) {
        return Promise.all([m({ module_or_path: load(new URL("__FULL_WASM__", base)) }), config])
          // start() in a task of its own: its first calls compile the bigger
          // build's functions (lazily, on the main thread), which would otherwise
          // lengthen the task that finished compiling and instantiating it.
          .then(function (r) {
            return new Promise(function (resolve) { setTimeout(resolve, 0, r); });
          })
          .then(function (r) {
            return begin(m, r[1]);
          });
      });
    }
    return full;
  };
  // The modal's form needs only the modal-only build (its glue is above),
  // unless the page already has the full one.
  var lite = null;
  var loadForm = function () {
    if (full) return full;
    if (!lite)
      lite = Promise.all([wasm_bindgen({ module_or_path: load(new URL("__WASM__", base)) }), config]).then(
        (r) => begin(wasm_bindgen, r[1])
      );
    return lite;
  };

  // ---- The modal, this script's own. ----
  // Its stylesheet, on one line (each byte is before the prompt); `system-ui`
  // is every supported browser's UI font. No entrance animation: the prompt is
  // whole in its first frame (and nothing is left to reduce for reduced motion).
  // Every control is at least 24×24 CSS px (WCAG 2.2 target size), most 44.
  var CSS = ":host{all:initial}dialog{box-sizing:border-box;width:min(28rem,calc(100vw - 2rem));max-width:none;max-height:calc(100vh - 2rem);margin:auto;padding:0;border:0;overflow:auto;background:#fff;color:#111b21;border-radius:16px;box-shadow:0 12px 40px rgba(0,0,0,.3);font:16px/1.45 system-ui,sans-serif}dialog::backdrop{background:rgba(17,27,33,.55)}.box{position:relative;padding:1.5rem}h2{margin:0 2.5rem .5rem 0;font-size:1.25rem;line-height:1.3}p{margin:.5rem 0}.notice{font-size:.95rem}fieldset{border:0;margin:.75rem 0;padding:0}legend{font-weight:600;margin-bottom:.25rem;padding:0}.choice{display:flex;align-items:center;gap:.6rem;min-height:44px;cursor:pointer}input[type=checkbox]{width:24px;height:24px;margin:0;accent-color:#008069;flex:none}.field-label{display:block;font-weight:600;margin:.75rem 0 .25rem}input[type=tel]{box-sizing:border-box;width:100%;min-height:44px;font:inherit;padding:.5rem .75rem;border:2px solid #667781;border-radius:8px;background:#fff;color:#111b21}input[aria-invalid=true]{border-color:#b3261e}.error{color:#b3261e;font-size:.9rem;min-height:1.2em;margin:.25rem 0}.submit{display:block;width:100%;min-height:48px;margin-top:1rem;border:0;border-radius:24px;background:#006e5a;color:#fff;font:inherit;font-weight:600;line-height:1;cursor:pointer}.submit[disabled]{opacity:.6;cursor:progress}.close{position:absolute;top:.75rem;right:.75rem;width:44px;height:44px;border:0;border-radius:50%;background:transparent;color:inherit;font:inherit;font-size:1.5rem;line-height:1;cursor:pointer}.close:hover{background:rgba(0,0,0,.06)}a{color:#006e5a;display:inline-block;min-height:24px;line-height:24px}:focus-visible{outline:3px solid #1d6fe0;outline-offset:2px}.status{font-weight:600;min-height:1.2em}.done>:not(.status){display:none}.status.ok{color:#006e5a}.status.bad{color:#b3261e}@media (max-width:480px){dialog{width:100vw;margin:auto 0 0;border-radius:16px 16px 0 0;max-height:90vh}}@media (prefers-color-scheme:dark){dialog{background:#1f2c34;color:#e9edef}input[type=tel]{background:#111b21;color:#e9edef;border-color:#8696a0}a,.status.ok{color:#53bdeb}.submit{background:#00a884;color:#111b21}.error,.status.bad{color:#f28b82}.close:hover{background:rgba(255,255,255,.1)}}";
  // What the widget remembers, under the keys and in the form the wasm uses
  // (storage.rs, consent-core's Memory): "<views> <closed_at> <consented_at>"
  // for the site in localStorage, its openings by itself this session in
  // sessionStorage, a random visitor id. Storage can be blocked or throw: then
  // this page's copy stands in, so caps and variants hold until it is left.
  var copy = Object.create(null);
  var read = (k, session) => {
    if (k in copy) return copy[k];
    try {
      return (session ? sessionStorage : localStorage).getItem(k) || "";
    } catch (e) {
      return "";
    }
  };
  var write = (k, v, session) => {
    copy[k] = v;
    try {
      (session ? sessionStorage : localStorage).setItem(k, v);
    } catch (e) {}
  };
  var MAX = 4294967295;
  // consent-core's targeting::decimals: up to three space-separated decimals
  // (saturating), all zero when anything else is there.
  var decimals = (s) => {
    var d = /^[\d ]*$/.test(s) ? s.split(" ") : [];
    return [0, 1, 2].map((i) => Math.min(Number(d[i] || 0), MAX));
  };
  var memKey = "whatsapp-optin:" + site;
  var sessionKey = memKey + ":session";
  var memory = () => decimals(read(memKey));
  var remember = (i, v) => {
    var m = memory();
    m[i] = Math.min(v, MAX);
    write(memKey, m.join(" "));
  };
  var now = () => Math.floor(Date.now() / 1000);
  var hex8 = () => ((Math.random() * 4294967296) >>> 0).toString(16).padStart(8, "0");
  var visitor = () => {
    var k = "whatsapp-optin:#visitor";
    var id = read(k);
    if (!id) write(k, (id = hex8() + hex8() + hex8() + hex8()));
    return id;
  };
  // consent-core's pick_variant: a weighted pick keyed by the visitor id, so a
  // visitor sees the same variant on every page and reload (and the wasm's
  // surfaces pick as this does).
  var pick = (id, surface, weights) => {
    var total = weights.reduce((a, w) => a + w, 0);
    var h = 0x811c9dc5;
    for (var b of new TextEncoder().encode(id + ":" + surface)) h = Math.imul(h ^ b, 0x01000193);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h = (h ^ (h >>> 16)) >>> 0;
    var point = h % total;
    for (var i = 0; total && i < weights.length; point -= weights[i++]) if (point < weights[i]) return i;
    return -1;
  };
  // consent-core's targeting::glob: `*` matches any run of characters.
  var glob = (p, t) => {
    var i = 0, j = 0, star = -1, from = 0;
    while (j < t.length) {
      if (p[i] == "*") (star = i++), (from = j);
      else if (i < p.length && p[i] == t[j]) i++, j++;
      else if (star < 0) return false;
      else (i = star + 1), (j = ++from);
    }
    while (p[i] == "*") i++;
    return i == p.length;
  };
  var el = (tag, attrs, text) => {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach((k) => e.setAttribute(k, attrs[k]));
    if (text != null) e.textContent = text;
    return e;
  };
  var focus = (e) => e && e.focus({ preventScroll: true });
  // The same checks as the wasm's config::parse_config.
  var wellFormed = (c) =>
    typeof c.site == "string" && typeof c.privacy_policy_url == "string" && typeof c.locale == "string" &&
    typeof c.default_calling_code == "number" && typeof c.notice_version == "number" &&
    Array.isArray(c.categories) && c.categories.every((k) => typeof k == "string") &&
    !!c.strings && typeof c.strings == "object";

  /** Builds the modal (hidden) into a `<whatsapp-optin>` host at the end of <body>. */
  var buildModal = function (c) {
    var variants = c.variants && c.variants.modal;
    var over, variant;
    if (Array.isArray(variants)) {
      var weights = variants.map((v) => (v && typeof v.weight == "number" && v.weight > 0 ? Math.min(Math.floor(v.weight), MAX) : 0));
      var chosen = variants[pick(visitor(), "modal", weights)];
      if (chosen) (over = chosen.strings), (variant = typeof chosen.id == "string" ? chosen.id : undefined);
    }
    var str = (o, k) => (o && typeof o[k] == "string" ? o[k] : undefined);
    var say = (k) => str(over, k) ?? str(c.strings, k) ?? "";
    var detail = () => {
      var d = { site: c.site, surface: "modal" };
      if (c.locale) d.locale = c.locale;
      if (variant) d.variant = variant;
      return d;
    };
    var emit = (name) => document.dispatchEvent(new CustomEvent("whatsapp-optin:" + name, { detail: detail(), bubbles: true }));
    var host = el("whatsapp-optin");
    var root = host.attachShadow({ mode: "open" });
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    root.adoptedStyleSheets = [sheet];
    // A native modal <dialog> lives in the top layer: above any z-index the
    // page uses, with the rest of the page inert while it is open.
    var dialog = el("dialog", { "aria-labelledby": "wa-title", "aria-describedby": "wa-notice", lang: c.locale });
    var box = el("div", { class: "box" });
    var close = el("button", { type: "button", class: "close", "aria-label": say("close") }, "×");
    var form = el("form", { novalidate: "" });
    var fieldset = el("fieldset", { "aria-describedby": "wa-cat-error" });
    fieldset.append(el("legend", {}, say("categories_legend")));
    var boxes = c.categories.map((k) => {
      var label = el("label", { class: "choice" });
      var input = el("input", { type: "checkbox", name: "category", value: k });
      label.append(input, el("span", {}, say(k)));
      fieldset.append(label);
      return input;
    });
    var code = c.default_calling_code & 0xffff;
    var phone = el("input", {
      id: "wa-phone", type: "tel", name: "phone", autocomplete: "tel", inputmode: "tel",
      placeholder: "+" + code + " …", "aria-describedby": "wa-phone-error", required: "",
    });
    // The calling code preselected, the caret after it (the wasm's phone input
    // keeps it as the default, for a reset).
    if (code) phone.defaultValue = phone.value = "+" + code + " ";
    var status = el("p", { class: "status", role: "status", tabindex: "-1" });
    form.append(
      fieldset,
      el("p", { id: "wa-cat-error", class: "error" }),
      el("label", { for: "wa-phone", class: "field-label" }, say("phone_label")),
      phone,
      el("p", { id: "wa-phone-error", class: "error", role: "alert" }),
      el("button", { type: "submit", class: "submit" }, say("submit")),
      status
    );
    var privacy = el("p");
    privacy.append(el("a", { href: c.privacy_policy_url, target: "_blank", rel: "noopener" }, say("privacy")));
    box.append(close, el("h2", { id: "wa-title" }, say("title")), el("p", { id: "wa-notice", class: "notice" }, say("notice")), form, privacy);
    dialog.append(box);
    root.append(dialog);
    document.body.append(host);

    var seen = false;
    var back = null;
    var m = {
      /** Shows the dialog and moves focus into it; the first showing on this
       * page emits `impression` (the funnel counts modals seen, not mounted). */
      open: function () {
        if (dialog.open) return;
        if (!seen) (seen = true), emit("impression");
        back = document.activeElement;
        // A fresh form each time: no thanks or error left from an earlier opening.
        form.setAttribute("class", "");
        status.textContent = "";
        status.setAttribute("class", "status ");
        try {
          dialog.showModal();
        } catch (e) {
          dialog.open = true;
        }
        focus(boxes[0]);
        emit("open");
      },
      /** Hides the dialog and returns focus where it was. */
      close: function () {
        if (!dialog.open) return;
        dialog.close();
        focus(back);
        back = null;
        emit("close");
      },
    };
    var dismiss = () => {
      remember(1, now());
      m.close();
    };
    close.addEventListener("click", dismiss);
    // The box fills the dialog, so a click on the dialog itself is on its backdrop.
    dialog.addEventListener("click", (e) => e.target === dialog && dismiss());
    // Escape, or a close request from the platform (Android back).
    dialog.addEventListener("cancel", (e) => {
      e.preventDefault();
      dismiss();
    });
    dialog.addEventListener("keydown", (e) => {
      if (e.key == "Escape") {
        e.preventDefault();
        dismiss();
      } else if (e.key == "Tab") {
        // Tab and Shift+Tab stay inside the dialog.
        var nodes = dialog.querySelectorAll("button:not([disabled]),input,a[href]");
        var first = nodes[0], last = nodes[nodes.length - 1];
        var at = root.activeElement;
        if (first && (!at || at === (e.shiftKey ? first : last))) {
          e.preventDefault();
          focus(e.shiftKey ? last : first);
        }
      }
    });
    // The form is the wasm's: fetched at the first sign of use (a pointer or a
    // key on the dialog, the phone field focused), so a visitor who never
    // touches the prompt downloads none. A submit before it is wired waits.
    var wired = null;
    var formReady = false;
    var missed = false; // the phone field was left before the wasm came
    phone.addEventListener("change", () => (missed = !formReady));
    var wire = () =>
      wired ||
      (wired = loadForm().then(
        (w) => {
          w.form({ root: root, variant: variant });
          formReady = true;
          // Its check on leaving the field, for a field left (or autofilled) before.
          if (missed) phone.dispatchEvent(new Event("change"));
          return w;
        },
        (err) => {
          status.textContent = say("network_error");
          status.setAttribute("class", "status bad");
          fail(err);
        }
      ));
    form.addEventListener("pointerdown", wire);
    form.addEventListener("keydown", (e) => e.key != "Escape" && wire());
    phone.addEventListener("focus", wire);
    form.addEventListener("submit", (e) => {
      e.preventDefault(); // never the browser's own submission, wired or not
      if (formReady) return;
      e.stopImmediatePropagation();
      // Submitted again in a task of its own: a form ignores a submission made
      // while its submit event is still being dispatched.
      wire().then((w) => w && setTimeout(() => form.requestSubmit()));
    }, true);
    // A consent on any surface keeps the modal away (the wasm wrote it too,
    // but this page reads its own copy first).
    document.addEventListener("whatsapp-optin:consent", () => remember(2, now()));
    return m;
  };

  /** The modal's automatic opening on this page: the site's targeting rules,
   * evaluated on load and on every single-page-app route change (pushState,
   * announced above as `whatsapp-optin:route`, and popstate); the frequency
   * caps stop a route change from showing it again. Triggers (delay, scroll
   * depth, exit intent) are bits of `pending`: a route change clears them and
   * the timer, so a trigger armed for the last route never fires for this one.
   * A page with a checkout opt-in is a form the visitor is busy with: the modal
   * does not pop up over it unless one of the site's `include` patterns names
   * the page. `open()` opens it whatever the page. */
  var target = function (m, t) {
    // Missing or mistyped fields take consent-core's Targeting::default().
    t = t && typeof t == "object" ? t : {};
    var list = (k) => (Array.isArray(t[k]) ? t[k].filter((p) => typeof p == "string") : []);
    var num = (k, d) => (typeof t[k] == "number" ? Math.min(Math.max(Math.floor(t[k]) || 0, 0), MAX) : d);
    var r = {
      include: list("include"), exclude: list("exclude"), delay_seconds: num("delay_seconds", 0),
      scroll_percent: num("scroll_percent", 0), exit_intent: t.exit_intent === true,
      from_page_view: num("from_page_view", 1), days_after_close: num("days_after_close", 30),
      days_after_consent: num("days_after_consent", 365), per_session: num("per_session", 1),
    };
    var page = null, pending = 0, added = 0, timer = 0;
    var within = (at, days) => at > 0 && now() < at + days * 86400;
    var hit = (patterns, path) => patterns.some((p) => glob(p, path));
    var allowed = (path) => {
      var mem = memory();
      var checkout = document.querySelector("[data-wa-optin=checkout],[data-wa-optin-mounted]");
      return (
        !(checkout && !hit(r.include, path)) &&
        (!r.include.length || hit(r.include, path)) && !hit(r.exclude, path) &&
        mem[0] >= r.from_page_view &&
        !within(mem[1], r.days_after_close) && !within(mem[2], r.days_after_consent) &&
        (!r.per_session || decimals(read(sessionKey, 1))[0] < r.per_session)
      );
    };
    // Scrolled at least scroll_percent of what the page can scroll (a page too
    // short to scroll counts as scrolled to the end).
    var scrolled = () => {
      var e = document.documentElement;
      var max = e ? e.scrollHeight - e.clientHeight : 0;
      return max <= 0 || e.scrollTop * 100 >= max * r.scroll_percent;
    };
    var show = () => {
      if (allowed(location.pathname)) {
        write(sessionKey, String(decimals(read(sessionKey, 1))[0] + 1), 1);
        m.open();
      }
    };
    // Every event: a route change, a trigger's, or the timer (no event).
    var on = (e) => {
      var was = pending, done;
      var type = e && e.type;
      if (type == "mouseout") {
        // Leaving the window through its top edge: towards the tabs, the address bar, close.
        if (!(was & 4 && !e.relatedTarget && e.clientY <= 0)) return;
        done = 4;
      } else if (type == "scroll") {
        if (!(was & 2 && scrolled())) return;
        done = 2;
      } else if (type) return route();
      else done = 1;
      pending = was & ~done;
      if (!pending && was) show();
    };
    var arm = (where, bit, name) => {
      if (!(added & bit)) where.addEventListener(name, on), (added |= bit);
      return bit;
    };
    // A new page (load or route change): disarm the last one's triggers, count
    // the view, and arm this one's if the rules allow. On the page's load with
    // nothing to wait for, it opens at once; after a route change always through
    // the timer, so it never opens inside the app's own pushState call.
    var route = (load) => {
      var here = location.pathname + location.search;
      if (page === here) return;
      page = here;
      pending = 0;
      clearTimeout(timer);
      remember(0, memory()[0] + 1);
      if (!allowed(location.pathname)) return;
      if (r.scroll_percent > 0 && !scrolled()) pending |= arm(window, 2, "scroll");
      // Exit intent means something only with a pointer that hovers.
      if (r.exit_intent && matchMedia("(hover: hover) and (pointer: fine)").matches) pending |= arm(document, 4, "mouseout");
      if (load === true && !pending && !r.delay_seconds) return show();
      timer = setTimeout(on, Math.min(r.delay_seconds * 1000, 2147483647));
      pending |= 1;
    };
    addEventListener("popstate", on);
    addEventListener("whatsapp-optin:route", on);
    route(true);
  };

  var boot = function () {
    // A page whose CSP forbids WebAssembly could show the prompt but never
    // record a consent: it gets the merchant's fallback link instead (and the
    // console says what to add). The smallest module, compiled here.
    try {
      new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]));
    } catch (e) {
      return fail(e);
    }
    // The checkout opt-in and the chat widget need the full build at once.
    if (chat || document.querySelector("[data-wa-optin=checkout]")) loadFull().catch(fail);
    config.then(function (c) {
      if (!wellFormed(c)) {
        var err = new Error("site configuration is malformed");
        document.dispatchEvent(new CustomEvent("whatsapp-optin:error", {
          bubbles: true, detail: { site: site, surface: "modal", message: err.message },
        }));
        return modalFailed(err);
      }
      var m = buildModal(c);
      modalBuilt(m);
      if (autoOpen) target(m, c.targeting);
    }).catch(fail);
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
})();
