#!/usr/bin/env node
// Seeds the demo site with a few hundred realistic events, through the real
// public API, the simulator's control API and the widget's events endpoint, so
// the dashboard (/admin/) is worth looking at on first run: a month of charts,
// day by day (the demo's ledgers shift their clocks back; see DEV_CLOCK). Bounded:
// 240 consents, a few dozen opt-outs and changes, a few thousand funnel events.
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
const DAYS = 30; // history spread over the last DAYS days (where the Worker allows a dev clock)
const DAY = 86_400_000;

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

  // A month that grows, with quieter weekends: each person consents on one of the last DAYS days.
  const today = Math.floor(Date.now() / DAY);
  const weight = (d) => (1 + d / DAYS) * ([0, 6].includes(new Date((today - (DAYS - 1) + d) * DAY).getUTCDay()) ? 0.6 : 1);
  const days = Array.from({ length: DAYS }, (_, d) => [d, weight(d)]);
  const people = Array.from({ length: CONSENTS }, (_, i) => {
    const locale = pick(Object.entries(MARKETS).map(([k, m]) => [k, m.w]));
    const surface = pick(SURFACES);
    const n = 1 + Math.floor(rand() * 3);
    const categories = [...config.categories].sort(() => rand() - 0.5).slice(0, n);
    const day = i === 0 ? 0 : pick(days);
    return { locale, surface, categories, day, phone: i === 0 ? MARKER : MARKETS[locale].phone() };
  });
  const inbound = (body) => fetch(`${SIM}/_sim/inbound`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ phone_number_id: PHONE_NUMBER_ID, ...body }),
  });
  // People leave the ways people do, a few days after they joined: a STOP word, the
  // template's button, the preference centre; some narrow what they get.
  const leave = {
    keyword: (p) => inbound({ from: p.phone, text: MARKETS[p.locale].stop }),
    button: (p) => inbound({ from: p.phone, button_payload: `OPTOUT:${p.body.id}`, button_text: "Stop" }),
    centre: (p) => fetch(`${BASE}/v1/preferences/${p.body.preferences_token}/opt-out`, { method: "POST", headers: { origin } }),
    narrow: (p) => fetch(`${BASE}/v1/preferences/${p.body.preferences_token}`, {
      method: "PUT", headers: { "content-type": "application/json", origin },
      body: JSON.stringify({ categories: p.categories.slice(0, 1), frequency: "weekly_digest" }),
    }),
  };
  const howLeft = (i) => (i % 11 === 3 ? "keyword" : i % 29 === 7 ? "button" : i % 23 === 5 ? "centre" : i % 17 === 9 ? "narrow" : null);
  const later = Array.from({ length: DAYS }, () => []);
  const ok = [];
  const left = { keyword: [], button: [], centre: [], narrow: [] };
  let refused = 0;
  let firstRefusal = null;
  let events = 0;
  let spread = true;
  for (let d = 0; d < DAYS; d++) {
    spread &&= await shiftClock(-(DAYS - 1 - d) * DAY);
    await pool(later[d].map(([how, p]) => () => leave[how](p)), 4);
    const answers = await pool(people.filter((p) => p.day === d).map((p) => async () => {
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
    const okToday = answers.filter((a) => a.status === 201);
    refused += answers.length - okToday.length;
    firstRefusal ??= answers.find((a) => a.status !== 201)?.body ?? null;
    for (const p of okToday) {
      const how = howLeft(ok.length);
      ok.push(p);
      if (!how) continue;
      left[how].push(p);
      later[Math.min(DAYS - 1, d + 1 + Math.floor(rand() * 6))].push([how, p]);
    }
    events += await seedFunnel(okToday, shop);
  }
  if (spread) await shiftClock(0);
  const consentsDone = Date.now();
  if (refused) console.log(`seed-demo: ${refused} consents refused, first: ${JSON.stringify(firstRefusal)}`);
  await drained();
  console.log(
    `seed-demo: ${ok.length} consents over ${spread ? DAYS : 1} day(s) (${Object.entries(count(ok, (p) => p.surface)).map(([k, v]) => `${k} ${v}`).join(", ")}), ` +
    `${left.keyword.length} STOP replies, ${left.button.length} button opt-outs, ${left.centre.length} preference-centre opt-outs, ` +
    `${left.narrow.length} narrowed, ${events} funnel events, in ${((Date.now() - started) / 1000).toFixed(1)} s ` +
    `(consents ${((consentsDone - started) / 1000).toFixed(1)} s)`,
  );
  const gone = new Set([...left.keyword, ...left.button, ...left.centre]);
  const someone = ok.find((p) => !gone.has(p));
  if (someone) {
    console.log(`seed-demo: dashboard ${origin}/admin/ (token dev-admin-token); try searching ${someone.phone}, ` +
      `or open their preference centre: ${origin}/p/${someone.body.preferences_token}`);
  }
}

/**
 * Shifts the demo ledgers' clocks `offsetMs` from now (the local demo's Worker runs
 * with DEV_CLOCK=allow); false where it may not, and the seed then writes today only.
 */
async function shiftClock(offsetMs) {
  const res = await fetch(`${BASE}/admin/sites/demo/dev-clock`, {
    method: "POST", headers: { ...ADMIN, "content-type": "application/json" }, body: JSON.stringify({ offset_ms: offsetMs }),
  });
  if (res.status === 404) {
    console.log("seed-demo: this Worker keeps real time (no DEV_CLOCK); the history is all today");
    return false;
  }
  if (!res.ok) throw new Error(`dev-clock answered ${res.status}: ${await res.text()}`);
  return true;
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
