// The product as an attacker meets it: message pumping, merchant strings carrying
// script, oversized and slow requests, replayed webhooks. Each test uses a fresh
// site (or fresh numbers), and every loop is bounded in count and time.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { createHmac, randomBytes, randomInt } from "node:crypto";
import { BASE, SIM, ADMIN_TOKEN, launch, freshPhone, subscriber, simMessages, eventually, sleep, admin, siteConfig, newSite as sharedNewSite, postIdempotent, SHOP, pool } from "./support.mjs";

const NOTICE =
  "I agree to receive the messages I select below from Toko Acme on WhatsApp. I can stop at any time by replying STOP.";
const APP_SECRET = process.env.WHATSAPP_APP_SECRET ?? "dev-app-secret";
const DEMO_PNID = "100000000000001";
const newSite = (extra) => sharedNewSite("sec", extra);
const consent = (site, phone, extra = {}, headers = {}) =>
  postIdempotent(`${BASE}/v1/sites/${site}/consents`, {
    headers: { "content-type": "application/json", origin: SHOP, ...headers },
    body: JSON.stringify({ phone, categories: ["delivery"], locale: "en", notice_version: 1, notice_text: NOTICE, surface: "modal", ...extra }),
  });
const randomPhone = () => `+62813${randomInt(10_000_000, 99_999_999)}`;

test("pumping: 1,000 consents for random numbers from one IP are stopped by the per-IP limit", { timeout: 180_000 }, async () => {
  const limit = 25;
  // The burst breaker off (at its maximum): this test measures the per-IP limit alone.
  const site = await newSite({ limits: { per_ip_per_minute: limit, per_phone_per_hour: 5, daily_confirmations: 5000, resend_cooldown_hours: 24 }, breaker: { threshold_per_10_min: 100_000 } });
  const phones = Array.from({ length: 1000 }, randomPhone);
  const answers = await pool(phones, 16, async (phone) => {
    const res = await consent(site, phone);
    const body = await res.json();
    return { phone, status: res.status, retryAfter: res.headers.get("retry-after"), body };
  });
  const admitted = answers.filter((a) => a.status === 201);
  const refused = answers.filter((a) => a.status === 429);
  assert.equal(admitted.length + refused.length, 1000, "every answer is 201 or 429");
  // Fixed one-minute windows of the Worker's clock, which the consent ids (UUIDv7) carry:
  // no window admits one more than the limit (a racy counter would), and one is full.
  const perWindow = new Map();
  for (const a of admitted) {
    const minute = Math.floor(parseInt(a.body.id.replaceAll("-", "").slice(0, 12), 16) / 60_000);
    perWindow.set(minute, (perWindow.get(minute) ?? 0) + 1);
  }
  assert.ok([...perWindow.values()].every((n) => n <= limit), `admitted per minute: ${[...perWindow.values()]}`);
  assert.equal(Math.max(...perWindow.values()), limit, "the limit is reached, not undercounted");
  assert.ok(refused.every((a) => Number(a.retryAfter) > 0 && a.body.type === "/problems/rate-limited"));

  const stats = await (await admin(`${site}/stats`)).json();
  assert.deepEqual(stats.events, [{ kind: "grant", n: admitted.length }], "only admitted consents are in the ledger");
  const ids = new Set(admitted.map((a) => a.body.id));
  await eventually(async () => {
    const st = await (await admin(`${site}/stats`)).json();
    return !st.confirmations.some((c) => c.status === "pending" || c.status === "sending");
  }, 30_000);
  const all = (await (await fetch(`${SIM}/_sim/messages`)).json()).messages;
  const sent = all.filter((m) => ids.has(m.request?.biz_opaque_callback_data));
  assert.equal(sent.length, admitted.length, "one template per admitted consent");
  const refusedPhones = new Set(refused.map((a) => a.phone));
  assert.equal(all.filter((m) => refusedPhones.has(m.to)).length, 0, "no template reached a refused number");
});

test("pumping: 1,000 consents for random numbers from 1,000 IPs are stopped by the site's daily cap", { timeout: 180_000 }, async () => {
  const cap = 40;
  const site = await newSite({ limits: { per_ip_per_minute: 5, per_phone_per_hour: 5, daily_confirmations: cap, resend_cooldown_hours: 24 } });
  const day = () => new Date().toISOString().slice(0, 10);
  const firstDay = day();
  // A botnet: every request from its own address, so the per-IP limit never trips.
  const answers = await pool(Array.from({ length: 1000 }, (_, i) => i), 16, async (i) => {
    const ip = `198.18.${i >> 8}.${i & 255}`;
    const res = await consent(site, randomPhone(), {}, { "cf-connecting-ip": ip });
    return { status: res.status, body: await res.json() };
  });
  const admitted = answers.filter((a) => a.status === 201);
  const refused = answers.filter((a) => a.status === 429);
  assert.equal(admitted.length + refused.length, 1000, "every answer is 201 or 429");
  // A run that crosses midnight UTC meets two daily windows.
  const expected = day() === firstDay ? cap : 2 * cap;
  assert.equal(admitted.length, expected, `admitted ${admitted.length}`);
  assert.ok(refused.every((a) => /site-daily-confirmations/.test(a.body.detail)), "refused by the daily cap");
  const stats = await (await admin(`${site}/stats`)).json();
  assert.deepEqual(stats.events, [{ kind: "grant", n: expected }], "only admitted consents are in the ledger");
  const ids = new Set(admitted.map((a) => a.body.id));
  const sent = async () => {
    const all = (await (await fetch(`${SIM}/_sim/messages`)).json()).messages;
    return all.filter((m) => ids.has(m.request?.biz_opaque_callback_data));
  };
  assert.ok(await eventually(async () => (await sent()).length >= expected, 30_000), "every admitted consent's template sent");
  await sleep(Number(process.env.OUTBOX_PAIR_GAP_MS ?? 1500) + 1000); // a second send would be out by now
  const templates = await sent();
  assert.equal(templates.length, expected, "one template each, no more");
  assert.equal(new Set(templates.map((m) => m.request.biz_opaque_callback_data)).size, expected);
});

test("pumping: a site's daily confirmation cap holds across numbers", async () => {
  const site = await newSite({ limits: { per_ip_per_minute: 1000, per_phone_per_hour: 5, daily_confirmations: 5, resend_cooldown_hours: 24 } });
  // All at once: a cap that is read and then written apart would admit more than 5.
  const day = () => new Date().toISOString().slice(0, 10);
  const firstDay = day();
  const answers = await Promise.all(Array.from({ length: 20 }, async () => {
    const res = await consent(site, randomPhone());
    return { status: res.status, body: await res.json() };
  }));
  const cap = day() === firstDay ? 5 : 10; // a run across midnight UTC meets two days
  assert.equal(answers.filter((a) => a.status === 201).length, cap, JSON.stringify(answers.map((a) => a.status)));
  const refused = answers.filter((a) => a.status !== 201);
  assert.ok(refused.every((a) => a.status === 429 && /site-daily-confirmations/.test(a.body.detail)));
  const stats = await (await admin(`${site}/stats`)).json();
  assert.deepEqual(stats.events, [{ kind: "grant", n: cap }]);
});

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test("XSS: script in every merchant-configurable string (name, privacy URL, wording) is shown as text by the widget", { timeout: 60_000 }, async () => {
  const name = `<img src=x onerror="window.__xss=1"><svg onload="window.__xss=2">"'&</b>`;
  const privacy = `${BASE}/privacy.html?q="><img src=x onerror="window.__xss=3">`;
  for (const [field, value] of [
    ["privacy_policy_url", "javascript:window.__xss=4"],
    ["privacy_policy_url", "data:text/html,<script>alert(1)</script>"],
  ]) {
    const id = `sec-${randomBytes(4).toString("hex")}`;
    const res = await admin(id, { method: "PUT", body: JSON.stringify(siteConfig(id, { [field]: value })) });
    assert.equal(res.status, 422, `${field}=${value} is refused`);
    assert.equal((await res.json()).field, field);
  }
  const site = await newSite({ business_name: name, privacy_policy_url: privacy });
  const config = await fetch(`${BASE}/v1/sites/${site}/config`);
  assert.match(config.headers.get("content-type"), /^application\/json/);

  const page = await browser.newPage();
  const dialogs = [];
  page.on("dialog", (d) => { dialogs.push(d.message()); d.dismiss(); });
  await page.goto(`${SHOP}/examples/site.html?site=${site}`);
  const modal = page.getByRole("dialog");
  await modal.waitFor({ state: "visible", timeout: 15_000 });
  const notice = await modal.locator("#wa-notice").textContent();
  assert.ok(notice.includes(name), `the business name appears literally: ${notice}`);
  assert.equal(await modal.locator("img, svg[onload], script").count(), 0, "no element came from the payload");
  assert.equal(await modal.getByRole("link", { name: "Privacy policy" }).getAttribute("href"), privacy);
  await sleep(500);
  assert.equal(await page.evaluate(() => window.__xss), undefined, "no payload ran");
  assert.deepEqual(dialogs, []);
  await page.close();

  // The merchant's own wording (string overrides) carries script too.
  const p = `<img src=x onerror="window.__xss=5"><b onmouseover="window.__xss=6">`;
  const worded = await newSite({ strings: { en: {
    title: `Hi ${p}`, submit: `Go ${p}`, delivery: `Parcels ${p}`,
    notice: `Messages from {business} on WhatsApp ${p}`,
  } } });
  const page2 = await browser.newPage();
  page2.on("dialog", (d) => { dialogs.push(d.message()); d.dismiss(); });
  await page2.goto(`${SHOP}/examples/site.html?site=${worded}`);
  const modal2 = page2.getByRole("dialog");
  await modal2.waitFor({ state: "visible", timeout: 15_000 });
  const shown = await modal2.textContent();
  for (const text of [`Hi ${p}`, `Go ${p}`, `Parcels ${p}`, `Messages from Toko Acme on WhatsApp ${p}`]) {
    assert.ok(shown.includes(text), `shown literally: ${text}`);
  }
  assert.equal(await modal2.locator("img, b[onmouseover]").count(), 0, "no element came from the wording");
  await modal2.getByRole("checkbox", { name: `Parcels ${p}` }).hover();
  await sleep(300);
  assert.equal(await page2.evaluate(() => window.__xss), undefined, "no payload ran");
  assert.deepEqual(dialogs, []);
  await page2.close();
});

test("oversized bodies are refused before they are read: webhook, site config, preferences", async () => {
  const big = JSON.stringify({ object: "whatsapp_business_account", entry: [], pad: "x".repeat(600 * 1024) });
  const sig = `sha256=${createHmac("sha256", APP_SECRET).update(big).digest("hex")}`;
  const hook = await fetch(`${BASE}/webhooks/whatsapp`, {
    method: "POST", headers: { "content-type": "application/json", "x-hub-signature-256": sig }, body: big,
  });
  assert.equal(hook.status, 413);
  assert.equal((await hook.json()).type, "/problems/payload-too-large");

  // Every JSON endpoint reads at most 16 KiB (http::MAX_BODY): just over it is 413, and nothing is stored.
  const id = `sec-${randomBytes(4).toString("hex")}`;
  const config = JSON.stringify({ ...siteConfig(id), business_name: "Toko" });
  const overBy1 = config.replace('"Toko"', `"Toko${"x".repeat(16 * 1024 - config.length + 1)}"`);
  assert.equal(Buffer.byteLength(overBy1), 16 * 1024 + 1);
  const put = await admin(id, { method: "PUT", body: overBy1 });
  assert.equal(put.status, 413, `site PUT answered ${put.status}`);
  assert.equal((await put.json()).type, "/problems/payload-too-large");
  assert.equal((await admin(id)).status, 404, "no site was stored");

  const phone = freshPhone().e164;
  const { preferences_token: token } = await (await consent("demo", phone)).json();
  const prefs = await fetch(`${BASE}/v1/preferences/${token}`, {
    method: "PUT", headers: { "content-type": "application/json", origin: BASE },
    body: JSON.stringify({ categories: ["order_updates"], pad: "x".repeat(17 * 1024) }),
  });
  assert.equal(prefs.status, 413, `preferences PUT answered ${prefs.status}`);
  const after = await subscriber(phone);
  assert.deepEqual(after.body.events.map((e) => e.kind), ["grant"], "the oversized preferences stored nothing");
});

test("a chunked body without Content-Length is cut off at the limit, not read whole", async () => {
  const phone = freshPhone().e164;
  const body = JSON.stringify({ phone, categories: ["delivery"], locale: "en", notice_version: 1, notice_text: NOTICE,
    surface: "modal", page_url: `https://shop.example/${"x".repeat(64 * 1024)}` });
  // A raw client: 32 KiB in 4 KiB chunks, then the connection held open with the body
  // never ended. A Worker that reads it whole before checking would never answer; one
  // that counts as it reads answers 413 once past 16 KiB. (A fetch() upload races the
  // early answer and its socket's close, and may see only "terminated".)
  const { port, hostname } = new URL(BASE);
  const answer = await new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let got = "";
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no answer within 15 s: ${got.slice(0, 200)}`)); }, 15_000);
    socket.on("error", () => {}); // the server may close while chunks are in flight
    socket.on("data", (d) => {
      got += d;
      if (/\r\n\r\n[\s\S]*payload-too-large/.test(got)) { clearTimeout(timer); socket.destroy(); resolve(got); }
    });
    socket.on("close", () => { clearTimeout(timer); resolve(got); });
    socket.write(`POST /v1/sites/demo/consents HTTP/1.1\r\nHost: ${hostname}:${port}\r\nOrigin: ${SHOP}\r\n` +
      "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (const chunk of body.slice(0, 32 * 1024).match(/[\s\S]{1,4096}/g)) {
      socket.write(`${Buffer.byteLength(chunk).toString(16)}\r\n${chunk}\r\n`);
    }
  });
  assert.match(answer, /^HTTP\/1\.1 413 /, answer.slice(0, 200));
  assert.match(answer, /\/problems\/payload-too-large/);
  assert.equal((await subscriber(phone)).status, 404, "nothing recorded");
  // The same consent, small, chunked the same way, is read and recorded.
  const small = JSON.stringify({ phone, categories: ["delivery"], locale: "en", notice_version: 1, notice_text: NOTICE, surface: "modal" });
  const parts = small.match(/[\s\S]{1,64}/g).map((c) => new TextEncoder().encode(c));
  const ok = await fetch(`${BASE}/v1/sites/demo/consents`, {
    method: "POST", duplex: "half",
    body: new ReadableStream({ pull(c) { const next = parts.shift(); next ? c.enqueue(next) : c.close(); } }),
    headers: { "content-type": "application/json", origin: SHOP },
  });
  assert.equal(ok.status, 201, await ok.clone().text());
  assert.equal((await subscriber(phone)).status, 200);
});

test("slow clients: trickled bodies and headers do not hold up other shoppers, and record nothing", { timeout: 60_000 }, async () => {
  const { port, hostname } = new URL(BASE);
  const phone = freshPhone().e164;
  const body = JSON.stringify({ phone, categories: ["delivery"], locale: "en", notice_version: 1, notice_text: NOTICE, surface: "modal" });
  const sockets = [];
  const open = (head) => {
    const s = connect(Number(port), hostname);
    s.on("error", () => {});
    s.write(head);
    sockets.push(s);
    return s;
  };
  // One client sends the headers and then the body a byte at a time; 40 more send headers slowly.
  const slow = open(`POST /v1/sites/demo/consents HTTP/1.1\r\nHost: ${hostname}:${port}\r\nOrigin: ${SHOP}\r\n` +
    `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
  for (let i = 0; i < 40; i++) open(`GET /v1/sites/demo/config HTTP/1.1\r\nHost: ${hostname}:${port}\r\n`);
  let sentBytes = 0;
  const trickle = setInterval(() => {
    if (sentBytes < body.length - 1) slow.write(body[sentBytes++]); // never the last byte
    for (const s of sockets.slice(1)) s.write("X-Slow: 1\r\n");
  }, 100);
  try {
    // Other shoppers are answered while the slow clients hang on (how fast is the benchmarks' business).
    for (let i = 0; i < 10; i++) {
      const res = await fetch(`${BASE}/v1/sites/demo/config`, { signal: AbortSignal.timeout(15_000) });
      assert.equal(res.status, 200);
      await res.text();
      await sleep(300);
    }
    const other = freshPhone().e164;
    assert.equal((await consent("demo", other)).status, 201, "another shopper's consent is recorded meanwhile");
  } finally {
    clearInterval(trickle);
    for (const s of sockets) s.destroy();
  }
  await sleep(300);
  assert.equal((await subscriber(phone)).status, 404, "the unfinished consent recorded nothing");
});

test("webhook replay: the same signed STOP delivered twice withdraws once and replies once", async () => {
  const phone = freshPhone().e164;
  const res = await consent("demo", phone, { categories: ["delivery", "order_updates"] });
  assert.equal(res.status, 201);
  await eventually(async () => (await simMessages(phone)).length > 0);
  const wamid = `wamid.REPLAY${randomBytes(8).toString("hex")}`;
  const body = JSON.stringify({
    object: "whatsapp_business_account",
    entry: [{ id: "1", changes: [{ field: "messages", value: {
      messaging_product: "whatsapp",
      metadata: { display_phone_number: "15550000000", phone_number_id: DEMO_PNID },
      contacts: [{ profile: { name: "Replay" }, wa_id: phone.slice(1) }],
      messages: [{ from: phone.slice(1), id: wamid, timestamp: String(Math.floor(Date.now() / 1000)), type: "text", text: { body: "STOP" } }],
    } }] }],
  });
  const sig = `sha256=${createHmac("sha256", APP_SECRET).update(body).digest("hex")}`;
  for (let i = 0; i < 2; i++) {
    const r = await fetch(`${BASE}/webhooks/whatsapp`, {
      method: "POST", headers: { "content-type": "application/json", "x-hub-signature-256": sig }, body,
    });
    assert.equal(r.status, 200, `delivery ${i + 1}`);
  }
  const view = await eventually(async () => {
    const s = await subscriber(phone);
    return s.body.confirmations?.some((c) => c.kind === "text" && c.status !== "pending") && s.body;
  });
  assert.ok(view, "the STOP was answered");
  assert.deepEqual(view.events.map((e) => e.kind), ["grant", "withdraw"], "one withdraw, not two");
  assert.ok(view.state.every((s) => s.status === "withdrawn"));
  // The outbox rows do not wait for the per-person gap: a second reply would be queued already.
  assert.equal(view.confirmations.filter((c) => c.kind === "text").length, 1, "one reply queued, not two");
  await sleep(Number(process.env.OUTBOX_PAIR_GAP_MS ?? 1500) + 1000); // and past the gap, none was sent
  const texts = (await simMessages(phone)).filter((m) => m.text);
  assert.equal(texts.length, 1, "one reply, not two");
});
