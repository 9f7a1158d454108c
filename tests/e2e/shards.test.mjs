// A large site split over 4 ledger shards answers every call as one site.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { BASE, ADMIN_TOKEN, freshPhone, admin, SHOP, SHOP_ORIGINS } from "./support.mjs";

const NOTICE =
  "I agree to receive the messages I select below from Toko Acme on WhatsApp. I can stop at any time by replying STOP.";

test("with 4 shards: consents, lookups, preferences, export, stats, verify and erasure all work", async () => {
  const id = `shard-${randomBytes(4).toString("hex")}`;
  const config = {
    id, business_name: "Toko Acme", allowed_origins: SHOP_ORIGINS, privacy_policy_url: `${BASE}/privacy.html`,
    default_locale: "en", default_calling_code: 62, categories: ["delivery"], notice_version: 1,
    whatsapp: { phone_number_id: "100000000000001", template_name: "optin_confirmation", template_languages: ["en"], token_secret: "WA_TOKEN_DEMO" },
    limits: { per_ip_per_minute: 1000, per_phone_per_hour: 5, daily_confirmations: 1000, resend_cooldown_hours: 24 },
    shards: 4,
  };
  assert.equal((await admin(id, { method: "PUT", body: JSON.stringify(config) })).status, 200);

  const phones = Array.from({ length: 12 }, () => freshPhone().e164);
  const tokens = [];
  for (const phone of phones) {
    const res = await fetch(`${BASE}/v1/sites/${id}/consents`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: SHOP, "idempotency-key": `key-${phone}` },
      body: JSON.stringify({ phone, categories: ["delivery"], locale: "en", notice_version: 1, notice_text: NOTICE, surface: "checkout" }),
    });
    assert.equal(res.status, 201);
    tokens.push((await res.json()).preferences_token);
  }
  const shardsUsed = new Set(tokens.map((t) => t.split(".")[1]));
  assert.ok(shardsUsed.size >= 2, `consents spread over shards (${[...shardsUsed]})`);

  for (const phone of phones) {
    const res = await admin(`${id}/subscribers/${encodeURIComponent(phone)}`);
    assert.equal(res.status, 200, phone);
    assert.equal((await res.json()).events.length, 1);
  }
  for (const token of tokens.slice(0, 3)) {
    const res = await fetch(`${BASE}/v1/preferences/${token}`);
    assert.equal(res.status, 200);
  }

  const lines = (await (await admin(`${id}/export?format=ndjson`)).text()).trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.phone).sort(), [...phones].sort(), "the export holds every shard's events once");
  const csvLines = (await (await admin(`${id}/export?format=csv`)).text()).trim().split("\n");
  assert.equal(csvLines.length, 13, "one CSV header, then 12 rows");

  const stats = await (await admin(`${id}/stats`)).json();
  assert.deepEqual(stats.events, [{ kind: "grant", n: 12 }]);

  const erased = await admin(`${id}/subscribers/${encodeURIComponent(phones[0])}`, { method: "DELETE" });
  assert.equal(erased.status, 200);
  const verify = await (await admin(`${id}/verify`)).json();
  assert.equal(verify.ok, true);
  assert.equal(verify.events, 13);
  assert.equal(verify.shards.length, 4);

  const reshard = await admin(id, { method: "PUT", body: JSON.stringify({ ...config, shards: 8 }) });
  assert.equal(reshard.status, 422);
  assert.equal((await reshard.json()).field, "shards");
});
