/* The Turnstile check a site asks for before it records a consent
 * (`/problems/challenge-required`). Loaded by the widget's loader only when a
 * consent is answered that way, so none of it is in the bytes before the prompt.
 * The default export shows the challenge in a modal dialog of its own (above the
 * widget's, which the browser makes inert meanwhile) and resolves with the
 * consent's body carrying the token, or rejects when the visitor cancels or the
 * check fails. */

// [title, explanation, cancel] in the widget's seven languages.
const TEXT = {
  en: ["Quick check", "Please confirm that you are not a robot. Then we save your choice.", "Cancel"],
  id: ["Pemeriksaan singkat", "Mohon konfirmasi bahwa Anda bukan robot. Setelah itu pilihan Anda kami simpan.", "Batal"],
  "pt-BR": ["Verificação rápida", "Confirme que você não é um robô. Depois salvamos a sua escolha.", "Cancelar"],
  tr: ["Kısa kontrol", "Lütfen robot olmadığınızı onaylayın. Ardından seçiminizi kaydediyoruz.", "Vazgeç"],
  da: ["Hurtigt tjek", "Bekræft venligst, at du ikke er en robot. Derefter gemmer vi dit valg.", "Annuller"],
  es: ["Comprobación rápida", "Confirma que no eres un robot. Después guardamos tu elección.", "Cancelar"],
  de: ["Kurze Prüfung", "Bitte bestätigen Sie, dass Sie kein Roboter sind. Danach speichern wir Ihre Auswahl.", "Abbrechen"],
};

let script = null;

/** Loads the Turnstile script the Worker named (once); resolves with `window.turnstile`. */
const turnstile = (src) => {
  if (window.turnstile) return Promise.resolve(window.turnstile);
  const url = new URL(src);
  const local = url.hostname == "127.0.0.1" || url.hostname == "localhost";
  if (url.protocol != "https:" && !(local && url.protocol == "http:"))
    return Promise.reject(new Error("the Turnstile script must be https"));
  return (script ||= new Promise((resolve, reject) => {
    const tag = document.createElement("script");
    tag.src = url.href;
    tag.async = true;
    // A nonce-only CSP lets it run with the widget tag's own nonce.
    tag.nonce = document.querySelector("script[data-site][src]")?.nonce || "";
    tag.onload = () => (window.turnstile ? resolve(window.turnstile) : reject(new Error("no turnstile")));
    tag.onerror = () => {
      script = null;
      reject(new Error("the Turnstile script could not be loaded: " + url.origin + " in script-src and frame-src?"));
    };
    document.head.appendChild(tag);
  }));
};

const el = (tag, css, text) => {
  const e = document.createElement(tag);
  Object.assign(e.style, css); // CSSOM, allowed under a strict style-src
  if (text) e.textContent = text;
  return e;
};

/** Shows the challenge for `problem` (its `site_key`, `script`); `body` is the consent's JSON. */
export default (problem, body) => {
  const locale = (/"locale":"([A-Za-z-]{2,5})"/.exec(body) || [])[1] || "en";
  const [title, explain, cancel] = TEXT[locale] || TEXT.en;
  return turnstile(problem.script).then(
    (ts) =>
      new Promise((resolve, reject) => {
        const font = { font: "16px/1.4 system-ui,sans-serif", color: "#111" };
        const dialog = el("dialog", {
          ...font, background: "#fff", border: "0", borderRadius: "12px", padding: "20px",
          maxWidth: "min(360px, calc(100vw - 32px))", boxShadow: "0 8px 32px rgba(0,0,0,.3)",
        });
        const id = "wa-optin-challenge-" + Math.random().toString(36).slice(2);
        const h = el("h2", { ...font, fontSize: "20px", fontWeight: "600", margin: "0 0 8px" }, title);
        h.id = id;
        dialog.setAttribute("aria-labelledby", id);
        dialog.lang = locale;
        const p = el("p", { ...font, margin: "0 0 12px" }, explain);
        const box = el("div", { minHeight: "65px", margin: "0 0 12px" });
        const button = el("button", {
          ...font, minHeight: "44px", minWidth: "44px", padding: "0 16px", borderRadius: "8px",
          border: "1px solid #555", background: "#fff", cursor: "pointer",
        }, cancel);
        button.type = "button";
        dialog.append(h, p, box, button);
        let widget;
        const done = (ok, value) => {
          try { if (widget !== undefined) ts.remove(widget); } catch (e) { /* already gone */ }
          dialog.close();
          dialog.remove();
          ok ? resolve(value) : reject(new Error(value));
        };
        button.onclick = () => done(false, "cancelled");
        dialog.oncancel = (e) => { e.preventDefault(); done(false, "cancelled"); }; // Escape
        document.body.appendChild(dialog);
        dialog.showModal();
        widget = ts.render(box, {
          sitekey: problem.site_key,
          language: locale.toLowerCase(),
          // Turnstile's tokens are of this alphabet: written into the JSON as they are.
          callback: (token) =>
            /^[\w.:-]{1,2048}$/.test(token)
              ? done(true, body.slice(0, -1) + ',"turnstile_token":"' + token + '"}')
              : done(false, "not a Turnstile token"),
          "error-callback": () => done(false, "the check failed"),
          "expired-callback": () => done(false, "the check expired"),
        });
      })
  );
};
