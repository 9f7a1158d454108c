// A person manages or withdraws consent from a signed link, no login.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { BASE, freshPhone, subscriber, simMessages, eventually, sleep, SHOP, SHOP_LOCALHOST, launch, newSite, admin, shopPage } from "./support.mjs";

const NOTICE =
  "I agree to receive the messages I select below from Toko Acme on WhatsApp. I can stop at any time by replying STOP.";
const PREFS_KEY = "dev-prefs-token-key"; // the local-only key scripts/dev writes to .dev.vars

async function optIn(phone, categories = ["delivery", "payment_alerts"]) {
  const res = await fetch(`${BASE}/v1/sites/demo/consents`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: SHOP },
    body: JSON.stringify({ phone, categories, locale: "en", notice_version: 1, notice_text: NOTICE, surface: "modal" }),
  });
  assert.equal(res.status, 201);
  return res.json();
}
const prefs = (token, init) => fetch(`${BASE}/v1/preferences/${token}`, init);
const put = (token, categories, origin = BASE) =>
  prefs(token, { method: "PUT", headers: { "content-type": "application/json", origin }, body: JSON.stringify({ categories }) });

test("a person narrows their categories, then opts out of everything; each change is a ledger event", async () => {
  const phone = freshPhone().e164;
  const { preferences_token: token } = await optIn(phone);
  assert.match(token, /^demo\.0\.[0-9a-f-]{36}\.\d+\.[0-9a-f]{32}$/);
  assert.ok(!token.includes(phone.slice(1)), "the link carries no phone number");

  const view = await (await prefs(token)).json();
  assert.equal(view.business_name, "Toko Acme");
  assert.deepEqual(view.categories.filter((c) => c.granted).map((c) => c.category), ["delivery", "payment_alerts"]);
  assert.equal(view.categories.find((c) => c.category === "delivery").label, "Shipping and delivery notifications");

  const narrowed = await (await put(token, ["payment_alerts"])).json();
  assert.deepEqual(narrowed.categories.filter((c) => c.granted).map((c) => c.category), ["payment_alerts"]);

  const out = await prefs(`${token}/opt-out`, { method: "POST", headers: { origin: SHOP } });
  assert.equal(out.status, 200);
  assert.deepEqual((await out.json()).categories.filter((c) => c.granted), []);

  const { body } = await subscriber(phone);
  assert.deepEqual(body.events.map((e) => e.kind), ["grant", "update", "withdraw"]);
  assert.deepEqual(body.events[1].evidence.withdrawn, ["delivery"]);
  assert.equal(body.events[2].evidence.method, "preference_centre_opt_out");
  assert.ok(body.state.every((s) => s.status === "withdrawn"));

  await eventually(async () => (await simMessages(phone)).length === 1);
  const again = await optIn(phone);
  assert.ok(again.id, "a new consent is still recorded");
  await sleep(1500);
  assert.equal((await simMessages(phone)).length, 1, "no second template inside the resend cooldown");
  const after = (await subscriber(phone)).body;
  assert.equal(after.confirmations.at(-1).status, "suppressed");
});

test("forged, mangled, expired and cross-site uses of a link are refused", async () => {
  const { preferences_token: token } = await optIn(freshPhone().e164);
  const [site, shard, id, exp, signature] = token.split(".");
  const forged = `${site}.${shard}.${id}.${Number(exp) + 1}.${signature}`;
  const forgedRes = await prefs(forged);
  assert.equal(forgedRes.status, 403);
  assert.equal((await forgedRes.json()).type, "/problems/invalid-token");
  assert.equal((await prefs("not-a-token")).status, 403);

  const past = Date.now() - 1000;
  const sig = createHmac("sha256", PREFS_KEY).update(`${site}.${shard}.${id}.${past}`).digest("hex").slice(0, 32);
  const expired = await prefs(`${site}.${shard}.${id}.${past}.${sig}`);
  assert.equal((await prefs(`${site}.7.${id}.${exp}.${signature}`)).status, 403, "a shard the site does not have");
  assert.equal(expired.status, 410);
  assert.equal((await expired.json()).type, "/problems/token-expired");

  const foreign = await put(token, ["delivery"], "https://evil.example");
  assert.equal(foreign.status, 403, "a foreign page cannot change someone's preferences");
  const unknown = await put(token, ["marketing"]);
  assert.equal(unknown.status, 422);
  assert.equal((await unknown.json()).field, "categories");
});

test("a page on a foreign origin cannot opt a person out: the no-preflight POST is refused in the browser too", async () => {
  // The site allows only the shop under 127.0.0.1; the same shop under localhost is a foreign origin to it.
  const site = await newSite("pref", { allowed_origins: [SHOP] });
  const phone = freshPhone().e164;
  const res = await fetch(`${BASE}/v1/sites/${site}/consents`, {
    method: "POST", headers: { "content-type": "application/json", origin: SHOP },
    body: JSON.stringify({ phone, categories: ["delivery"], locale: "en", notice_version: 1, notice_text: NOTICE, surface: "modal" }),
  });
  assert.equal(res.status, 201);
  const { preferences_token: token } = await res.json();
  const target = `${BASE}/v1/preferences/${token}/opt-out`;
  const page = (await shopPage(`/pref/foreign-${site}.html`, `<!doctype html><html lang="en"><head><title>x</title></head>
<body><form id="f" method="post" action="${target}"><button>go</button></form></body></html>`)).replace(SHOP, SHOP_LOCALHOST);
  const browser = await launch();
  try {
    const tab = await browser.newPage();
    await tab.goto(page);
    const answers = [];
    tab.on("response", (r) => r.url() === target && answers.push(r.status()));
    // What a foreign page can send without asking: a no-cors fetch and a plain form post.
    await tab.evaluate((url) => fetch(url, { method: "POST", mode: "no-cors" }).then(() => "sent", (e) => String(e)), target);
    await Promise.all([tab.waitForURL(target), tab.click("button")]);
    assert.deepEqual(answers, [403, 403], "both refused by the Worker");
    assert.match(await tab.textContent("body"), /origin-not-allowed/);
  } finally {
    await browser.close();
  }
  const lookup = await admin(`${site}/subscribers/${encodeURIComponent(phone)}`);
  const body = await lookup.json();
  assert.deepEqual(body.events.map((e) => e.kind), ["grant"], "nobody was opted out");
  // From an allowed page the same request works (so the refusal above is the origin's).
  const own = await fetch(target, { method: "POST", headers: { origin: SHOP } });
  assert.equal(own.status, 200);
});
