// Chaos: 200 consents while the simulator fails 30% of send calls transiently
// (HTML 5xx, 130429, 131000, slow answers past the sender's timeout) and accepts
// 5% of the rest only to drop the connection unanswered. Status webhooks come 1 s
// late (Meta's come seconds late), well after a quick retry would have gone. Every consent must end
// with exactly one accepted confirmation: nothing lost, nothing sent twice.
// Loopback only; bounded to 200 consents and about three minutes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, randomInt } from "node:crypto";
import { BASE, SIM, ADMIN_TOKEN, sleep, admin, SHOP, SHOP_ORIGINS } from "./support.mjs";

const CONSENTS = 200;
const PARALLEL = 8;
const DEADLINE_MS = 150_000;
// Longer than the stack's OUTBOX_SENDING_GRACE_MS: a late duplicate would show by then.
const SETTLE_MS = Number(process.env.CHAOS_SETTLE_MS ?? 8_000);
const SEED = Number(process.env.CHAOS_SEED ?? 20261123);
const NOTICE =
  "I agree to receive the messages I select below from Toko Acme on WhatsApp. I can stop at any time by replying STOP.";

const sim = (method, path, body) =>
  fetch(`${SIM}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });

const SENT = ["sent", "delivered", "read"];
const count = (rows, ok) => rows.filter(ok).reduce((n, r) => n + r.n, 0);

test("200 consents under 30% transient faults and 5% dropped connections: exactly one confirmation each", { timeout: 240_000 }, async () => {
  const id = `chaos-${randomBytes(4).toString("hex")}`;
  // Its own business number, so its status webhooks route to its ledger and its sends are countable.
  const pnid = `9${String(randomInt(10 ** 13, 10 ** 14 - 1))}`;
  const config = {
    id, business_name: "Toko Acme", allowed_origins: SHOP_ORIGINS, privacy_policy_url: `${BASE}/privacy.html`,
    default_locale: "en", default_calling_code: 62, categories: ["order_updates", "delivery"], notice_version: 1,
    whatsapp: { phone_number_id: pnid, template_name: "optin_confirmation", template_languages: ["en"], token_secret: "WA_TOKEN_DEMO" },
    limits: { per_ip_per_minute: 10_000, per_phone_per_hour: 5, daily_confirmations: 10_000, resend_cooldown_hours: 24 },
    // 200 consents at once: above the burst breaker's default, which would hold them.
    breaker: { threshold_per_10_min: 100_000 },
  };
  const put = await admin(id, { method: "PUT", body: JSON.stringify(config) });
  assert.equal(put.status, 200, await put.clone().text());

  await sim("DELETE", "/_sim/faults");
  const chaos = await sim("POST", "/_sim/faults", { rate: 0.3, drop_rate: 0.05, seed: SEED, delay_ms: 3000, status_delay_ms: 1000 });
  assert.equal(chaos.status, 200, await chaos.clone().text());
  const started = Date.now();
  try {
    const phones = Array.from({ length: CONSENTS }, (_, i) => `+62813${String(SEED % 1000).padStart(3, "0")}${String(i).padStart(5, "0")}`);
    const statuses = [];
    for (let i = 0; i < phones.length; i += PARALLEL) {
      const batch = phones.slice(i, i + PARALLEL).map((phone) =>
        fetch(`${BASE}/v1/sites/${id}/consents`, {
          method: "POST",
          headers: { "content-type": "application/json", origin: SHOP },
          body: JSON.stringify({ phone, categories: ["delivery"], locale: "en", notice_version: 1, notice_text: NOTICE, surface: "modal" }),
        }).then(async (r) => { await r.arrayBuffer(); return r.status; }));
      statuses.push(...(await Promise.all(batch)));
    }

    // Wait until no confirmation is pending or in flight, within the deadline.
    let stats;
    while (Date.now() - started < DEADLINE_MS) {
      stats = await (await admin(`${id}/stats`)).json();
      if (count(stats.confirmations, (c) => c.status === "pending" || c.status === "sending") === 0 &&
          count(stats.confirmations, () => true) >= CONSENTS) break;
      await sleep(1000);
    }
    const chaosState = (await (await sim("GET", "/_sim/faults")).json()).chaos;
    await sim("DELETE", "/_sim/faults");
    await sleep(SETTLE_MS);
    stats = await (await admin(`${id}/stats`)).json();

    const records = (await (await sim("GET", "/_sim/messages")).json()).messages
      .filter((m) => m.phone_number_id === pnid);
    const accepted = new Map();
    for (const m of records.filter((m) => m.status === "accepted")) accepted.set(m.to, (accepted.get(m.to) ?? 0) + 1);
    const duplicates = phones.filter((p) => (accepted.get(p) ?? 0) > 1);
    const missing = phones.filter((p) => !accepted.has(p));
    const table = {
      "consents posted": CONSENTS,
      "2xx answers": statuses.filter((s) => s >= 200 && s < 300).length,
      "ledger grants": count(stats.events, (e) => e.kind === "grant"),
      "outbox sent (sent/delivered/read)": count(stats.confirmations, (c) => SENT.includes(c.status)),
      "outbox other": JSON.stringify(stats.confirmations.filter((c) => !SENT.includes(c.status))),
      "simulator send calls": records.length,
      "simulator faulted calls": chaosState?.faulted,
      "simulator dropped-after-accept": records.filter((m) => m.fault === "drop").length,
      "simulator accepted": records.filter((m) => m.status === "accepted").length,
      "recipients with exactly one accepted": phones.filter((p) => accepted.get(p) === 1).length,
      duplicates: duplicates.length,
      missing: missing.length,
      "seconds": Math.round((Date.now() - started) / 1000),
    };
    console.log("chaos reconciliation (seed %d)", SEED);
    for (const [k, v] of Object.entries(table)) console.log(`  ${k.padEnd(38)} ${v}`);

    assert.equal(table["2xx answers"], CONSENTS, "every consent was recorded");
    assert.equal(table["ledger grants"], CONSENTS);
    assert.ok(table["simulator dropped-after-accept"] > 0, "the run exercised dropped connections");
    assert.ok(table["simulator faulted calls"] > 30, "the run exercised transient faults");
    assert.deepEqual(duplicates, [], "nobody got the confirmation twice");
    assert.deepEqual(missing, [], "nobody was left without one");
    assert.equal(table["outbox sent (sent/delivered/read)"], CONSENTS, "the ledger knows every one went out");
  } finally {
    await sim("DELETE", "/_sim/faults");
  }
});
