// The merchant dashboard: reads the admin API with the token kept in
// sessionStorage and draws its numbers as SVG charts with data tables.
// Everything from the API is rendered as text (textContent), never as markup.
import { barChart, columnChart, el, table } from "/admin/charts.js";
import qrcodegen from "/admin/vendor/qrcodegen.js";

const TOKEN_KEY = "optin-admin-token";
const SITE_KEY = "optin-admin-site";
const $ = (id) => document.getElementById(id);

// The Worker classifies opt-outs (consent-core's OptOutSource) and labels them;
// these four are always shown, any other source when it has opt-outs.
const MAIN_OPTOUT_SOURCES = { keyword: "Keyword (STOP…)", button: "Opt-out button", preference_centre: "Preference centre", support: "Support" };
const FUNNEL_STEPS = ["impression", "open", "submit", "consent"];

class Refused extends Error {}

/** An admin API call for the signed-in site; a 401 signs out. */
async function api(path, init = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const site = sessionStorage.getItem(SITE_KEY);
  const res = await fetch(`/admin/sites/${encodeURIComponent(site)}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${token}`, ...(init.headers ?? {}) },
  });
  if (res.status === 401) throw new Refused("The admin token was refused.");
  return res;
}

async function apiJson(path) {
  const res = await api(path);
  const body = await res.json();
  if (!res.ok) throw new Error(body.detail ?? `HTTP ${res.status}`);
  return body;
}

function showLogin(message = "") {
  $("app").hidden = true;
  $("signout").hidden = true;
  $("login").hidden = false;
  $("business").textContent = "";
  $("login-error").textContent = message;
}

async function start() {
  if (!sessionStorage.getItem(TOKEN_KEY)) return showLogin();
  $("login").hidden = true;
  $("app").hidden = false;
  $("signout").hidden = false;
  try {
    const site = await apiJson("");
    $("business").textContent = `— ${site.business_name}`;
    document.title = `Opt-in dashboard — ${site.business_name}`;
    prefillQr(site);
    renderInstall(site);
    loadTemplates().catch((e) => ($("templates-note").textContent = `Could not read templates: ${e.message}`));
    loadHooks().catch((e) => ($("hooks-note").textContent = `Could not read webhook endpoints: ${e.message}`));
    $("keys-location").textContent = site.jurisdiction
      ? `Data location: every ledger of this site is kept only in the ${site.jurisdiction.toUpperCase()} jurisdiction (fixed when the site was created).`
      : "Data location: any Cloudflare location (no jurisdiction was chosen when the site was created).";
    loadKeys().catch((e) => ($("keys-note").textContent = `Could not read API keys: ${e.message}`));
    loadToken().catch((e) => ($("token-note").textContent = `Could not read the token state: ${e.message}`));
    await Promise.all([loadStats(), loadChain()]);
  } catch (e) {
    if (e instanceof Refused) {
      sessionStorage.removeItem(TOKEN_KEY);
      return showLogin(e.message);
    }
    setStatus(`Could not load: ${e.message}`);
  }
}

function setStatus(text) {
  $("status").textContent = text;
}

const day = (d) => d.toISOString().slice(0, 10);

function range() {
  const to = $("to").value || day(new Date());
  const from = $("from").value || day(new Date(Date.now() - 29 * 86_400_000));
  $("from").value = from;
  $("to").value = to;
  return { from, to };
}

async function loadStats() {
  const { from, to } = range();
  setStatus("Loading…");
  const stats = await apiJson(`/stats?from=${from}&to=${to}`);
  // Older Workers answer without the per-day parts: derive them from the export.
  const derived = stats.consents_by_day ? null : await deriveFromExport(from, to);
  renderKpis(stats, derived);
  await renderBreaker(stats);
  renderFunnel(stats, derived);
  renderOverTime(stats, derived);
  renderOptOuts(stats, derived);
  renderDelivery(stats);
  renderCategories(stats);
  renderMessages(stats);
  setStatus(`Showing ${from} to ${to}.`);
}

async function loadChain() {
  const v = await apiJson("/verify");
  $("kpi-chain").textContent = v.ok ? "Verified" : "Broken";
  $("kpi-chain").className = `kpi ${v.ok ? "good" : "bad"}`;
  $("chain-detail").textContent = v.ok
    ? `${v.events} events, every link holds`
    : `first broken link: event ${v.first_broken?.id} (${v.first_broken?.reason})`;
}

/** Reads at most 20,000 export lines and counts consents per day and surface (older Workers). */
async function deriveFromExport(from, to) {
  const res = await api(`/export?format=ndjson&since=${from}`);
  if (!res.ok) return null;
  const end = Date.parse(`${to}T23:59:59.999Z`);
  const consents = new Map();
  const lines = (await res.text()).split("\n").slice(0, 20_000);
  for (const line of lines) {
    if (!line) continue;
    const e = JSON.parse(line);
    if (e.server_ts > end) continue;
    const d = new Date(e.server_ts).toISOString().slice(0, 10);
    if (e.kind === "grant" && e.evidence?.surface) {
      const key = `${d}|${e.evidence.surface}|${e.evidence.variant ?? "default"}`;
      consents.set(key, (consents.get(key) ?? 0) + 1);
    }
  }
  return {
    consents_by_day: [...consents].map(([k, n]) => {
      const [d, surface, variant] = k.split("|");
      return { day: d, surface, variant, n };
    }),
  };
}

const sum = (rows, f) => rows.reduce((a, r) => a + (f(r) ?? 0), 0);
const pct = (n, d) => (d > 0 ? `${((100 * n) / d).toFixed(1)}%` : "–");

function part(stats, derived, key) {
  return stats[key] ?? derived?.[key] ?? null;
}

function renderKpis(stats, derived) {
  const consents = part(stats, derived, "consents_by_day");
  const grants = consents ? sum(consents, (r) => r.n) : sum(stats.events.filter((e) => e.kind === "grant"), (e) => e.n);
  $("kpi-consents").textContent = String(grants);
  const withdrawn = sum(stats.subscriptions.filter((s) => s.status === "withdrawn"), (s) => s.n);
  const all = sum(stats.subscriptions, (s) => s.n);
  $("kpi-optout").textContent = pct(withdrawn, all);
  const c = confirmationCounts(stats);
  // The delivery block counts cumulatively (delivered includes read); outbox states are exclusive.
  $("kpi-delivered").textContent = c.cumulative
    ? pct(c.delivered, c.sent + c.failed)
    : pct(c.delivered + c.read, c.sent + c.delivered + c.read + c.failed);
  const halted = stats.sending?.halted;
  $("kpi-sending").textContent = halted ? "Halted" : "Running";
  $("kpi-sending").className = `kpi ${halted ? "bad" : "good"}`;
  const held = stats.breaker?.held ?? 0;
  $("sending-detail").textContent = [halted ? `${stats.sending.reason ?? ""}` : "", held ? `${held} held by the burst breaker` : ""]
    .filter(Boolean).join("; ");
}

const when = (ms) => new Date(ms).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });

/** The burst breaker's panel: shown while it is open or holds confirmations. */
async function renderBreaker(stats) {
  const b = stats.breaker;
  if (!b || (!b.open && !b.held)) {
    $("breaker").hidden = true;
    return;
  }
  const view = await apiJson("/breaker");
  const n = view.held;
  $("breaker-summary").textContent = `${n} confirmation${n === 1 ? "" : "s"} held` +
    (view.open_since ? ` since ${when(view.open_since)}` : "") +
    (view.open ? "; new ones are held too until you decide." : ".");
  $("breaker-rule").textContent = `It opens when web consents in 10 minutes exceed ${view.threshold} ` +
    `(${view.threshold_source === "configured" ? "this site's setting" : "10 × the 7-day average, at least 50"}); ` +
    `${view.recent} in the last 10 minutes, ${view.average_per_10_min.toFixed(1)} on average.`;
  $("breaker-release").disabled = $("breaker-drop").disabled = false;
  $("breaker").hidden = false;
}

/** Releases or drops what the breaker holds, after a confirm dialog; the outcome is announced in #status. */
async function decideHeld(action) {
  const question = action === "release"
    ? "Send every held confirmation now? They go out spread over time, and each costs a template."
    : "Drop every held confirmation? They will never be sent; the consents stay recorded.";
  if (!confirm(question)) return;
  $("breaker-release").disabled = $("breaker-drop").disabled = true;
  try {
    const res = await api(`/breaker/${action}`, { method: "POST" });
    const body = await res.json();
    if (!res.ok) throw new Error(body.detail ?? `HTTP ${res.status}`);
    await loadStats();
    setStatus(action === "release"
      ? `Released ${body.count} held confirmation${body.count === 1 ? "" : "s"}; they are being sent, spread over time.`
      : `Dropped ${body.count} held confirmation${body.count === 1 ? "" : "s"}; they will not be sent.`);
  } catch (e) {
    $("breaker-release").disabled = $("breaker-drop").disabled = false;
    setStatus(`Could not ${action}: ${e.message}`);
  }
}

/** The templates panel: Meta's status per template and language, as text only. */
async function loadTemplates(method = "GET") {
  const res = await api("/templates", { method });
  const body = await res.json();
  const note = $("templates-note");
  if (!res.ok) {
    $("templates-table").hidden = true;
    note.textContent = body.field === "whatsapp.waba_id"
      ? "Set whatsapp.waba_id (your WhatsApp Business Account id) in the site configuration to create and check templates."
      : `Meta answered: ${body.detail ?? `HTTP ${res.status}`}`;
    return;
  }
  const rows = body.templates ?? [];
  const tbody = $("templates-table").querySelector("tbody");
  tbody.replaceChildren(...rows.map((t) => {
    const tr = document.createElement("tr");
    tr.dataset.template = t.name;
    tr.dataset.language = t.language;
    const category = t.previous_category ? `${t.category ?? ""} (was ${t.previous_category})` : (t.category ?? "");
    for (const text of [t.name, t.language, t.status, category, t.rejected_reason ?? ""]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    tr.className = t.status === "APPROVED" ? "good" : (t.status === "PENDING" || t.status === "MISSING" ? "" : "bad");
    return tr;
  }));
  $("templates-table").hidden = rows.length === 0;
  const approved = rows.filter((t) => t.status === "APPROVED").length;
  note.textContent = `${approved} of ${rows.length} approved; once a language is approved, sends use only approved ones.` +
    (rows.some((t) => t.status === "MISSING") ? " Some languages have no template yet: Create templates." : "");
}

/** A table cell or button, as text only. */
function cell(text) {
  const td = document.createElement("td");
  td.textContent = text;
  return td;
}

function button(text, onClick, cls = "") {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  if (cls) b.className = cls;
  b.addEventListener("click", onClick);
  return b;
}

/** The webhook endpoints: their state, an alert for a disabled one, pause/resume, the delivery log. */
async function loadHooks() {
  const { endpoints } = await apiJson("/webhook-endpoints");
  const tbody = $("hooks-table").querySelector("tbody");
  tbody.replaceChildren(...endpoints.map((e) => {
    const tr = document.createElement("tr");
    tr.dataset.endpoint = e.id;
    tr.append(cell(e.url), cell(e.events.length ? e.events.join(", ") : "all"), cell(e.state), cell(String(e.pending)), cell(String(e.delivered)));
    const actions = document.createElement("td");
    actions.append(
      e.paused || e.state === "disabled"
        ? button("Resume", () => hookAction(e.id, "resume"))
        : button("Pause", () => hookAction(e.id, "pause")),
      " ", button("Deliveries", () => loadHookLog(e.id)),
      " ", button("Delete", () => hookAction(e.id, "delete"), "danger"));
    tr.append(actions);
    tr.className = e.state === "disabled" ? "bad" : (e.state === "active" ? "good" : "");
    return tr;
  }));
  $("hooks-table").hidden = endpoints.length === 0;
  const disabled = endpoints.filter((e) => e.state === "disabled");
  $("hooks-alert").hidden = disabled.length === 0;
  $("hooks-alert").textContent = disabled.length
    ? `Disabled after failing for 3 days: ${disabled.map((e) => e.url).join(", ")}. Its events are kept; fix the endpoint, then Resume.`
    : "";
}

async function hookAction(id, action) {
  const res = action === "delete"
    ? await api(`/webhook-endpoints/${id}`, { method: "DELETE" })
    : await api(`/webhook-endpoints/${id}/${action}`, { method: "POST" });
  const body = await res.json();
  $("hooks-note").textContent = res.ok ? `Endpoint ${body.url}: ${body.state}.` : (body.detail ?? `HTTP ${res.status}`);
  await loadHooks();
}

async function addHook(url, events) {
  const names = events.split(",").map((s) => s.trim()).filter(Boolean);
  const res = await api("/webhook-endpoints", {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ url, ...(names.length ? { events: names } : {}) }),
  });
  const body = await res.json();
  const secret = $("hooks-secret");
  if (!res.ok) {
    secret.hidden = true;
    $("hooks-note").textContent = `${body.field ? `${body.field}: ` : ""}${body.detail ?? `HTTP ${res.status}`}`;
    return;
  }
  $("hooks-note").textContent = `Added ${body.url}.`;
  secret.hidden = false;
  secret.textContent = `Signing secret (shown only now; store it in your receiver): ${body.secret}`;
  await loadHooks();
}

const whenMs = (ms) => (ms ? when(ms) : "");

/** The site's API keys: state, revoke, rotate (the new key is shown once). */
async function loadKeys() {
  const { keys } = await apiJson("/keys");
  const tbody = $("keys-table").querySelector("tbody");
  tbody.replaceChildren(...keys.map((k) => {
    const tr = document.createElement("tr");
    tr.dataset.key = k.id;
    const state = k.state === "expiring" ? `expiring ${whenMs(k.expires_at)}` : k.state;
    tr.append(cell(k.name || "(unnamed)"), cell(k.id), cell(k.scopes.join(", ")), cell(state), cell(whenMs(k.created_at)));
    const actions = document.createElement("td");
    if (k.state === "active") {
      actions.append(button("Rotate", () => keyAction(k.id, "rotate")), " ", button("Revoke", () => keyAction(k.id, "revoke"), "danger"));
    }
    tr.append(actions);
    return tr;
  }));
  $("keys-table").hidden = keys.length === 0;
}

function showKeySecret(body) {
  const secret = $("keys-secret");
  secret.hidden = false;
  secret.textContent = `New key (shown only now; store it in your server's secrets): ${body.key}`;
}

async function keyAction(id, action) {
  const res = action === "revoke"
    ? await api(`/keys/${id}`, { method: "DELETE" })
    : await api(`/keys/${id}/rotate`, { method: "POST" });
  const body = await res.json();
  if (!res.ok) {
    $("keys-note").textContent = body.detail ?? `HTTP ${res.status}`;
    return;
  }
  if (action === "rotate") {
    showKeySecret(body);
    $("keys-note").textContent = `Rotated ${id}: the old key keeps working for 24 hours.`;
  } else {
    $("keys-secret").hidden = true;
    $("keys-note").textContent = `Revoked ${id}.`;
  }
  await loadKeys();
}

async function createKey(name, scopes) {
  const res = await api("/keys", {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name, scopes }),
  });
  const body = await res.json();
  if (!res.ok) {
    $("keys-secret").hidden = true;
    $("keys-note").textContent = `${body.field ? `${body.field}: ` : ""}${body.detail ?? `HTTP ${res.status}`}`;
    return;
  }
  showKeySecret(body);
  $("keys-note").textContent = `Created ${body.name || body.id}.`;
  await loadKeys();
}

function describeToken(t) {
  if (t.source === "stored") {
    const state = t.usable ? "" : ` It cannot be opened: ${t.problem}`;
    return `A stored token ending in …${t.last4} sends (stored ${whenMs(t.stored_at)}, sealed with key ${t.key_id}).${state}`;
  }
  if (t.source === "secret") return `The Worker secret ${t.token_secret} sends. Store a token here to use it instead, without a redeploy.`;
  return "No token: nothing can be sent until one is stored.";
}

async function loadToken() {
  $("token-state").textContent = describeToken(await apiJson("/graph-token"));
}

async function tokenAction(method, token) {
  const res = await api("/graph-token", method === "PUT"
    ? { method, headers: { "content-type": "application/json" }, body: JSON.stringify({ token }) }
    : { method });
  const body = await res.json();
  $("token-note").textContent = res.ok
    ? (method === "PUT" ? "Token stored." : "Stored token removed.")
    : `${body.field ? `${body.field}: ` : ""}${body.detail ?? `HTTP ${res.status}`}`;
  if (res.ok) $("token-state").textContent = describeToken(body);
}

async function loadHookLog(id) {
  const { deliveries } = await apiJson(`/webhook-endpoints/${id}/deliveries?limit=20`);
  const tbody = $("hooks-log").querySelector("tbody");
  tbody.replaceChildren(...deliveries.map((d) => {
    const tr = document.createElement("tr");
    tr.append(cell(d.webhook_id), cell(d.type), cell(d.status), cell(String(d.attempts)), cell(d.last_status ?? d.last_error ?? ""),
      cell(d.latency_ms == null ? "" : `${d.latency_ms} ms`), cell(d.next_attempt_at ? time(d.next_attempt_at) : ""));
    return tr;
  }));
  $("hooks-log").hidden = false;
}

/** Meta's short links for the business number, listed as text and links. */
async function metaQr(create = false) {
  if (create) {
    const res = await api("/qr-links", { method: "POST" });
    const body = await res.json();
    if (!res.ok) throw new Error(body.detail ?? `HTTP ${res.status}`);
    setStatus(`Meta made ${body.deep_link_url}`);
  }
  const { qr_links: links } = await apiJson("/qr-links");
  $("qr-meta-list").replaceChildren(...links.map((q) => {
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.href = q.deep_link_url;
    a.textContent = q.deep_link_url;
    li.append(a, ` — “${q.prefilled_message}” (${q.code})`);
    return li;
  }));
}

/** Confirmation outcomes: the delivery block when present, else the outbox states. */
function confirmationCounts(stats) {
  if (stats.delivery) {
    const { sent = 0, delivered = 0, read = 0, failed = 0 } = stats.delivery;
    return { sent, delivered, read, failed, cumulative: true };
  }
  const of = (s) => sum(stats.confirmations.filter((c) => c.status === s), (c) => c.n);
  return { sent: of("sent"), delivered: of("delivered"), read: of("read"), failed: of("failed"), cumulative: false };
}

function empty(container, text) {
  container.append(el("p", { class: "empty" }, text));
}

function renderFunnel(stats, derived) {
  const box = $("funnel");
  box.replaceChildren();
  // Erased consents keep their count but not their evidence, so not their surface.
  const consents = (part(stats, derived, "consents_by_day") ?? []).map((r) => ({ ...r, surface: r.surface ?? "erased" }));
  const funnel = stats.funnel ?? [];
  const surfaces = [...new Set([...funnel.map((r) => r.surface), ...consents.map((r) => r.surface)])].sort();
  if (!surfaces.length) return empty(box, "No widget activity in this range yet.");
  if (!stats.funnel) {
    box.append(el("p", { class: "note" }, "Impressions, opens and submits appear once the widget's analytics events reach this Worker; consents are counted from the ledger."));
  }
  for (const surface of surfaces) {
    const rows = funnel.filter((r) => r.surface === surface);
    const values = {
      impression: sum(rows, (r) => r.impression),
      open: sum(rows, (r) => r.open),
      submit: sum(rows, (r) => r.submit),
      consent: sum(consents.filter((r) => r.surface === surface), (r) => r.n),
    };
    const tracked = stats.funnel && surface !== "erased";
    const steps = tracked ? FUNNEL_STEPS : ["consent"];
    box.append(barChart({
      title: `${surface}: ${tracked ? `${pct(values.consent, values.impression)} of impressions became consents` : `${values.consent} consents`}`,
      id: `funnel-${surface}`,
      rows: steps.map((s) => ({ label: s, value: values[s] })),
    }));
  }
  if (stats.variants?.length) {
    box.append(table("A/B variants", ["surface", "variant", "impressions", "consents", "rate", "95% interval"],
      stats.variants.map((v) => [v.surface, v.variant, v.impressions, v.consents, pct(v.rate * 100, 100),
        `${(v.ci_low * 100).toFixed(1)}–${(v.ci_high * 100).toFixed(1)}%`])));
  }
}

function days(from, to) {
  const out = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += 86_400_000) {
    out.push(new Date(t).toISOString().slice(0, 10));
  }
  return out;
}

function renderOverTime(stats, derived) {
  const box = $("overtime");
  box.replaceChildren();
  const consents = part(stats, derived, "consents_by_day");
  if (!consents?.length) return empty(box, "No consents in this range yet.");
  const { from, to } = range();
  const perDay = days(from, to).map((d) => ({ label: d, value: sum(consents.filter((r) => r.day === d), (r) => r.n) }));
  box.append(columnChart({ title: "Consents per day", id: "consents-per-day", rows: perDay }));
  if (stats.funnel?.length) {
    const rate = days(from, to).map((d) => {
      const imp = sum(stats.funnel.filter((r) => r.day === d), (r) => r.impression);
      const n = sum(consents.filter((r) => r.day === d), (r) => r.n);
      return { label: d, value: imp ? Math.round((1000 * n) / imp) / 10 : 0 };
    });
    box.append(columnChart({ title: "Conversion per day (consents per 100 impressions)", id: "conversion-per-day", rows: rate, unit: "%" }));
  }
}

/** The four main sources (zero included), then any other the Worker counted, with its label. */
function optOutRows(bySource) {
  const main = Object.entries(MAIN_OPTOUT_SOURCES).map(([k, label]) => ({ label, value: sum(bySource.filter((r) => r.source === k), (r) => r.n) }));
  const others = bySource.filter((r) => !(r.source in MAIN_OPTOUT_SOURCES) && r.n > 0).map((r) => ({ label: r.label ?? r.source, value: r.n }));
  return [...main, ...others];
}

function renderOptOuts(stats, derived) {
  const box = $("optouts");
  box.replaceChildren();
  const bySource = part(stats, derived, "optouts_by_source");
  if (!bySource?.length) return empty(box, "No opt-outs in this range.");
  box.append(barChart({
    title: `Opt-outs by how people left (${sum(bySource, (r) => r.n)} in all)`,
    id: "optouts-by-source",
    rows: optOutRows(bySource),
  }));
  const byDay = part(stats, derived, "optouts_by_day");
  if (byDay?.length) {
    const { from, to } = range();
    box.append(columnChart({
      title: "Opt-outs per day", id: "optouts-per-day",
      rows: days(from, to).map((d) => ({ label: d, value: sum(byDay.filter((r) => r.day === d), (r) => r.n) })),
    }));
  }
}

function renderDelivery(stats) {
  const box = $("delivery");
  box.replaceChildren();
  const c = confirmationCounts(stats);
  const rows = [
    { label: "sent", value: c.sent }, { label: "delivered", value: c.delivered },
    { label: "read", value: c.read }, { label: "failed", value: c.failed },
  ];
  if (!stats.delivery) {
    for (const s of ["pending", "sending", "suppressed"]) {
      rows.push({ label: s, value: sum(stats.confirmations.filter((x) => x.status === s), (x) => x.n) });
    }
  }
  if (!rows.some((r) => r.value)) return empty(box, "No confirmations sent yet.");
  const title = c.cumulative ? "Confirmation messages that reached each status" : "Confirmation messages by latest status";
  box.append(barChart({ title, id: "delivery-status", rows }));
  const errors = stats.delivery?.errors ?? [];
  if (errors.length) {
    box.append(table("Failures by Graph error code", ["code", "messages"], errors.map((e) => [e.code ?? "no code", e.n])));
  }
}

function renderCategories(stats) {
  const box = $("categories");
  box.replaceChildren();
  const cats = [...new Set(stats.subscriptions.map((s) => s.category))];
  if (!cats.length) return empty(box, "No subscriptions yet.");
  for (const status of ["granted", "withdrawn"]) {
    box.append(barChart({
      title: `People ${status === "granted" ? "subscribed" : "who withdrew"}, per category`,
      id: `categories-${status}`,
      rows: cats.map((c) => ({ label: c, value: sum(stats.subscriptions.filter((s) => s.category === c && s.status === status), (s) => s.n) })),
    }));
  }
}

// Send API decisions: what was queued and where it got to, what was refused and why.
function renderMessages(stats) {
  const box = $("messages");
  box.replaceChildren();
  const rows = stats.messages ?? [];
  if (!rows.length) return empty(box, "No messages sent through the API in this period.");
  const refused = rows.filter((r) => r.status === "refused");
  const reasons = [...new Set(refused.map((r) => r.reason))];
  if (reasons.length) {
    box.append(barChart({ title: "Refused, by reason", id: "messages-refused", rows: reasons.map((r) => ({ label: r, value: sum(refused.filter((x) => x.reason === r), (x) => x.n) })) }));
  }
  const cats = [...new Set(rows.map((r) => r.category))];
  box.append(barChart({ title: "Queued, by category", id: "messages-queued", rows: cats.map((c) => ({ label: c, value: sum(rows.filter((x) => x.category === c && x.status !== "refused"), (x) => x.n) })) }));
  const days = [...new Set(rows.map((r) => r.day))].sort();
  const count = (day, ok) => sum(rows.filter((r) => r.day === day && ok(r)), (r) => r.n);
  box.append(table("Per day", ["day", "queued", "sent", "stopped before sending", "refused"], days.map((d) => [
    d,
    count(d, (r) => r.status !== "refused"),
    count(d, (r) => ["sent", "delivered", "read"].includes(r.status)),
    count(d, (r) => ["suppressed", "erased"].includes(r.status)),
    count(d, (r) => r.status === "refused"),
  ])));
}

// ---- subscriber search ----

async function search(phone) {
  const box = $("subscriber");
  box.replaceChildren(el("p", {}, "Searching…"));
  const res = await api(`/subscribers/${encodeURIComponent(phone)}`);
  const body = await res.json();
  if (!res.ok) {
    box.replaceChildren(el("p", { class: "error", role: "alert" }, res.status === 404 ? `No consent history for ${phone}.` : body.detail ?? `HTTP ${res.status}`));
    return;
  }
  const download = el("button", { type: "button", id: "download-receipt" }, "Download receipt");
  download.addEventListener("click", () => save(`receipt-${body.phone}.json`, "application/json", JSON.stringify(body.receipt, null, 2)));
  // A fresh link to the person's own preference centre, for support to send again.
  const centre = body.preferences_url
    ? el("a", { href: body.preferences_url, target: "_blank", rel: "noopener" }, "Their preference centre (link to send them)")
    : "";
  box.replaceChildren(
    el("h3", {}, body.phone),
    el("p", { class: "buttons" }, download),
    el("p", {}, centre),
    table("Current state", ["category", "status", "channel", "since"], body.state.map((s) => [s.category, s.status, s.channel ?? "whatsapp", time(s.updated_at)])),
    table("History", ["when", "event", "categories", "how", "hash"], body.events.map((e) => [
      time(e.server_ts), e.kind, (e.categories ?? []).join(", "),
      e.evidence?.surface ?? e.evidence?.method ?? "", (e.hash ?? "").slice(0, 12),
    ])),
    table("Messages", ["queued", "kind", "status", "statuses received", "error"], body.confirmations.map((m) => [
      time(m.created_at), m.kind, m.status, m.statuses.map((s) => s.status + (s.error_code ? ` (${s.error_code})` : "")).join(", "), m.last_error ?? "",
    ])),
    table("Sent or refused through the API", ["when", "category", "template", "decision", "reason", "status"], (body.messages ?? []).map((m) => [
      time(m.created_at), m.category, m.template ?? m.kind, m.decision, m.reason, m.status,
    ])),
  );
}

const time = (ms) => new Date(ms).toISOString().replace("T", " ").slice(0, 19) + " UTC";

function save(name, type, content) {
  const url = URL.createObjectURL(content instanceof Blob ? content : new Blob([content], { type }));
  const a = el("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

async function exportAs(format) {
  const res = await api(`/export?format=${format}`);
  if (!res.ok) return setStatus(`Export failed: HTTP ${res.status}`);
  save(`consents-${sessionStorage.getItem(SITE_KEY)}.${format}`, res.headers.get("content-type"), await res.blob());
}

// ---- wa.me link and QR code ----

function prefillQr(site) {
  if (!$("qr-number").value) $("qr-number").value = site.whatsapp?.display_phone_number ?? site.chat?.number ?? "";
  // `optin_keyword` is the site's click-to-opt-in phrase; START re-subscribes where it is not set.
  if (!$("qr-keyword").value) $("qr-keyword").value = site.optin_keyword ?? "START";
}

export function waLink(number, keyword) {
  return `https://wa.me/${number.replace(/\D/g, "")}?text=${encodeURIComponent(keyword)}`;
}

let qr = null;

function makeQr() {
  const link = waLink($("qr-number").value, $("qr-keyword").value.trim());
  qr = qrcodegen.QrCode.encodeText(link, qrcodegen.QrCode.Ecc.MEDIUM);
  $("qr-link").textContent = link;
  $("qr-link").href = link;
  $("qr-svg").replaceChildren(qrSvg(qr, link));
  $("qr-out").hidden = false;
}

const BORDER = 4;

function qrPath(code) {
  const parts = [];
  for (let y = 0; y < code.size; y++) {
    for (let x = 0; x < code.size; x++) {
      if (code.getModule(x, y)) parts.push(`M${x + BORDER},${y + BORDER}h1v1h-1z`);
    }
  }
  return parts.join("");
}

function qrSvgText(code) {
  const n = code.size + BORDER * 2;
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${n} ${n}" width="${n * 8}" height="${n * 8}" shape-rendering="crispEdges">` +
    `<rect width="100%" height="100%" fill="#fff"/><path d="${qrPath(code)}" fill="#000"/></svg>`;
}

function qrSvg(code, link) {
  const n = code.size + BORDER * 2;
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${n} ${n}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("shape-rendering", "crispEdges");
  const title = document.createElementNS(ns, "title");
  title.textContent = `QR code for ${link}`;
  const bg = document.createElementNS(ns, "rect");
  bg.setAttribute("width", "100%");
  bg.setAttribute("height", "100%");
  bg.setAttribute("fill", "#fff");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", qrPath(code));
  path.setAttribute("fill", "#000");
  svg.append(title, bg, path);
  return svg;
}

function qrPng(code, scale = 10) {
  const n = code.size + BORDER * 2;
  const canvas = el("canvas", { width: String(n * scale), height: String(n * scale) });
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = "#000";
  for (let y = 0; y < code.size; y++) {
    for (let x = 0; x < code.size; x++) {
      if (code.getModule(x, y)) ctx.fillRect((x + BORDER) * scale, (y + BORDER) * scale, scale, scale);
    }
  }
  return new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
}

// ---- install snippets ----

/** What a merchant pastes into their pages, for `site` on this Worker (`origin`). */
export function installSnippets(site, origin = location.origin) {
  return {
    tag: `<script src="${origin}/widget.js" data-site="${site.id}" async></script>`,
    checkout: `<div data-wa-optin="checkout" data-phone-field="#phone" data-categories="${site.categories.map((c) => c.id ?? c).join(",")}"></div>`,
    csp: `script-src ${origin} 'wasm-unsafe-eval'; connect-src ${origin}`,
    put: [
      `curl -s -H "Authorization: Bearer $ADMIN_TOKEN" ${origin}/admin/sites/${site.id} > site.json`,
      `# in site.json, add the origin to "allowed_origins", e.g. "https://www.shop.example"`,
      `curl -X PUT -H "Authorization: Bearer $ADMIN_TOKEN" -H "Content-Type: application/json" \\`,
      `  --data-binary @site.json ${origin}/admin/sites/${site.id}`,
    ].join("\n"),
  };
}

function renderInstall(site) {
  const s = installSnippets(site);
  $("install-tag").textContent = s.tag;
  $("install-checkout").textContent = s.checkout;
  $("install-csp").textContent = s.csp;
  $("install-put").textContent = s.put;
  $("install-chat").textContent = site.chat?.number
    ? `this site's is ${site.chat.number}.`
    : "this site has none yet (add \"chat\": {\"number\": \"…\"} to its configuration).";
  $("install-origins").replaceChildren(...site.allowed_origins.map((o) => el("li", {}, el("code", {}, o))));
  for (const note of document.querySelectorAll("#install .copied")) note.textContent = "";
}

/** Copies the snippet `code` to the clipboard; without a clipboard, selects it for Ctrl+C. */
async function copySnippet(button) {
  const code = $(button.dataset.copy);
  const note = button.parentElement.querySelector(".copied");
  for (const n of document.querySelectorAll("#install .copied")) n.textContent = "";
  try {
    if (!navigator.clipboard?.writeText) throw new Error("no clipboard");
    await navigator.clipboard.writeText(code.textContent);
    note.textContent = "Copied";
  } catch {
    const range = document.createRange();
    range.selectNodeContents(code);
    const selection = getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    let copied = false;
    try {
      copied = document.execCommand("copy");
    } catch {
      /* not supported: the selection stays for the keyboard */
    }
    note.textContent = copied ? "Copied" : "Selected: press Ctrl+C (⌘C on a Mac) to copy";
  }
}

// ---- wiring ----

function wire() {
  $("login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token").value);
    sessionStorage.setItem(SITE_KEY, $("site").value);
    $("token").value = "";
    start();
  });
  $("signout").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    showLogin();
  });
  $("range").addEventListener("submit", (ev) => {
    ev.preventDefault();
    loadStats().catch((e) => setStatus(`Could not load: ${e.message}`));
  });
  $("search").addEventListener("submit", (ev) => {
    ev.preventDefault();
    search($("phone").value.trim()).catch((e) => setStatus(`Search failed: ${e.message}`));
  });
  $("breaker-release").addEventListener("click", () => decideHeld("release"));
  $("breaker-drop").addEventListener("click", () => decideHeld("drop"));
  $("templates-create").addEventListener("click", () =>
    loadTemplates("POST").catch((e) => setStatus(`Could not create templates: ${e.message}`)));
  $("templates-refresh").addEventListener("click", () =>
    loadTemplates().catch((e) => setStatus(`Could not read templates: ${e.message}`)));
  $("qr-meta-create").addEventListener("click", () =>
    metaQr(true).catch((e) => setStatus(`Could not make Meta's short link: ${e.message}`)));
  $("hooks-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    addHook($("hooks-url").value, $("hooks-events").value).catch((e) => ($("hooks-note").textContent = e.message));
  });
  $("keys-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const scopes = [...document.querySelectorAll("#keys-form input[name=scope]:checked")].map((c) => c.value);
    createKey($("keys-name").value.trim(), scopes).catch((e) => ($("keys-note").textContent = e.message));
  });
  $("token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const input = $("token-value");
    tokenAction("PUT", input.value.trim()).catch((e) => ($("token-note").textContent = e.message));
    input.value = "";
  });
  $("token-remove").addEventListener("click", () =>
    tokenAction("DELETE").catch((e) => ($("token-note").textContent = e.message)));
  $("export-ndjson").addEventListener("click", () => exportAs("ndjson"));
  $("export-csv").addEventListener("click", () => exportAs("csv"));
  $("qr-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    makeQr();
  });
  $("qr-download-svg").addEventListener("click", () => save("optin-qr.svg", "image/svg+xml", qrSvgText(qr)));
  $("qr-download-png").addEventListener("click", async () => save("optin-qr.png", "image/png", await qrPng(qr)));
  for (const button of document.querySelectorAll("#install button.copy")) {
    button.addEventListener("click", () => copySnippet(button));
  }
  const site = sessionStorage.getItem(SITE_KEY);
  if (site) $("site").value = site;
}

wire();
start();
