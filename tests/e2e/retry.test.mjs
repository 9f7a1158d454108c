// A lost network on submit: the shopper sees the retry message, keeps what they
// typed, and the retry (same Idempotency-Key) records exactly one consent.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { BASE, launch, freshPhone, subscriber, eventually, sleep, SHOP } from "./support.mjs";

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const NETWORK_ERROR = "Could not send. Check your connection and try again.";

/** Opens the demo with the consent POSTs routed through `handler(route, n)`; returns the keys sent. */
async function demoWithRoutedPosts(handler) {
  const page = await browser.newPage();
  const keys = [];
  await page.route("**/v1/sites/demo/consents", async (route) => {
    if (route.request().method() !== "POST") return route.continue();
    keys.push(route.request().headers()["idempotency-key"]);
    return handler(route, keys.length);
  });
  await page.goto(`${SHOP}/`);
  const dialog = page.getByRole("dialog");
  await dialog.waitFor({ state: "visible", timeout: 15_000 });
  return { page, dialog, keys };
}

async function fillAndSubmit(dialog, phone) {
  await dialog.getByRole("checkbox", { name: "Order confirmations" }).check();
  await dialog.getByRole("checkbox", { name: "Payment alerts" }).check();
  await dialog.getByLabel("WhatsApp number").fill(phone.national);
  await dialog.getByRole("button", { name: "Subscribe on WhatsApp" }).click();
}

test("a failed send keeps the form as typed, says so, and the retry records once", async () => {
  const { page, dialog, keys } = await demoWithRoutedPosts((route, n) =>
    n === 1 ? route.abort("internetdisconnected") : route.continue());
  const errors = [];
  await page.exposeFunction("__optinError", (d) => errors.push(d));
  await page.evaluate(() => document.addEventListener("whatsapp-optin:error", (e) => window.__optinError(e.detail)));
  const phone = freshPhone();
  await fillAndSubmit(dialog, phone);

  const status = dialog.getByRole("status");
  await status.filter({ hasText: NETWORK_ERROR }).waitFor({ timeout: 15_000 });
  assert.equal(await dialog.getByLabel("WhatsApp number").inputValue(), phone.national, "the number is kept");
  assert.equal(await dialog.getByRole("checkbox", { name: "Order confirmations" }).isChecked(), true);
  assert.equal(await dialog.getByRole("checkbox", { name: "Payment alerts" }).isChecked(), true);
  assert.equal(await dialog.getByRole("button", { name: "Subscribe on WhatsApp" }).isEnabled(), true, "can retry");
  assert.equal(await status.evaluate((s) => s.getRootNode().activeElement === s), true, "the message is focused for screen readers");
  assert.equal((await subscriber(phone.e164)).status, 404, "nothing recorded yet");
  assert.equal(errors.length, 1);
  assert.equal(errors[0].message, NETWORK_ERROR);

  await dialog.getByRole("button", { name: "Subscribe on WhatsApp" }).click();
  await status.filter({ hasText: "Thank you!" }).waitFor({ timeout: 15_000 });
  assert.equal(keys.length, 2);
  assert.match(keys[0], /^[0-9a-f]{32}$/);
  assert.equal(keys[1], keys[0], "the retry carries the same Idempotency-Key");

  await sleep(500);
  const { status: found, body } = await subscriber(phone.e164);
  assert.equal(found, 200);
  assert.equal(body.events.length, 1, "exactly one ledger event");
  assert.deepEqual(body.events[0].categories, ["order_updates", "payment_alerts"]);
  await page.close();
});

test("a later, different opt-in from the same page gets a new Idempotency-Key", async () => {
  const { page, dialog, keys } = await demoWithRoutedPosts((route) => route.continue());
  await fillAndSubmit(dialog, freshPhone());
  await dialog.getByRole("status").filter({ hasText: "Thank you!" }).waitFor({ timeout: 15_000 });
  // The thanks replaces the form; opening the dialog again brings a fresh one.
  await dialog.getByRole("button", { name: "Close" }).click();
  await page.evaluate(() => window.WhatsAppOptIn.open());
  const second = freshPhone();
  await fillAndSubmit(dialog, second);
  assert.ok(await eventually(async () => (await subscriber(second.e164)).status === 200), "the second opt-in is recorded");
  assert.equal(keys.length, 2);
  assert.notEqual(keys[0], keys[1]);
  await page.close();
});

test(
  "a response lost after the Worker recorded the consent: the retry still records once",
  async () => {
    const { page, dialog } = await demoWithRoutedPosts(async (route, n) => {
      if (n > 1) return route.continue();
      await route.fetch(); // reaches the Worker and is recorded…
      return route.abort("connectionreset"); // …but the browser never hears back
    });
    const phone = freshPhone();
    await fillAndSubmit(dialog, phone);
    await dialog.getByRole("status").filter({ hasText: NETWORK_ERROR }).waitFor({ timeout: 15_000 });
    await dialog.getByRole("button", { name: "Subscribe on WhatsApp" }).click();
    await dialog.getByRole("status").filter({ hasText: "Thank you!" }).waitFor({ timeout: 15_000 });
    await sleep(500);
    assert.equal((await subscriber(phone.e164)).body.events.length, 1);
    await page.close();
  },
);
