// For scripts/bench-widget.mjs: when a consent prompt first shows, the longest
// main-thread task (Long Tasks API: only tasks ≥ 50 ms are reported) and the
// cumulative layout shift of the page, from navigation on, and what moved (so a
// failing budget says which element to fix).
window.__longestTask = 0;
window.__cls = 0;
window.__moved = [];
const describe = (n) => (n && n.nodeType === 1 ? n.outerHTML.slice(0, 80) : String(n?.nodeName));
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) window.__longestTask = Math.max(window.__longestTask, e.duration);
}).observe({ type: "longtask", buffered: true });
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    if (e.hadRecentInput) continue;
    window.__cls += e.value;
    for (const s of e.sources ?? []) {
      window.__moved.push(`${describe(s.node)}: y ${s.previousRect.y} → ${s.currentRect.y}, height ${s.previousRect.height} → ${s.currentRect.height} (${e.value.toFixed(6)} at ${e.startTime.toFixed(0)} ms)`);
    }
  }
}).observe({ type: "layout-shift", buffered: true });
// "On screen" is the end of the first frame that renders the prompt: a widget's show
// call returns before layout and paint (ours forces layout inside showModal(), the
// peer's leaves it to the next frame), so the time is taken in a task queued from
// the next animation frame, after that frame's layout and paint. `__calledAt` keeps
// the time of the call itself.
const shown = (window.__shown = () => {
  if (window.__calledAt !== undefined) return;
  window.__calledAt = performance.now();
  requestAnimationFrame(() => setTimeout(() => { window.__shownAt = performance.now(); }));
});
document.addEventListener("whatsapp-optin:open", shown);
// The checkout embed does not open a dialog: it is on screen at its impression.
document.addEventListener("whatsapp-optin:impression", (e) => { if (e.detail?.surface === "checkout") shown(); });
