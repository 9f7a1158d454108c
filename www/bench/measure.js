// For scripts/bench-widget.mjs: when a consent prompt first shows, the longest
// main-thread task (Long Tasks API: only tasks ≥ 50 ms are reported) and the
// cumulative layout shift of the page, from navigation on.
window.__longestTask = 0;
window.__cls = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) window.__longestTask = Math.max(window.__longestTask, e.duration);
}).observe({ type: "longtask", buffered: true });
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if (!e.hadRecentInput) window.__cls += e.value;
}).observe({ type: "layout-shift", buffered: true });
const shown = () => { window.__shownAt ??= performance.now(); };
document.addEventListener("whatsapp-optin:open", shown);
// The checkout embed does not open a dialog: it is on screen at its impression.
document.addEventListener("whatsapp-optin:impression", (e) => { if (e.detail?.surface === "checkout") shown(); });
