// Records when a consent prompt first shows, for scripts/bench-widget.mjs.
document.addEventListener("whatsapp-optin:open", () => { window.__shownAt ??= performance.now(); });
