// A site that requires Cloudflare Turnstile: the Worker verifies each token
// through TURNSTILE_BASE, here a local stand-in on loopback.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { randomBytes } from "node:crypto";
import { BASE, ADMIN_TOKEN, freshPhone, SHOP, SHOP_ORIGINS } from "./support.mjs";

const PORT = Number(process.env.TURNSTILE_PORT ?? 8790);
const NOTICE =
  "I agree to receive the messages I select below from Toko Acme on WhatsApp. I can stop at any time by replying STOP.";
const seen = [];
let server;

before(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const form = new URLSearchParams(body);
      seen.push(Object.fromEntries(form));
      const success = form.get("secret") === "dev-turnstile-secret" && form.get("response") === "good-token";
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ success, "error-codes": success ? [] : ["invalid-input-response"] }));
    });
  });
  await new Promise((r) => server.listen(PORT, "127.0.0.1", r));
});
after(() => server?.close());

async function turnstileSite() {
  const id = `ts-${randomBytes(4).toString("hex")}`;
  const res = await fetch(`${BASE}/admin/sites/${id}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({
      id, business_name: "Toko Acme", allowed_origins: SHOP_ORIGINS, privacy_policy_url: `${BASE}/privacy.html`,
      default_locale: "en", default_calling_code: 62, categories: ["delivery"], notice_version: 1,
      whatsapp: { phone_number_id: "100000000000001", template_name: "optin_confirmation", template_languages: ["en"], token_secret: "WA_TOKEN_DEMO" },
      turnstile_secret: "TURNSTILE_SECRET",
    }),
  });
  assert.equal(res.status, 200);
  return id;
}

/** Posts a consent for a fresh phone (`res.phone`) with `turnstile_token`. */
const post = async (site, turnstile_token) => {
  const phone = freshPhone().e164;
  const res = await fetch(`${BASE}/v1/sites/${site}/consents`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: SHOP },
    body: JSON.stringify({
      phone, categories: ["delivery"], locale: "en", notice_version: 1, notice_text: NOTICE,
      surface: "modal", ...(turnstile_token === undefined ? {} : { turnstile_token }),
    }),
  });
  res.phone = phone;
  return res;
};

/** The HTTP status of the site's lookup of `phone`: 200 recorded, 404 not. */
const lookup = async (site, phone) =>
  (await fetch(`${BASE}/admin/sites/${site}/subscribers/${encodeURIComponent(phone)}`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  })).status;

test("a consent needs a Turnstile token the verifier accepts", async () => {
  const site = await turnstileSite();
  const missing = await post(site);
  assert.equal(missing.status, 403);
  assert.equal((await missing.json()).type, "/problems/turnstile-failed");
  assert.equal(await lookup(site, missing.phone), 404, "no token: nothing recorded");
  const asked = seen.length;
  const bad = await post(site, "bad-token");
  assert.equal(bad.status, 403);
  assert.equal(seen.length, asked + 1, "the verifier was asked about the bad token");
  assert.equal(await lookup(site, bad.phone), 404, "a refused token: nothing recorded");
  const good = await post(site, "good-token");
  assert.equal(good.status, 201);
  assert.equal(await lookup(site, good.phone), 200, "an accepted token: recorded");
  const last = seen.at(-1);
  assert.equal(last.secret, "dev-turnstile-secret", "the secret comes from the Worker's secrets");
  assert.equal(last.remoteip, "127.0.0.1");
  assert.equal((await post("demo", "ignored")).status, 201, "sites without Turnstile ignore the field");
});

test("an unreachable verifier is a 503 to retry, never a recorded consent", async () => {
  const site = await turnstileSite();
  await new Promise((r) => server.close(r));
  try {
    const res = await post(site, "good-token");
    assert.equal(res.status, 503);
    assert.equal((await res.json()).type, "/problems/turnstile-unavailable");
    assert.equal(await lookup(site, res.phone), 404, "nothing recorded while the verifier was away");
  } finally {
    await new Promise((r) => server.listen(PORT, "127.0.0.1", r));
  }
});
