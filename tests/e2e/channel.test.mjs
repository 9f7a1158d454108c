// Channel choice in the preference centre: a person asks for one category by
// email instead of WhatsApp, in Chromium with the keyboard and no JavaScript. The
// send API then refuses that category (and still sends the other), the permission
// check agrees, a message queued just before never leaves, the merchant's receiver
// (verifying with the `standardwebhooks` package) gets `consent.updated` with the
// category's channel, and choosing WhatsApp again lets sends through.
import http from "node:http";
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Webhook } from "standardwebhooks";
import { BASE, SHOP, admin, launch, freshPhone, simMessages, eventually, sleep, newSite } from "./support.mjs";

const NOTICE = "I agree to receive the messages I select below from Toko Acme on WhatsApp. I can stop at any time by replying STOP.";
const DELIVERY = "Shipping and delivery notifications";

let browser;
let receiver;
const receivers = [];
before(async () => { browser = await launch(); });
after(async () => {
  await browser?.close();
  // The Worker keeps its delivery connections alive: end them, or close() waits forever.
  for (const r of receivers) {
    r.server.closeAllConnections();
    await new Promise((ok) => r.server.close(ok));
  }
});

/** A merchant's receiver on a free port: keeps what verifies, answers 401 to the rest. */
async function startReceiver() {
  const r = { received: [], unverified: 0, secret: null };
  r.server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    try {
      r.received.push(new Webhook(r.secret).verify(Buffer.concat(chunks).toString("utf8"), req.headers));
      res.writeHead(204).end();
    } catch {
      r.unverified += 1;
      res.writeHead(401).end();
    }
  });
  await new Promise((ok) => r.server.listen(0, "127.0.0.1", ok));
  receivers.push(r);
  r.url = `http://127.0.0.1:${r.server.address().port}/hooks`;
  return r;
}

async function setUp() {
  const site = await newSite("ch");
  receiver = await startReceiver();
  const ep = await admin(`${site}/webhook-endpoints`, { method: "POST", body: JSON.stringify({ url: receiver.url, events: ["consent.updated"] }) });
  assert.equal(ep.status, 201, await ep.clone().text());
  receiver.secret = (await ep.json()).secret;
  const key = await admin(`${site}/keys`, { method: "POST", body: JSON.stringify({ name: "crm", scopes: ["send"] }) });
  assert.equal(key.status, 201);
  return { site, key: (await key.json()).key };
}

let n = 0;
async function send(ctx, to, category) {
  const res = await fetch(`${BASE}/v1/sites/${ctx.site}/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${ctx.key}`, "idempotency-key": `ch-${Date.now()}-${n++}` },
    body: JSON.stringify({ to, category, template: { name: "order_shipped" } }),
  });
  return { status: res.status, body: await res.json() };
}

async function permissions(ctx, phone) {
  const res = await fetch(`${BASE}/v1/sites/${ctx.site}/permissions/${encodeURIComponent(phone)}`, { headers: { authorization: `Bearer ${ctx.key}` } });
  assert.equal(res.status, 200);
  return (await res.json()).categories;
}

async function message(ctx, id) {
  return (await fetch(`${BASE}/v1/sites/${ctx.site}/messages/${id}`, { headers: { authorization: `Bearer ${ctx.key}` } })).json();
}

const subscriber = async (ctx, phone) =>
  (await admin(`${ctx.site}/subscribers/${encodeURIComponent(phone)}`)).json();

/** In the category's own group of radios, moves to `channel` with the arrow keys. */
async function choose(page, category, channel) {
  const group = page.getByRole("group", { name: category });
  const radios = ["WhatsApp", "Email", "SMS"];
  const checked = await Promise.all(radios.map((r) => group.getByRole("radio", { name: r }).isChecked()));
  await group.getByRole("radio", { name: radios[checked.indexOf(true)] }).focus();
  const steps = radios.indexOf(channel) - checked.indexOf(true);
  for (let i = 0; i < Math.abs(steps); i++) await page.keyboard.press(steps > 0 ? "ArrowDown" : "ArrowUp");
  assert.equal(await group.getByRole("radio", { name: channel }).isChecked(), true);
}

async function save(page) {
  await page.getByRole("button", { name: "Save my choices" }).focus();
  await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]);
  await page.getByText("Your choices are saved.").waitFor();
}

test("a category asked for by email is refused with channel-changed everywhere, and WhatsApp again restores it", async () => {
  const ctx = await setUp();
  const phone = freshPhone().e164;
  const consent = await fetch(`${BASE}/v1/sites/${ctx.site}/consents`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: SHOP },
    body: JSON.stringify({ phone, categories: ["order_updates", "delivery"], locale: "en", notice_version: 1, notice_text: NOTICE, surface: "modal" }),
  });
  assert.equal(consent.status, 201, await consent.clone().text());
  const { preferences_token: token } = await consent.json();

  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  assert.equal((await page.goto(`${BASE}/p/${token}`)).status(), 200);
  assert.equal(await page.getByRole("group", { name: "Where you get each kind of message" }).count(), 1);
  await choose(page, DELIVERY, "Email");
  // Queued behind the confirmation (per-person pacing), so still waiting when the choice lands.
  const queued = await send(ctx, phone, "delivery");
  assert.equal(queued.status, 202, JSON.stringify(queued.body));
  await save(page);
  assert.equal(await page.getByRole("group", { name: DELIVERY }).getByRole("radio", { name: "Email" }).isChecked(), true, "the page shows the choice");

  const refused = await send(ctx, phone, "delivery");
  assert.equal(refused.status, 409);
  assert.equal(refused.body.type, "/problems/channel-changed");
  assert.equal(refused.body.channel, "email");
  assert.equal(refused.body.category, "delivery");
  const other = await send(ctx, phone, "order_updates");
  assert.equal(other.status, 202, "the other category still goes by WhatsApp");

  const perms = await permissions(ctx, phone);
  assert.deepEqual(perms.delivery, { may_send: false, reason: "channel-changed", status: "granted", channel: "email" });
  assert.equal(perms.order_updates.may_send, true);

  const stopped = await eventually(async () => {
    const v = await message(ctx, queued.body.id);
    return v.status !== "pending" && v;
  });
  assert.equal(stopped.status, "suppressed", JSON.stringify(stopped));
  assert.match(stopped.last_error, /channel-changed/);
  await eventually(async () => (await message(ctx, other.body.id)).status !== "pending");
  await sleep(500);
  const shipped = (await simMessages(phone)).filter((m) => m.template?.name === "order_shipped");
  assert.equal(shipped.length, 1, "only the order update reached the person on WhatsApp");

  const view = await subscriber(ctx, phone);
  assert.deepEqual(view.state.map((s) => [s.category, s.status, s.channel]), [["delivery", "granted", "email"], ["order_updates", "granted", "whatsapp"]]);
  assert.deepEqual(view.receipt.purposes.map((p) => [p.purpose, p.channel]), [["delivery", "email"], ["order_updates", "whatsapp"]]);
  const update = view.events.at(-1);
  assert.equal(update.kind, "update");
  assert.deepEqual(update.evidence.channels, { delivery: "email" });
  assert.equal((await (await admin(`${ctx.site}/verify`)).json()).ok, true, "the chain still verifies");

  const hook = await eventually(() => receiver.received.find((p) => p.data?.channels?.delivery === "email"));
  assert.ok(hook, `consent.updated with the channel: ${JSON.stringify(receiver.received)}`);
  assert.equal(hook.type, "consent.updated");
  assert.equal(hook.data.event_id, update.id);
  assert.equal(hook.data.chain_hash, update.hash);

  // Back to WhatsApp: sends go again, and the receiver hears of it.
  await choose(page, DELIVERY, "WhatsApp");
  await save(page);
  const again = await send(ctx, phone, "delivery");
  assert.equal(again.status, 202, JSON.stringify(again.body));
  assert.equal((await permissions(ctx, phone)).delivery.may_send, true);
  assert.ok(await eventually(() => receiver.received.find((p) => p.data?.channels?.delivery === "whatsapp")), "the switch back is pushed too");
  assert.equal(receiver.unverified, 0);
  await context.close();
});

test("an unknown channel or category in a channel choice is refused by name, and nothing is recorded", async () => {
  const ctx = await setUp();
  const phone = freshPhone().e164;
  const consent = await fetch(`${BASE}/v1/sites/${ctx.site}/consents`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: SHOP },
    body: JSON.stringify({ phone, categories: ["delivery"], locale: "en", notice_version: 1, notice_text: NOTICE, surface: "modal" }),
  });
  const { preferences_token: token } = await consent.json();
  const put = (channels) =>
    fetch(`${BASE}/v1/preferences/${token}`, { method: "PUT", headers: { "content-type": "application/json", origin: BASE }, body: JSON.stringify({ categories: ["delivery"], channels }) });
  for (const [channels, field] of [[{ delivery: "fax" }, "channels.delivery"], [{ delivery: 7 }, "channels.delivery"], [{ nope: "email" }, "channels.nope"]]) {
    const res = await put(channels);
    assert.equal(res.status, 422, JSON.stringify(channels));
    assert.equal(res.headers.get("content-type"), "application/problem+json");
    assert.equal((await res.json()).field, field);
  }
  const form = await fetch(`${BASE}/p/${token}`, {
    method: "POST", redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: BASE },
    body: "action=save&category=delivery&channel.delivery=pigeon",
  });
  assert.equal(form.status, 422);
  assert.match(await form.text(), /Something in the form was not valid/);
  assert.deepEqual((await subscriber(ctx, phone)).events.map((e) => e.kind), ["grant"], "nothing recorded");
  const ok = await put({ delivery: "sms" });
  assert.equal(ok.status, 200);
  assert.deepEqual((await ok.json()).categories.map((c) => [c.category, c.channel]), [["order_updates", "whatsapp"], ["delivery", "sms"]]);
});
