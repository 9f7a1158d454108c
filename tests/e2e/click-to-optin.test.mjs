// Click-to-opt-in end to end: a site's opt-in phrase, prefilled by its wa.me link
// or QR code, sent to its business number is recorded as an in-thread grant and
// answered in the person's language; replays record nothing more; after STOP the
// phrase subscribes again. Real Worker, real simulator, signed webhooks.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, randomInt } from "node:crypto";
import { BASE, SIM, admin, freshPhone, simMessages, eventually, sleep, signWebhook, postWebhook, inboundWebhook, SHOP_ORIGINS } from "./support.mjs";

/** The per-person gap between two sends (scripts/dev sets it for the stack). */
const PAIR_GAP = Number(process.env.OUTBOX_PAIR_GAP_MS ?? 1500);

const DISPLAY_NUMBER = "6281234500000";

async function keywordSite(extra = {}) {
  const id = `c2o-${randomBytes(4).toString("hex")}`;
  const pnid = `8${randomInt(10 ** 13, 10 ** 14 - 1)}`;
  const config = {
    id, business_name: "Toko Acme", allowed_origins: SHOP_ORIGINS, privacy_policy_url: `${BASE}/privacy.html`,
    default_locale: "en", default_calling_code: 62, categories: ["delivery", "order_updates"], notice_version: 1,
    whatsapp: {
      phone_number_id: pnid, template_name: "optin_confirmation", template_languages: ["en", "id", "da"],
      token_secret: "WA_TOKEN_DEMO", display_phone_number: DISPLAY_NUMBER,
    },
    optin_keyword: "JOIN ACME",
    ...extra,
  };
  const res = await admin(id, { method: "PUT", body: JSON.stringify(config) });
  assert.equal(res.status, 200, await res.text());
  return { id, pnid, config };
}

const view = async (site, phone) => {
  const res = await admin(`${site.id}/subscribers/${encodeURIComponent(phone)}`);
  return res.status === 200 ? res.json() : null;
};
async function viewUntil(site, phone, ok, what) {
  const v = await eventually(async () => { const b = await view(site, phone); return b && ok(b) && b; });
  assert.ok(v, `timed out waiting for: ${what}`);
  return v;
}
const replies = async (phone) => (await simMessages(phone)).filter((m) => m.text);

async function say(site, phone, text) {
  const res = await fetch(`${SIM}/_sim/inbound`, {
    method: "POST", body: JSON.stringify({ from: phone, phone_number_id: site.pnid, text }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(body.delivery.http_status, 200, "the Worker accepted the signed webhook");
  return body.id;
}

test("the admin API gives the site's wa.me link, and the config round-trips through GET and PUT", async () => {
  const site = await keywordSite();
  const got = await (await admin(site.id)).json();
  assert.deepEqual(got.click_to_optin, {
    keyword: "JOIN ACME", wa_me_url: `https://wa.me/${DISPLAY_NUMBER}?text=JOIN%20ACME`,
  });
  const again = await admin(site.id, { method: "PUT", body: JSON.stringify(got) });
  assert.equal(again.status, 200, "what GET returns can be written back");
  for (const [keyword, why] of [["STOP", "an opt-out word"], ["Yes", "a confirm word"], ["x", "too short"], ["join <acme>", "markup"]]) {
    const res = await admin(site.id, { method: "PUT", body: JSON.stringify({ ...site.config, optin_keyword: keyword }) });
    assert.equal(res.status, 422, why);
    assert.equal((await res.json()).field, "optin_keyword", why);
  }
  const badNumber = { ...site.config, whatsapp: { ...site.config.whatsapp, display_phone_number: "+62 812" } };
  const res = await admin(site.id, { method: "PUT", body: JSON.stringify(badNumber) });
  assert.equal((await res.json()).field, "whatsapp.display_phone_number");
});

test("the phrase from a new person is an in-thread grant, answered in their number's language", async () => {
  const site = await keywordSite();
  for (const [phone, answer] of [
    [freshPhone().e164, /^Selamat datang! .*Toko Acme.*BERHENTI/],
    [`+4520${randomInt(100_000, 999_999)}`, /^Velkommen! .*Toko Acme.*AFMELD/],
  ]) {
    assert.equal(await view(site, phone), null, "unknown before");
    const inbound = await say(site, phone, "  join  acmé! ");
    const v = await viewUntil(site, phone, (b) => b.events.length === 1, "grant");
    const [grant] = v.events;
    assert.equal(grant.kind, "grant");
    assert.equal(grant.evidence.source, "in_thread_keyword");
    assert.equal(grant.evidence.surface, "click_to_optin", "counted as a consent from that surface");
    assert.equal(grant.evidence.inbound_message_id, inbound);
    assert.equal(grant.evidence.said, "join  acmé!");
    assert.equal(grant.evidence.phone_number_id, site.pnid);
    assert.deepEqual(grant.categories.sort(), ["delivery", "order_updates"]);
    assert.deepEqual(v.state.map((s) => s.status), ["granted", "granted"]);
    const reply = await eventually(async () => (await replies(phone))[0]);
    assert.match(reply?.text ?? "", answer);
  }
});

test("a replayed phrase webhook records one grant and one answer", async () => {
  const site = await keywordSite();
  const phone = freshPhone().e164;
  const body = inboundWebhook(site.pnid, {
    from: phone.slice(1), id: `wamid.JOIN${randomBytes(6).toString("hex")}`, type: "text", text: { body: "JOIN ACME" },
  });
  for (let i = 0; i < 3; i++) assert.equal((await postWebhook(body, signWebhook(body))).status, 200);
  await viewUntil(site, phone, (v) => v.events.length === 1, "grant");
  assert.ok(await eventually(async () => (await replies(phone)).length === 1), "answered");
  await sleep(PAIR_GAP + 1000); // a second answer would have gone out by now
  assert.equal((await view(site, phone)).events.length, 1, "one grant");
  assert.equal((await replies(phone)).length, 1, "one answer");
});

test("after STOP the phrase subscribes again with a new grant", async () => {
  const site = await keywordSite();
  const phone = freshPhone().e164;
  await say(site, phone, "JOIN ACME");
  await viewUntil(site, phone, (v) => v.events.length === 1, "grant");
  await say(site, phone, "STOP");
  const out = await viewUntil(site, phone, (v) => v.events.length === 2, "withdraw");
  assert.deepEqual(out.state.map((s) => s.status), ["withdrawn", "withdrawn"]);
  const again = await say(site, phone, "Join Acme");
  const back = await viewUntil(site, phone, (v) => v.events.length === 3, "second grant");
  assert.equal(back.events[2].kind, "grant");
  assert.equal(back.events[2].evidence.inbound_message_id, again);
  assert.equal(back.events[2].prev_hash, back.events[1].hash);
  assert.deepEqual(back.state.map((s) => s.status), ["granted", "granted"]);
  const texts = await eventually(async () => { const r = await replies(phone); return r.length === 3 && r.map((m) => m.text); });
  assert.ok(texts, "three answers");
  assert.match(texts[2], /^Selamat datang!/);
  assert.deepEqual((await (await admin(`${site.id}/verify`)).json()).ok, true);
  const consents = (await (await admin(`${site.id}/stats`)).json()).consents_by_day;
  assert.equal(consents.filter((c) => c.surface === "click_to_optin").reduce((n, c) => n + c.n, 0), 2,
    "both phrase grants count as consents in the stats");
});

test("the phrase does nothing at a number whose site has none, and is no keyword inside a sentence", async () => {
  const site = await keywordSite();
  const other = await keywordSite({ optin_keyword: undefined });
  const phone = freshPhone().e164;
  await say(other, phone, "JOIN ACME");
  await say(site, phone, "I want to JOIN ACME please");
  await sleep(800);
  assert.equal(await view(other, phone), null);
  assert.equal(await view(site, phone), null);
  assert.equal((await replies(phone)).length, 0, "no automatic answer");
  assert.equal((await (await admin(other.id)).json()).click_to_optin, undefined);
});
