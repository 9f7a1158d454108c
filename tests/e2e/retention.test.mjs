// Retention per site through the admin API: set, read back, shown in the stats,
// and bad values refused naming the field. The erasure itself runs in the
// ledger's alarm by the ledger's clock; its rule is tested natively
// (crates/optin-worker/src/ledger/retention.rs), since no e2e stack may move
// the clock years ahead.
import { test } from "node:test";
import assert from "node:assert/strict";
import { admin, siteConfig } from "./support.mjs";
import { randomBytes } from "node:crypto";

test("a site's retention is stored, read back and checked; the stats count what it erased", async () => {
  const id = `ret-${randomBytes(4).toString("hex")}`;
  const retention = { after_withdrawal_days: 30, after_last_activity_days: 400 };
  const put = await admin(id, { method: "PUT", body: JSON.stringify(siteConfig(id, { retention })) });
  assert.equal(put.status, 200, await put.clone().text());
  assert.deepEqual((await (await admin(id)).json()).retention, retention);
  assert.equal((await (await admin(`${id}/stats`)).json()).erased_by_retention, 0);

  const other = `ret-${randomBytes(4).toString("hex")}`;
  const plain = await (await admin(other, { method: "PUT", body: JSON.stringify(siteConfig(other)) })).json();
  assert.equal(plain.retention, undefined, "the five-year default is not written out");

  for (const [bad, field] of [
    [{ after_withdrawal_days: 0, after_last_activity_days: 30 }, "retention.after_withdrawal_days"],
    [{ after_withdrawal_days: 30, after_last_activity_days: 40_000 }, "retention.after_last_activity_days"],
  ]) {
    const res = await admin(id, { method: "PUT", body: JSON.stringify(siteConfig(id, { retention: bad })) });
    assert.equal(res.status, 422);
    const body = await res.json();
    assert.deepEqual([body.type, body.field], ["/problems/invalid-site-config", field]);
  }
  const unknown = await admin(id, { method: "PUT", body: JSON.stringify(siteConfig(id, { retention: { forever: true } })) });
  assert.equal(unknown.status, 422);
  assert.equal((await unknown.json()).field, "forever");
  assert.deepEqual((await (await admin(id)).json()).retention, retention, "nothing stored by a refused PUT");
});
