//! The checkout opt-in's and the chat widget's styles (the modal's are the
//! loader's, which builds it), adopted by each shadow root as a constructed stylesheet:
//! no `<style>` element and no inline styles, so a strict CSP needs no exception.
//! Every control is at least 24×24 CSS px (WCAG 2.2 target size), most 44.

/// The checkout opt-in's stylesheet: it inherits the merchant form's font and
/// colour, and fits the space the loader reserves for it (no layout shift).
pub const CHECKOUT_CSS: &str = r#":host{display:block;font:inherit;color:inherit}
p{margin:0 0 .25rem;font-size:.875rem;line-height:1.4}
.choices{display:flex;flex-wrap:wrap;gap:0 1rem}
.choice{display:flex;align-items:center;gap:.5rem;min-height:32px;cursor:pointer}
input[type=checkbox]{width:24px;height:24px;margin:0;accent-color:#008069;flex:none}
label[for]{display:block;font-weight:600;margin-top:.25rem}
input[type=tel]{box-sizing:border-box;width:100%;min-height:40px;font:inherit;padding:.25rem .5rem}
.error{color:#b3261e;min-height:0}
.error:empty{display:none}
a{color:inherit;font-size:.875rem;display:inline-block;min-height:24px;line-height:24px}
:focus-visible{outline:3px solid #1d6fe0;outline-offset:2px}
"#;

/// The chat widget's stylesheet: a floating button and its panel, above the page.
pub const CHAT_CSS: &str = r#":host{all:initial}
.wrap{position:fixed;right:16px;bottom:16px;z-index:2147483000;display:flex;flex-direction:column;align-items:flex-end;
gap:12px;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111b21}
.fab{display:flex;align-items:center;gap:8px;min-height:48px;padding:0 20px 0 14px;border:0;border-radius:24px;background:#006e5a;color:#fff;font:inherit;font-weight:600;line-height:1;
cursor:pointer;box-shadow:0 4px 16px rgba(0,0,0,.25)}
.fab svg{flex:none}
.panel{position:relative;box-sizing:border-box;width:min(22rem,calc(100vw - 32px));max-height:calc(100vh - 96px);overflow:auto;
background:#fff;border-radius:16px;padding:1rem;box-shadow:0 12px 40px rgba(0,0,0,.3)}
.panel[hidden]{display:none}
.bubble{margin:0 2.5rem .75rem 0;padding:.6rem .8rem;background:#e7f8ef;border-radius:12px 12px 12px 0}
.later{background:#fff4d6}
.bubble[hidden]{display:none}
.step{font-weight:600;margin:.25rem 0}
.close{position:absolute;top:.5rem;right:.5rem;width:44px;height:44px;border:0;border-radius:50%;background:transparent;
color:inherit;font:inherit;font-size:1.5rem;line-height:1;cursor:pointer}
.go{display:flex;align-items:center;justify-content:center;min-height:48px;margin-top:.75rem;border-radius:24px;
background:#006e5a;color:#fff;font-weight:600;text-decoration:none}
:focus-visible{outline:3px solid #1d6fe0;outline-offset:2px}
"#;
