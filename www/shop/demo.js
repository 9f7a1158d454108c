// Demo page wiring: no inline scripts, so the page's strict CSP holds.
document.getElementById("open-optin")?.addEventListener("click", () => window.WhatsAppOptIn?.open());
for (const name of ["impression", "open", "close", "submit", "consent", "error"]) {
  document.addEventListener("whatsapp-optin:" + name, (e) => console.info("whatsapp-optin:" + name, e.detail));
}
