// Shared helpers for the end-to-end tests: the stack (wrangler dev + simulator +
// the demo shop's own web server) is started by `scripts/dev test`; these talk to
// it over HTTP and drive Chromium. Widget tests open merchant pages on SHOP (or
// SHOP_LOCALHOST, a second host name), never on the Worker's origin BASE.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { createHash, createHmac, randomBytes, randomInt } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

export const BASE = process.env.OPTIN_BASE ?? "http://127.0.0.1:8787";
export const SIM = process.env.SIM_BASE ?? "http://127.0.0.1:8789";
export const ADMIN_TOKEN = process.env.ADMIN_TOKEN ?? "dev-admin-token";
/** The merchant's shop: scripts/shop-server.mjs serving www/shop on an origin of its own. */
export const SHOP = process.env.SHOP_BASE ?? "http://127.0.0.1:8791";
/** The same shop under another host name (another origin to the browser). */
export const SHOP_LOCALHOST = SHOP.replace("127.0.0.1", "localhost");
/** What a test site allows: the shop, under both host names. */
export const SHOP_ORIGINS = [SHOP, SHOP_LOCALHOST];

/**
 * Writes a merchant page at `path` on the shop's server (`PUT /_pages/…`, on with
 * SHOP_PAGES=1): `%WORKER%` in it becomes the Worker's origin, `%NONCE%` a fresh
 * nonce per response; `headers` are sent with it. Answers the page's URL on SHOP.
 */
export async function shopPage(path, body, headers = {}) {
  const res = await fetch(`${SHOP}/_pages${path}`, { method: "PUT", body: JSON.stringify({ body, headers }) });
  assert.equal(res.status, 204, `shop page ${path}: ${res.status}`);
  return `${SHOP}${path}`;
}

/** The README's tag for `site`, with `attrs` (e.g. `data-auto-open="false"`). */
export const widgetTag = (site = "demo", attrs = "") =>
  `<script src="%WORKER%/widget.js" data-site="${site}" async ${attrs}></script>`;

export const sha256 = (text) => createHash("sha256").update(text, "utf8").digest("hex");

/** A fresh Indonesian mobile number per test, so tests never see each other's data. */
export function freshPhone() {
  const rest = String(randomInt(10_000_000, 99_999_999));
  return { national: `0812 ${rest.slice(0, 4)} ${rest.slice(4)}`, e164: `+62812${rest}` };
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run",
    ],
  });
}

export async function subscriber(phone, token = ADMIN_TOKEN) {
  const res = await fetch(`${BASE}/admin/sites/demo/subscribers/${encodeURIComponent(phone)}`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  return { status: res.status, type: res.headers.get("content-type"), body: await res.json() };
}

export async function simMessages(phone) {
  const res = await fetch(`${SIM}/_sim/messages?to=${encodeURIComponent(phone)}`);
  return (await res.json()).messages;
}

/**
 * A POST as a client that follows the API's contract sends it: with an
 * Idempotency-Key, sent again with the same key when the connection fails. Under
 * `wrangler dev` a connection that fails between its local proxy and workerd
 * reaches the client as the proxy's own 503 ("Your worker restarted mid-request",
 * which it says for any failed non-GET); CI's burst tests met it twice at the start
 * of a burst. That answer is retried (up to 3 times); every other answer is returned
 * as it is, so the Worker's own replies are asserted unchanged.
 */
export async function postIdempotent(url, init) {
  const headers = { "idempotency-key": randomBytes(12).toString("hex"), ...init.headers };
  for (let attempt = 1; ; attempt++) {
    const res = await fetch(url, { ...init, method: "POST", headers });
    if (res.status !== 503 || attempt === 4) return res;
    const text = await res.clone().text();
    if (!text.startsWith("Your worker restarted mid-request")) return res;
  }
}

/** Polls `probe` until it returns a truthy value or `ms` pass. */
export async function eventually(probe, ms = 15_000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await probe();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  return last;
}

/** Waits until the demo site's admin view of `phone` satisfies `ok`, and returns it. */
export async function viewUntil(phone, ok, what) {
  const view = await eventually(async () => {
    const s = await subscriber(phone);
    return s.status === 200 && ok(s.body) && s.body;
  });
  assert.ok(view, `timed out waiting for: ${what}`);
  return view;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/**
 * WCAG 2.2 A/AA violations axe-core finds in `selector`, one line each. axe is
 * evaluated through DevTools, so the page's strict CSP does not apply to it.
 */
export async function axeViolations(page, selector = "whatsapp-optin") {
  await page.evaluate(AXE);
  return page.evaluate(async (selector) => {
    // Colours are judged as they end up: the modal's opening fade (0.18 s) must be over.
    // The document's getAnimations() does not see into shadow roots: ask each one.
    const roots = [document, ...[...document.querySelectorAll("*")].filter((e) => e.shadowRoot).map((e) => e.shadowRoot)];
    const settled = Promise.all(roots.flatMap((r) => r.getAnimations()).map((a) => a.finished.catch(() => {})));
    await Promise.race([settled, new Promise((r) => setTimeout(r, 2000))]);
    const tags = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"];
    const r = await window.axe.run(selector, { runOnly: { type: "tag", values: tags } });
    return r.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
  }, selector);
}

/** An admin API call on `/admin/sites/{path}` with the global token. */
export const admin = (path, init = {}) =>
  fetch(`${BASE}/admin/sites/${path}`, {
    ...init,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json", ...(init.headers ?? {}) },
  });

/** A valid site configuration on the demo business number, with `extra` on top. */
export const siteConfig = (id, extra = {}) => ({
  id, business_name: "Toko Acme", allowed_origins: SHOP_ORIGINS, privacy_policy_url: `${BASE}/privacy.html`,
  default_locale: "en", default_calling_code: 62, categories: ["order_updates", "delivery"], notice_version: 1,
  whatsapp: { phone_number_id: "100000000000001", template_name: "optin_confirmation", template_languages: ["en"], token_secret: "WA_TOKEN_DEMO" },
  ...extra,
});

/** Stores a fresh site `{prefix}-{random}` (see `siteConfig`) and answers its id. */
export async function newSite(prefix, extra) {
  const id = `${prefix}-${randomBytes(4).toString("hex")}`;
  const res = await admin(id, { method: "PUT", body: JSON.stringify(siteConfig(id, extra)) });
  assert.equal(res.status, 200, await res.clone().text());
  return id;
}

/** `X-Hub-Signature-256` of a webhook body, as Meta signs it with the app secret. */
export const signWebhook = (body, secret = process.env.WHATSAPP_APP_SECRET ?? "dev-app-secret") =>
  `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;

/** Posts a webhook body to the Worker with that `X-Hub-Signature-256` (none when not given). */
export const postWebhook = (body, signature) =>
  fetch(`${BASE}/webhooks/whatsapp`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(signature ? { "x-hub-signature-256": signature } : {}) },
    body,
  });

/** The JSON of Meta's webhook for one inbound `message` to business number `pnid`. */
export const inboundWebhook = (pnid, message) =>
  JSON.stringify({
    object: "whatsapp_business_account",
    entry: [{ id: "1", changes: [{ field: "messages", value: {
      messaging_product: "whatsapp",
      metadata: { display_phone_number: "15550000000", phone_number_id: pnid },
      messages: [{ timestamp: String(Math.floor(Date.now() / 1000)), ...message }],
    } }] }],
  });

/** Runs `fn(item, index)` over `items` with at most `n` in flight; the answers in order. */
export async function pool(items, n, fn) {
  const out = new Array(items.length);
  let i = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (i < items.length) { const k = i++; out[k] = await fn(items[k], k); }
  }));
  return out;
}

/** `rows` (objects with the same keys) as a Markdown table, for the tests' reconciliations. */
export function table(rows) {
  const cols = Object.keys(rows[0]);
  return [`| ${cols.join(" | ")} |`, `|${cols.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${cols.map((c) => String(r[c])).join(" | ")} |`)].join("\n");
}
