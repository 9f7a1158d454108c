// Small SVG charts: horizontal bars for categories, columns for days. Each is a
// <figure> with an accessible name, a <title> per bar, and the same numbers as
// a table underneath (for screen readers and for copying).
const NS = "http://www.w3.org/2000/svg";

/** An HTML element; `children` are nodes or strings (set as text, never parsed). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) node.append(c);
  return node;
}

function svgEl(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A captioned table of `rows` (arrays of cells, rendered as text). */
export function table(caption, head, rows) {
  return el("table", {},
    el("caption", {}, caption),
    el("thead", {}, el("tr", {}, ...head.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((c) => el("td", {}, String(c)))))));
}

function figure(title, id, svg, rows, unit) {
  const fig = el("figure", { class: "chart", id, "data-total": String(rows.reduce((a, r) => a + r.value, 0)) });
  const cap = el("figcaption", { id: `${id}-title` }, title);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-labelledby", `${id}-title`);
  const details = el("details", {}, el("summary", {}, "Data table"),
    table(title, ["", "value"], rows.map((r) => [r.label, `${r.value}${unit}`])));
  fig.append(cap, svg, details);
  return fig;
}

/** Horizontal bars, one row per item: readable on a phone whatever the labels. */
export function barChart({ title, id, rows, unit = "" }) {
  const width = 320;
  const rowH = 34;
  const max = Math.max(1, ...rows.map((r) => r.value));
  const svg = svgEl("svg", { viewBox: `0 0 ${width} ${rows.length * rowH + 4}`, class: "bars" });
  rows.forEach((r, i) => {
    const y = i * rowH;
    const w = Math.max(r.value > 0 ? 2 : 0, (r.value / max) * (width - 60));
    const g = svgEl("g", { class: `series-${i % 6}` });
    g.append(svgEl("title", {}, `${r.label}: ${r.value}${unit}`));
    g.append(svgEl("text", { x: 0, y: y + 11, class: "label" }, r.label));
    g.append(svgEl("rect", { x: 0, y: y + 15, width: w.toFixed(1), height: 14, rx: 2, "data-value": r.value }));
    g.append(svgEl("text", { x: (w + 4).toFixed(1), y: y + 27, class: "value" }, `${r.value}${unit}`));
    svg.append(g);
  });
  return figure(title, id, svg, rows, unit);
}

/** Columns over time (one per day), with the first, middle and last day labelled. */
export function columnChart({ title, id, rows, unit = "" }) {
  const width = 320;
  const height = 150;
  const plotH = 110;
  const max = Math.max(1, ...rows.map((r) => r.value));
  const step = width / Math.max(rows.length, 1);
  const svg = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, class: "columns" });
  svg.append(svgEl("line", { x1: 0, x2: width, y1: plotH + 0.5, y2: plotH + 0.5, class: "axis" }));
  svg.append(svgEl("text", { x: 0, y: 10, class: "value" }, `max ${max}${unit}`));
  rows.forEach((r, i) => {
    const h = (r.value / max) * (plotH - 16);
    const g = svgEl("g", { class: "series-0" });
    g.append(svgEl("title", {}, `${r.label}: ${r.value}${unit}`));
    g.append(svgEl("rect", {
      x: (i * step + step * 0.15).toFixed(1), y: (plotH - h).toFixed(1),
      width: Math.max(1, step * 0.7).toFixed(1), height: h.toFixed(1), "data-value": r.value,
    }));
    svg.append(g);
  });
  const ticks = [...new Set([0, Math.floor((rows.length - 1) / 2), rows.length - 1])];
  for (const i of ticks) {
    if (!rows[i]) continue;
    const anchor = i === 0 ? "start" : i === rows.length - 1 ? "end" : "middle";
    const x = anchor === "start" ? 0 : anchor === "end" ? width : i * step + step / 2;
    svg.append(svgEl("text", { x: x.toFixed(1), y: plotH + 22, "text-anchor": anchor, class: "label" }, rows[i].label.slice(5)));
  }
  return figure(title, id, svg, rows, unit);
}
