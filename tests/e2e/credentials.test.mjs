// A merchant's WhatsApp token stored through the admin API (sealed with
// AES-256-GCM under CREDENTIALS_KEY), replaced without a redeploy, and a site
// created in a Durable Objects jurisdiction (workerd does not implement
// jurisdictions — "Jurisdiction restrictions are not implemented in workerd." —
// so the local stack, and only it, sets JURISDICTIONS=local-unrestricted and
// runs an EU site's `eu:` ledgers in the plain namespace; what is shown here is
// the rest: fixed at creation, named, shown). Real Worker (wrangler dev), the
// simulator checking the Bearer token of every send as Meta does, and the
// Worker's own KV files read back to show the token is not in them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { BASE, SHOP, admin, freshPhone, simMessages, eventually, newSite, siteConfig } from "./support.mjs";

const NOTICE = "I agree to receive the messages I select below from Toko Acme on WhatsApp. I can stop at any time by replying STOP.";
const SIM_TOKEN = "dev-wa-token";
const STATE = process.env.OPTIN_STATE_DIR;

/** A site on the demo number whose config names no token secret at all. */
function tokenless(id, extra = {}) {
  const c = siteConfig(id, extra);
  delete c.whatsapp.token_secret;
  return c;
}

async function optIn(site, phone) {
  const res = await fetch(`${BASE}/v1/sites/${site}/consents`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: SHOP },
    body: JSON.stringify({ phone, categories: ["order_updates"], locale: "en", notice_version: 1, notice_text: NOTICE, surface: "modal" }),
  });
  assert.equal(res.status, 201, await res.clone().text());
  return res.json();
}

/** What the simulator accepted for `phone` (it also logs the sends it refused). */
const delivered = async (phone) => (await simMessages(phone)).filter((m) => m.status === "accepted");
const view = async (site, phone) => (await admin(`${site}/subscribers/${encodeURIComponent(phone)}`)).json();
const putToken = (site, body) => admin(`${site}/graph-token`, { method: "PUT", body: typeof body === "string" ? body : JSON.stringify(body) });

/** Every file under `dir` (the Worker's local KV). */
function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

test("a token stored through the admin API sends; a wrong one holds the site until the right one replaces it", async () => {
  const site = `tok-${Date.now().toString(36)}`;
  const put = await admin(site, { method: "PUT", body: JSON.stringify(tokenless(site)) });
  assert.equal(put.status, 200, await put.clone().text());
  assert.deepEqual(await (await admin(`${site}/graph-token`)).json(), { source: "none", token_secret: null });

  // A wrong token first: the simulator refuses it (190) and the site's sends are held, not lost.
  const wrong = await putToken(site, { token: "EAAGwrong-token-0000" });
  assert.equal(wrong.status, 200, await wrong.clone().text());
  const first = freshPhone().e164;
  await optIn(site, first);
  const held = await eventually(async () => {
    const stats = await (await admin(`${site}/stats`)).json();
    return stats.sending?.halted && stats;
  }, 20_000);
  assert.ok(held, "a token Meta refuses halts the site's sending");
  assert.equal((await delivered(first)).length, 0, "nothing reached the person with the wrong token");
  assert.equal((await simMessages(first))[0]?.error_code, 190, "Meta was asked with the stored (wrong) token");

  // The merchant stores the right one and resumes: the held confirmation leaves, once.
  const right = await putToken(site, { token: SIM_TOKEN });
  assert.equal(right.status, 200);
  const shown = await right.json();
  assert.deepEqual(
    [shown.source, shown.key_id, shown.last4, shown.usable, shown.token_secret],
    ["stored", "dev1", "oken", true, null],
  );
  assert.ok(!JSON.stringify(shown).includes(SIM_TOKEN), "the token is never shown back");
  assert.equal((await admin(`${site}/resume-sending`, { method: "POST" })).status, 200);
  const sent = await eventually(async () => (await delivered(first)).length > 0, 20_000);
  assert.ok(sent, "the held confirmation was sent with the stored token");
  const second = freshPhone().e164;
  await optIn(site, second);
  assert.ok(await eventually(async () => (await delivered(second)).length === 1, 20_000));
  assert.equal((await delivered(first)).length, 1, "the held confirmation was sent exactly once");

  if (STATE) {
    // The sealed entry is in the Worker's KV, and the token is in none of its files.
    const kv = files(join(STATE, "v3", "kv"));
    const texts = kv.map((f) => readFileSync(f, "latin1"));
    assert.ok(texts.some((t) => t.includes('"kid":"dev1"')), "the sealed token is stored with its key id");
    assert.ok(!texts.some((t) => t.includes(SIM_TOKEN)), "the token is stored only encrypted");
  }

  // Removed: back to the config's secret, which this site does not name.
  const removed = await admin(`${site}/graph-token`, { method: "DELETE" });
  assert.equal(removed.status, 200);
  assert.equal((await removed.json()).source, "none");
});

test("a stored token wins over the secret a config names; removing it falls back to the secret", async () => {
  const site = await newSite("tok2");
  assert.deepEqual(await (await admin(`${site}/graph-token`)).json(), { source: "secret", token_secret: "WA_TOKEN_DEMO" });
  assert.equal((await putToken(site, { token: "EAAGrefused-by-meta" })).status, 200);
  const phone = freshPhone().e164;
  await optIn(site, phone);
  assert.ok(await eventually(async () => (await (await admin(`${site}/stats`)).json()).sending?.halted, 20_000),
    "the stored (wrong) token was used, not the secret");
  assert.equal((await admin(`${site}/graph-token`, { method: "DELETE" })).status, 200);
  assert.equal((await admin(`${site}/resume-sending`, { method: "POST" })).status, 200);
  assert.ok(await eventually(async () => (await delivered(phone)).length === 1, 20_000), "sent with WA_TOKEN_DEMO again");
});

test("a bad token, a bad body or no admin token is refused precisely and stores nothing", async () => {
  const site = await newSite("tok3");
  for (const [body, status, field] of [
    [{ token: "" }, 422, "token"],
    [{ token: "has space" }, 422, "token"],
    [{ token: "x".repeat(2049) }, 422, "token"],
    [{ token: "ok", extra: 1 }, 422, "extra"],
    [{}, 422, "token"],
    ["{not json", 400, undefined],
  ]) {
    const res = await putToken(site, body);
    assert.equal(res.status, status, JSON.stringify(body).slice(0, 40));
    const problem = await res.json();
    assert.match(res.headers.get("content-type"), /problem\+json/);
    assert.equal(problem.field, field, JSON.stringify(problem));
  }
  const anon = await fetch(`${BASE}/admin/sites/${site}/graph-token`, { method: "PUT", headers: { "content-type": "application/json" }, body: '{"token":"abc"}' });
  assert.equal(anon.status, 401);
  assert.equal((await (await admin(`${site}/graph-token`)).json()).source, "secret", "nothing was stored");
  const wrongMethod = await admin(`${site}/graph-token`, { method: "POST", body: "{}" });
  assert.equal(wrongMethod.status, 405);
});

test("a site created in the EU jurisdiction records there, keeps it fixed, and says so in the receipt and dashboard", async () => {
  const site = await newSite("eu", { jurisdiction: "eu" });
  assert.equal((await (await admin(site)).json()).jurisdiction, "eu");
  const phone = freshPhone().e164;
  await optIn(site, phone);
  const v = await eventually(async () => {
    const s = await view(site, phone);
    return s.confirmations?.[0]?.status && s;
  }, 20_000);
  assert.ok(v, "the consent was recorded and its confirmation queued in the EU ledger");
  assert.equal(v.receipt.storage.jurisdiction, "eu");
  assert.ok((await (await admin(`${site}/verify`)).json()).ok);

  for (const [change, status, type] of [
    [{}, 409, "/problems/fixed-at-creation"],
    [{ jurisdiction: "fedramp" }, 409, "/problems/fixed-at-creation"],
    [{ jurisdiction: "mars" }, 422, undefined],
  ]) {
    const config = { ...siteConfig(site), ...change };
    const res = await admin(site, { method: "PUT", body: JSON.stringify(config) });
    assert.equal(res.status, status, JSON.stringify(change));
    const problem = await res.json();
    assert.equal(problem.field, "jurisdiction", JSON.stringify(problem));
    if (type) assert.equal(problem.type, type);
  }
  assert.equal((await (await admin(site)).json()).jurisdiction, "eu", "still in the EU");

  // A site without one cannot be moved into one later either.
  const plain = await newSite("plain");
  const moved = await admin(plain, { method: "PUT", body: JSON.stringify(siteConfig(plain, { jurisdiction: "eu" })) });
  assert.equal(moved.status, 409);
});
