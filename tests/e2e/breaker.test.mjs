// The burst breaker (issue #14): a flood of consents from rotating IPs passes
// the per-IP and per-phone limits, and every accepted consent would send a
// template the merchant pays for. Above the site's threshold of web consents in
// 10 minutes the consents are still recorded (201, evidence, state) but their
// confirmations are held until an admin releases them (sent once each, paced)
// or drops them (never sent). Each test uses a site of its own; every burst is
// bounded in count and time, on loopback only.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomInt } from "node:crypto";
import { BASE, SIM, ADMIN_TOKEN, SHOP, admin, newSite, postIdempotent, eventually, sleep, launch, axeViolations, siteConfig, pool, table } from "./support.mjs";

const NOTICE =
  "I agree to receive the messages I select below from Toko Acme on WhatsApp. I can stop at any time by replying STOP.";
const PAIR_GAP = Number(process.env.OUTBOX_PAIR_GAP_MS ?? 1500);
const SPACING = Number(process.env.BREAKER_RELEASE_SPACING_MS ?? 100);
const THRESHOLD = 20;
/** Limits that never stop these bursts, so only the breaker acts. */
const OPEN_LIMITS = { per_ip_per_minute: 1000, per_phone_per_hour: 100, daily_confirmations: 5000, resend_cooldown_hours: 24 };

const randomPhone = () => `+62813${randomInt(10_000_000, 99_999_999)}`;
const consent = (site, phone, ip) =>
  postIdempotent(`${BASE}/v1/sites/${site}/consents`, {
    headers: { "content-type": "application/json", origin: SHOP, ...(ip ? { "cf-connecting-ip": ip } : {}) },
    body: JSON.stringify({ phone, categories: ["delivery"], locale: "en", notice_version: 1, notice_text: NOTICE, surface: "modal" }),
  });

/** `n` consents for fresh numbers from 50 rotating IPs, 16 in flight; each answer with its phone. */
const burst = (site, n) =>
  pool(Array.from({ length: n }, randomPhone), 16, async (phone, i) => {
    const res = await consent(site, phone, `198.18.${40 + (i % 50)}.${1 + (i % 50)}`);
    return { phone, status: res.status, body: await res.json() };
  });

/** Templates the simulator received for these consent ids. */
async function received(ids) {
  const all = (await (await fetch(`${SIM}/_sim/messages`)).json()).messages;
  return all.filter((m) => ids.has(m.request?.biz_opaque_callback_data));
}

const breaker = async (site) => (await admin(`${site}/breaker`)).json();
const stats = async (site) => (await admin(`${site}/stats`)).json();
const settled = (st) => !st.confirmations.some((c) => c.status === "pending" || c.status === "sending");

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test("the breaker's threshold is validated: 0 and absurd values are refused with the field's name", async () => {
  for (const value of [0, 100_001, 4_000_000_000]) {
    const id = `brk-bad-${randomInt(1e6)}`;
    const res = await admin(id, { method: "PUT", body: JSON.stringify(siteConfig(id, { breaker: { threshold_per_10_min: value } })) });
    assert.equal(res.status, 422, `threshold ${value}`);
    const body = await res.json();
    assert.equal(body.type, "/problems/invalid-site-config");
    assert.equal(body.field, "breaker.threshold_per_10_min", JSON.stringify(body));
  }
});

test("a burst from 50 rotating IPs: all recorded, at most the threshold sent, the rest held; release sends each once, paced; a dropped burst never arrives", { timeout: 240_000 }, async () => {
  const site = await newSite("brk", { limits: OPEN_LIMITS, breaker: { threshold_per_10_min: THRESHOLD } });
  const started = Date.now();

  // 1. The burst: every consent is answered 201 as ever.
  const first = await burst(site, 100);
  assert.deepEqual([...new Set(first.map((a) => a.status))], [201], JSON.stringify(first.find((a) => a.status !== 201)));
  assert.ok(Date.now() - started < 60_000, "bounded in time");
  const firstIds = new Set(first.map((a) => a.body.id));
  assert.ok(await eventually(async () => settled(await stats(site)), 30_000), "the unheld confirmations went out");
  await sleep(PAIR_GAP + 1000); // anything else would have been sent by now
  const sentBefore = await received(firstIds);
  assert.equal(sentBefore.length, THRESHOLD, "exactly the threshold's templates before the breaker opened");

  let b = await breaker(site);
  assert.equal(b.open, true);
  assert.equal(b.held, 100 - THRESHOLD);
  assert.equal(b.threshold, THRESHOLD);
  assert.equal(b.threshold_source, "configured");
  assert.equal(b.recent, 100);
  assert.ok(b.open_since >= started - 5000 && b.open_since <= Date.now());
  assert.deepEqual(b.decisions.map((d) => [d.action, d.count, d.actor]), [["hold", THRESHOLD + 1, "breaker"]]);
  const st = await stats(site);
  assert.deepEqual(st.breaker, { open: true, since: b.open_since, held: 100 - THRESHOLD });
  assert.equal(st.confirmations.find((c) => c.status === "held")?.n, 100 - THRESHOLD);
  // Evidence and state are recorded for a held one.
  const heldOne = first.find((a) => !sentBefore.some((m) => m.request.biz_opaque_callback_data === a.body.id));
  const view = await (await admin(`${site}/subscribers/${encodeURIComponent(heldOne.phone)}`)).json();
  assert.deepEqual(view.state.map((s) => [s.category, s.status]), [["delivery", "granted"]]);
  assert.equal(view.confirmations[0].status, "held");

  // Wrong methods.
  for (const [path, method, allow] of [["breaker", "POST", "GET"], ["breaker/release", "GET", "POST"], ["breaker/drop", "PUT", "POST"]]) {
    const res = await admin(`${site}/${path}`, { method });
    assert.equal(res.status, 405, `${method} ${path}`);
    assert.equal(res.headers.get("allow"), allow);
  }
  assert.equal((await fetch(`${BASE}/admin/sites/${site}/breaker/release`, { method: "POST" })).status, 401, "no token, no release");

  // 2. Release: each held confirmation reaches the simulator exactly once, spread out.
  const released = await (await admin(`${site}/breaker/release`, { method: "POST" })).json();
  assert.deepEqual(released, { action: "release", count: 100 - THRESHOLD, actor: "ADMIN_TOKEN" });
  const all = await eventually(async () => {
    const got = await received(firstIds);
    return got.length >= 100 && got;
  }, 90_000);
  assert.ok(all, "every released confirmation arrived");
  await sleep(PAIR_GAP + 1000);
  const perRecipient = new Map();
  for (const m of await received(firstIds)) perRecipient.set(m.to, (perRecipient.get(m.to) ?? 0) + 1);
  assert.equal(perRecipient.size, 100);
  assert.ok([...perRecipient.values()].every((n) => n === 1), "exactly once per recipient");
  const releasedAt = all.filter((m) => !sentBefore.includes(m)).map((m) => m.received_at_ms).sort((x, y) => x - y);
  const span = releasedAt.at(-1) - releasedAt[0];
  assert.ok(span >= 0.8 * SPACING * (releasedAt.length - 1), `paced: ${releasedAt.length} over ${span} ms`);
  b = await breaker(site);
  assert.equal(b.open, false);
  assert.equal(b.held, 0);
  assert.deepEqual(b.decisions.map((d) => d.action), ["release", "hold"]);

  // 3. A second burst while the first is still in the window: all held; dropped, none arrives.
  const second = await burst(site, 30);
  assert.deepEqual([...new Set(second.map((a) => a.status))], [201]);
  const secondIds = new Set(second.map((a) => a.body.id));
  b = await breaker(site);
  assert.equal(b.open, true);
  assert.equal(b.held, 30);
  const dropped = await (await admin(`${site}/breaker/drop`, { method: "POST" })).json();
  assert.deepEqual(dropped, { action: "drop", count: 30, actor: "ADMIN_TOKEN" });
  await sleep(PAIR_GAP + 2000);
  assert.equal((await received(secondIds)).length, 0, "no dropped confirmation was sent");
  const droppedView = await (await admin(`${site}/subscribers/${encodeURIComponent(second[0].phone)}`)).json();
  assert.deepEqual(droppedView.state.map((s) => [s.category, s.status]), [["delivery", "granted"]], "the grant stays");
  assert.equal(droppedView.events[0].kind, "grant");
  assert.equal(droppedView.confirmations[0].status, "dropped");
  b = await breaker(site);
  assert.deepEqual(b.decisions.map((d) => [d.action, d.count]), [["drop", 30], ["hold", 101], ["release", 80], ["hold", 21]]);
  const end = await stats(site);
  assert.equal(end.breaker.held, 0);

  const sent = (await received(new Set([...firstIds, ...secondIds]))).length;
  const rows = [{
    accepted: first.length + second.length, "sent before release": sentBefore.length, held: 100 - THRESHOLD + 30,
    released: released.count, dropped: dropped.count, "sent in all": sent,
    reconciles: sent === sentBefore.length + released.count && sent + dropped.count === first.length + second.length,
  }];
  console.log(`breaker reconciliation (threshold ${THRESHOLD}, ${((Date.now() - started) / 1000).toFixed(1)} s):\n${table(rows)}`);
  assert.ok(rows[0].reconciles);
});

test("the seeded demo's rate (20 consents, 8 in flight, one client) never opens the default breaker", { timeout: 60_000 }, async () => {
  // No breaker setting: the derived default (at least 50 in 10 minutes on a new site).
  const site = await newSite("brk-demo", { limits: { per_ip_per_minute: 600, per_phone_per_hour: 20, daily_confirmations: 5000, resend_cooldown_hours: 24 } });
  const answers = await pool(Array.from({ length: 20 }, randomPhone), 8, async (phone) => (await consent(site, phone)).status);
  assert.deepEqual([...new Set(answers)], [201]);
  const b = await breaker(site);
  assert.equal(b.open, false);
  assert.equal(b.held, 0);
  assert.equal(b.threshold, 50);
  assert.equal(b.threshold_source, "derived");
  assert.deepEqual(b.decisions, []);
  assert.ok(await eventually(async () => settled(await stats(site)), 30_000));
  assert.equal((await stats(site)).confirmations.find((c) => c.status === "held"), undefined);
});

test("dashboard: the held confirmations' panel shows the count and Release sends them (Chromium)", { timeout: 120_000 }, async () => {
  const site = await newSite("brk-dash", { limits: OPEN_LIMITS, breaker: { threshold_per_10_min: 2 } });
  const answers = await burst(site, 5);
  const ids = new Set(answers.map((a) => a.body.id));
  assert.equal((await breaker(site)).held, 3);

  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  const dialogs = [];
  page.on("dialog", (d) => { dialogs.push(d.message()); d.accept(); });
  await page.goto(`${BASE}/admin/`);
  await page.getByLabel("Site").fill(site);
  await page.getByLabel("Admin token").fill(ADMIN_TOKEN);
  await page.getByRole("button", { name: "Open dashboard" }).click();
  const panel = page.getByRole("region", { name: "Confirmations held by the burst breaker" });
  await panel.waitFor();
  assert.match(await page.locator("#breaker-summary").textContent(), /^3 confirmations held since .+; new ones are held too/);
  assert.match(await page.locator("#breaker-rule").textContent(), /exceed 2 \(this site's setting\)/);
  assert.match(await page.locator("#sending-detail").textContent(), /3 held by the burst breaker/);
  assert.deepEqual(await axeViolations(page, "#breaker"), []);
  await page.screenshot({ path: new URL("../../docs/screenshots/dashboard-breaker.png", import.meta.url).pathname, fullPage: false });

  await page.getByRole("button", { name: "Release held confirmations" }).click();
  await page.getByRole("status").filter({ hasText: "Released 3 held confirmations" }).waitFor();
  assert.equal(dialogs.length, 1);
  assert.match(dialogs[0], /Send every held confirmation/);
  await panel.waitFor({ state: "hidden" });
  const got = await eventually(async () => { const r = await received(ids); return r.length >= 5 && r; }, 30_000);
  assert.ok(got, "all five arrived");
  await sleep(PAIR_GAP + 1000);
  assert.equal((await received(ids)).length, 5, "once each");
  assert.deepEqual(errors, []);
  await context.close();
});
