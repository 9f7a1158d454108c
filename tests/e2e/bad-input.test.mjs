// Bad input gets a precise 4xx problem+json and records nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { BASE, freshPhone, subscriber, simMessages, sleep, SHOP } from "./support.mjs";

const NOTICE =
  "I agree to receive the messages I select below from Toko Acme on WhatsApp. I can stop at any time by replying STOP.";
const ORIGIN = SHOP;

const good = (phone) => ({
  phone,
  categories: ["delivery"],
  locale: "en",
  notice_version: 1,
  notice_text: NOTICE,
  surface: "modal",
});

const post = (site, body, headers = {}) =>
  fetch(`${BASE}/v1/sites/${site}/consents`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: ORIGIN, ...headers },
    body: typeof body === "string" || Buffer.isBuffer(body) ? body : JSON.stringify(body),
  });

const cases = [
  ["malformed JSON", (p) => post("demo", `{"phone": "${p}",`), 400, "malformed-json", undefined],
  ["invalid UTF-8", (p) => post("demo", Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])), 400, "malformed-json", undefined],
  ["unknown site", (p) => post("no-such-shop", good(p)), 404, "unknown-site", undefined],
  ["site id with path tricks", (p) => post("..%2Fdemo", good(p)), 404, "unknown-site", undefined],
  ["unknown category", (p) => post("demo", { ...good(p), categories: ["marketing"] }), 422, "unknown-category", "categories"],
  ["no category", (p) => post("demo", { ...good(p), categories: [] }), 422, "no-category", "categories"],
  ["invalid phone", () => post("demo", good("+62 12")), 422, "invalid-phone", "phone"],
  ["SQL-looking phone", () => post("demo", good("'; DROP TABLE events; --")), 422, "invalid-phone", "phone"],
  ["disallowed Origin", (p) => post("demo", good(p), { origin: "https://evil.example" }), 403, "origin-not-allowed", undefined],
  ["empty Origin", (p) => post("demo", good(p), { origin: "" }), 403, "origin-not-allowed", undefined],
  ["absent Origin", (p) => fetch(`${BASE}/v1/sites/demo/consents`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(good(p)),
  }), 403, "origin-not-allowed", undefined],
  ["wrong media type", (p) => post("demo", good(p), { "content-type": "text/plain" }), 415, "unsupported-media-type", undefined],
  ["unknown field", (p) => post("demo", { ...good(p), admin: true }), 422, "invalid-body", "admin"],
  ["wrong type", (p) => post("demo", { ...good(p), categories: "delivery" }), 422, "invalid-body", undefined],
  ["notice not what the site shows", (p) => post("demo", { ...good(p), notice_text: NOTICE.replace("STOP", "") }), 422, "notice-mismatch", "notice_text"],
  ["stale notice version", (p) => post("demo", { ...good(p), notice_version: 0 }), 422, "stale-notice", "notice_version"],
  ["unsupported locale", (p) => post("demo", { ...good(p), locale: "fr" }), 422, "unsupported-locale", "locale"],
  ["oversized body", (p) => post("demo", { ...good(p), page_url: "x".repeat(1024 * 1024) }), 413, "payload-too-large", undefined],
];

for (const [name, send, status, slug, field] of cases) {
  test(`${name} → ${status} ${slug}, nothing recorded`, async () => {
    const phone = freshPhone();
    const res = await send(phone.e164);
    assert.equal(res.status, status);
    assert.equal(res.headers.get("content-type"), "application/problem+json");
    const problem = await res.json();
    assert.equal(problem.type, `/problems/${slug}`);
    assert.equal(problem.status, status);
    assert.equal(typeof problem.title, "string");
    assert.ok(problem.detail.length > 0);
    assert.equal(problem.field, field);

    const lookup = await subscriber(phone.e164);
    assert.equal(lookup.status, 404, "no ledger entry for that phone");
    assert.equal(lookup.body.type, "/problems/no-subscriber");
    await sleep(100);
    assert.deepEqual(await simMessages(phone.e164), [], "no template sent");
  });
}

test("admin API refuses a missing or wrong token", async () => {
  for (const token of [null, "wrong", "dev-admin-token-but-longer"]) {
    const res = await subscriber("+6281234567890", token);
    assert.equal(res.status, 401);
    assert.equal(res.type, "application/problem+json");
    assert.equal(res.body.type, "/problems/unauthorized");
  }
});

test("CORS: the preflight lets any page ask; the POST refuses other origins readably and records nothing", async () => {
  const pre = (origin) =>
    fetch(`${BASE}/v1/sites/demo/consents`, {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": "POST" },
    });
  const ok = await pre(ORIGIN);
  assert.equal(ok.status, 204);
  assert.equal(ok.headers.get("access-control-allow-origin"), ORIGIN);
  assert.match(ok.headers.get("access-control-allow-headers"), /Idempotency-Key/);
  assert.equal(ok.headers.get("access-control-max-age"), "7200", "cached for Chromium's 2 h cap");
  // A shop not (yet) in allowed_origins: the browser may send, and the widget may
  // read why it was refused; the refusal itself is the POST's.
  const other = await pre("https://evil.example");
  assert.equal(other.status, 204);
  assert.equal(other.headers.get("access-control-allow-origin"), "https://evil.example");
  const phone = freshPhone();
  const refused = await post("demo", good(phone.e164), { origin: "https://evil.example" });
  assert.equal(refused.status, 403);
  assert.equal(refused.headers.get("access-control-allow-origin"), "https://evil.example");
  assert.equal((await refused.json()).type, "/problems/origin-not-allowed");
  assert.equal((await subscriber(phone.e164)).status, 404, "nothing recorded");
  // No Origin header at all: not a browser page, refused before anything else.
  assert.equal((await fetch(`${BASE}/v1/sites/demo/consents`, {
    method: "OPTIONS", headers: { "access-control-request-method": "POST" } })).status, 403);
});

test("public config carries no secrets", async () => {
  const res = await fetch(`${BASE}/v1/sites/demo/config`);
  assert.equal(res.status, 200);
  const text = await res.text();
  assert.match(text, /"business_name":"Toko Acme"/);
  assert.doesNotMatch(text, /token|phone_number_id|allowed_origins/);
});

test("unknown routes and methods are problems, not 500s", async () => {
  const r1 = await fetch(`${BASE}/v1/nothing-here`);
  assert.equal(r1.status, 404);
  assert.equal(r1.headers.get("content-type"), "application/problem+json");
  const r2 = await fetch(`${BASE}/v1/sites/demo/config`, { method: "DELETE" });
  assert.equal(r2.status, 405);
  assert.equal(r2.headers.get("allow"), "GET");
});

test("/openapi.json documents every route the Worker serves", async () => {
  const res = await fetch(`${BASE}/openapi.json`);
  assert.equal(res.status, 200);
  const spec = await res.json();
  assert.equal(spec.openapi, "3.1.0");
  const routes = {
    "/v1/sites/{site}/config": ["get"],
    "/v1/sites/{site}/consents": ["post", "options"],
    "/v1/sites/{site}/events": ["post", "options"],
    "/v1/preferences/{token}": ["get", "put"],
    "/v1/preferences/{token}/opt-out": ["post"],
    "/p/{token}": ["get", "post"],
    "/admin/sites/{site}": ["get", "put"],
    "/admin/sites/{site}/subscribers/{phone}": ["get", "delete"],
    "/admin/sites/{site}/verify": ["get"],
    "/admin/sites/{site}/templates": ["get", "post"],
    "/admin/sites/{site}/qr-links": ["get", "post"],
    "/admin/sites/{site}/stats": ["get"],
    "/admin/sites/{site}/resume-sending": ["post"],
    "/admin/sites/{site}/export": ["get"],
    "/webhooks/whatsapp": ["get", "post"],
    "/v1/sites/{site}/messages": ["post"],
    "/v1/sites/{site}/messages/{id}": ["get"],
    "/v1/sites/{site}/permissions/{phone}": ["get"],
    "/admin/sites/{site}/keys": ["get", "post"],
    "/admin/sites/{site}/keys/{id}": ["delete"],
    "/admin/sites/{site}/keys/{id}/rotate": ["post"],
    "/v1/sites/{site}/capture": ["get"],
    "/v1/sites/{site}/consents/{id}": ["get"],
  };
  for (const [path, methods] of Object.entries(routes)) {
    assert.deepEqual(Object.keys(spec.paths[path] ?? {}).sort(), methods.sort(), path);
  }
});

test("the benchmark's seed route does not exist on a Worker without DEV_SEED=allow (as in production)", async () => {
  const res = await fetch(`${BASE}/admin/sites/demo/dev-seed`, {
    method: "POST",
    headers: { authorization: "Bearer dev-admin-token", "content-type": "application/json" },
    body: JSON.stringify({ from: 0, events: 10 }),
  });
  assert.equal(res.status, 404);
  assert.equal((await res.json()).type, "/problems/not-found");
  const wrangler = (await import("node:fs")).readFileSync(new URL("../../wrangler.toml", import.meta.url), "utf8");
  assert.doesNotMatch(wrangler, /DEV_SEED/, "wrangler.toml must never allow seeding");
});

test("the demo's dev clock does not exist on a Worker without DEV_CLOCK=allow (as in production)", async () => {
  const res = await fetch(`${BASE}/admin/sites/demo/dev-clock`, {
    method: "POST",
    headers: { authorization: "Bearer dev-admin-token", "content-type": "application/json" },
    body: JSON.stringify({ offset_ms: -86_400_000 }),
  });
  assert.equal(res.status, 404);
  assert.equal((await res.json()).type, "/problems/not-found");
  const wrangler = (await import("node:fs")).readFileSync(new URL("../../wrangler.toml", import.meta.url), "utf8");
  assert.doesNotMatch(wrangler, /DEV_CLOCK/, "wrangler.toml must never allow the dev clock");
});
