#!/usr/bin/env node
// Seeds the demo site with a few hundred realistic events, through the real
// public API, the simulator's control API and the widget's events endpoint, so
// the dashboard (/admin/) is worth looking at on first run. Bounded: 240
// consents, a few dozen opt-outs and changes, a few thousand funnel events.
//
//   OPTIN_BASE=http://127.0.0.1:8787 SIM_BASE=http://127.0.0.1:8789 node scripts/seed-demo.mjs
//
// A demo that already holds the seed (its marker number has a history) is left as it is.
import { readFileSync } from "node:fs";

const BASE = process.env.OPTIN_BASE ?? "http://127.0.0.1:8787";
const SIM = process.env.SIM_BASE ?? "http://127.0.0.1:8789";
// The demo shop's origin: consents and funnel events come from its pages.
const SHOP = process.env.SHOP_BASE ?? "http://127.0.0.1:8791";
const ADMIN = { authorization: `Bearer ${process.env.ADMIN_TOKEN ?? "dev-admin-token"}` };
const CONSENTS = Number(process.env.SEED_CONSENTS ?? 240);
const PHONE_NUMBER_ID = "100000000000001"; // the demo site's business number
const MARKER = "+6281299999999"; // the seed's first consent: its history says "already seeded"

// A fixed seed: the same demo every time.
let state = 0x2545f491;
const rand = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32);
const pick = (weighted) => {
  const total = weighted.reduce((a, [, w]) => a + w, 0);
  let r = rand() * total;
  for (const [v, w] of weighted) if ((r -= w) < 0) return v;
  return weighted.at(-1)[0];
};
const digits = (n) => Array.from({ length: n }, () => Math.floor(rand() * 10)).join("");

// Each locale's notice template, read from the one place the strings live.
function notices() {
  const src = readFileSync(new URL("../crates/consent-core/src/locale.rs", import.meta.url), "utf8");
  const tags = { EN: "en", ID: "id", PT_BR: "pt-BR", TR: "tr", DA: "da", ES: "es", DE: "de" };
  const out = {};
  for (const m of src.matchAll(/static (EN|ID|PT_BR|TR|DA|ES|DE): Strings = Strings \{\s*notice: "([^"]+)"/g)) {
    out[tags[m[1]]] = m[2];
  }
  return out;
}

// Realistic mobile numbers for each locale's market, and its STOP word.
const MARKETS = {
  en: { w: 22, phone: () => `+62812${digits(8)}`, stop: "STOP" },
  id: { w: 34, phone: () => `+62813${digits(8)}`, stop: "BERHENTI" },
  "pt-BR": { w: 16, phone: () => `+55119${digits(8)}`, stop: "PARAR" },
  tr: { w: 9, phone: () => `+90532${digits(7)}`, stop: "DUR" },
  da: { w: 5, phone: () => `+4520${digits(6)}`, stop: "AFMELD" },
  es: { w: 8, phone: () => `+34612${digits(6)}`, stop: "BAJA" },
  de: { w: 6, phone: () => `+49151${digits(8)}`, stop: "STOPP" },
};
const SURFACES = [["modal", 50], ["checkout", 35], ["chat", 15]];
const PAGES = { modal: "/", checkout: "/checkout.html", chat: "/chat.html" };

async function json(url, init) {
  const res = await fetch(url, init);
  return { status: res.status, body: await res.json().catch(() => null) };
}

/** Runs `jobs` with at most `n` at a time. */
async function pool(jobs, n) {
  const results = [];
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]();
    }
  }));
  return results;
}

async function main() {
  const started = Date.now();
  const marker = await fetch(`${BASE}/admin/sites/demo/subscribers/${encodeURIComponent(MARKER)}`, { headers: ADMIN });
  if (marker.status === 200) {
    console.log("seed-demo: the demo is already seeded; nothing added");
    return;
  }
  const config = (await json(`${BASE}/v1/sites/demo/config`)).body;
  const texts = notices();
  const origin = new URL(BASE).origin;
  const shop = new URL(SHOP).origin;

  // Some confirmations get read, some only delivered, a few fail (undeliverable, not on WhatsApp).
  await fetch(`${SIM}/_sim/statuses`, { method: "DELETE" });
  const plans = [
    { statuses: ["sent", "delivered"], count: 45 },
    { statuses: ["sent", "failed"], count: 7, error_code: 131026 },
    { statuses: ["sent", "delivered", "read"], count: 110 },
    { statuses: ["failed"], count: 3, error_code: 131000 },
  ];
  for (const p of plans) {
    await fetch(`${SIM}/_sim/statuses`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(p) });
  }

  const people = Array.from({ length: CONSENTS }, (_, i) => {
    const locale = pick(Object.entries(MARKETS).map(([k, m]) => [k, m.w]));
    const surface = pick(SURFACES);
    const n = 1 + Math.floor(rand() * 3);
    const categories = [...config.categories].sort(() => rand() - 0.5).slice(0, n);
    return { locale, surface, categories, phone: i === 0 ? MARKER : MARKETS[locale].phone() };
  });
  const answers = await pool(people.map((p) => async () => {
    const res = await json(`${BASE}/v1/sites/demo/consents`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: shop },
      body: JSON.stringify({
        phone: p.phone, categories: p.categories, locale: p.locale, notice_version: config.notice_version,
        notice_text: texts[p.locale].replace("{business}", config.business_name), surface: p.surface,
        page_url: `${shop}${PAGES[p.surface]}`, client_ts: Date.now(), widget_version: "demo-seed",
      }),
    });
    return { ...p, ...res };
  }), 8);
  const consentsDone = Date.now();
  const ok = answers.filter((a) => a.status === 201);
  const refused = answers.length - ok.length;
  if (refused) console.log(`seed-demo: ${refused} consents refused, first: ${JSON.stringify(answers.find((a) => a.status !== 201).body)}`);

  // People leave the ways people do: a STOP word, the template's button, the preference centre.
  const byKeyword = ok.filter((_, i) => i % 11 === 3);
  const byButton = ok.filter((_, i) => i % 29 === 7);
  const byCentre = ok.filter((_, i) => i % 23 === 5);
  const narrowed = ok.filter((_, i) => i % 17 === 9 && i % 23 !== 5);
  const inbound = (body) => fetch(`${SIM}/_sim/inbound`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ phone_number_id: PHONE_NUMBER_ID, ...body }),
  });
  await pool([
    ...byKeyword.map((p) => () => inbound({ from: p.phone, text: MARKETS[p.locale].stop })),
    ...byButton.map((p) => () => inbound({ from: p.phone, button_payload: `OPTOUT:${p.body.id}`, button_text: "Stop" })),
    ...byCentre.map((p) => () => fetch(`${BASE}/v1/preferences/${p.body.preferences_token}/opt-out`, { method: "POST", headers: { origin } })),
    ...narrowed.map((p) => () => fetch(`${BASE}/v1/preferences/${p.body.preferences_token}`, {
      method: "PUT", headers: { "content-type": "application/json", origin },
      body: JSON.stringify({ categories: p.categories.slice(0, 1), frequency: "weekly_digest" }),
    })),
  ], 4);

  const events = await seedFunnel(ok, shop);
  await drained();
  console.log(
    `seed-demo: ${ok.length} consents (${Object.entries(count(ok, (p) => p.surface)).map(([k, v]) => `${k} ${v}`).join(", ")}), ` +
    `${byKeyword.length} STOP replies, ${byButton.length} button opt-outs, ${byCentre.length} preference-centre opt-outs, ` +
    `${narrowed.length} narrowed, ${events} funnel events, in ${((Date.now() - started) / 1000).toFixed(1)} s ` +
    `(consents ${((consentsDone - started) / 1000).toFixed(1)} s)`,
  );
  const someone = ok.find((p) => !byKeyword.includes(p) && !byButton.includes(p) && !byCentre.includes(p));
  if (someone) {
    console.log(`seed-demo: dashboard ${origin}/admin/ (token dev-admin-token); try searching ${someone.phone}, ` +
      `or open their preference centre: ${origin}/p/${someone.body.preferences_token}`);
  }
}

/** Waits (at most 20 s) for the confirmations to leave, then puts the simulator's statuses back to normal. */
async function drained() {
  const end = Date.now() + 20_000;
  while (Date.now() < end) {
    const { body } = await json(`${BASE}/admin/sites/demo/stats`, { headers: ADMIN });
    const waiting = (body?.confirmations ?? []).filter((c) => c.status === "pending" || c.status === "sending");
    if (!waiting.reduce((a, c) => a + c.n, 0)) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  await fetch(`${SIM}/_sim/statuses`, { method: "DELETE" });
}

const count = (rows, f) => rows.reduce((m, r) => ({ ...m, [f(r)]: (m[f(r)] ?? 0) + 1 }), {});

/** Impressions, opens, dismissals and submits that lead to the recorded consents, in batches. */
async function seedFunnel(ok, origin) {
  const perSurface = count(ok, (p) => p.surface);
  const rates = { modal: [6, 2.2, 1.1], checkout: [2.5, 1.6, 1.05], chat: [9, 3, 1.2] };
  const events = [];
  for (const [surface, n] of Object.entries(perSurface)) {
    const [imp, open, submit] = rates[surface];
    const push = (type, k) => {
      for (let i = 0; i < Math.round(n * k); i++) {
        events.push({ type, surface, variant: "default", locale: pick(Object.entries(MARKETS).map(([l, m]) => [l, m.w])) });
      }
    };
    push("impression", imp);
    push("open", open);
    push("dismiss", open - submit);
    push("submit", submit);
  }
  let sent = 0;
  for (let i = 0; i < events.length; i += 50) {
    const res = await fetch(`${BASE}/v1/sites/demo/events`, {
      method: "POST", headers: { "content-type": "text/plain", origin }, body: JSON.stringify({ events: events.slice(i, i + 50) }),
    });
    if (res.status === 404) {
      console.log("seed-demo: this Worker has no events endpoint yet; funnel events skipped");
      return 0;
    }
    if (!res.ok) {
      console.log(`seed-demo: events endpoint answered ${res.status}; funnel events stopped`);
      return sent;
    }
    sent += Math.min(50, events.length - i);
  }
  return sent;
}

main().catch((e) => {
  console.error(`seed-demo: ${e.message}`);
  process.exit(1);
});
