// One opt-in travels from a real browser to the confirmation template.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { BASE, launch, freshPhone, subscriber, simMessages, eventually, sha256, sleep, SHOP } from "./support.mjs";

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test("a shopper opts in from the demo page; ledger and simulator agree", async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${SHOP}/`);

  const dialog = page.getByRole("dialog", { name: "Get updates on WhatsApp" });
  await dialog.waitFor({ state: "visible", timeout: 15_000 });
  const notice = await dialog.locator("#wa-notice").textContent();
  assert.match(notice, /Toko Acme/, "the notice names the business");
  assert.match(notice, /WhatsApp/, "the notice names WhatsApp");

  const boxes = dialog.getByRole("checkbox");
  assert.equal(await boxes.count(), 5, "all five demo categories are offered");
  for (let i = 0; i < 5; i++) assert.equal(await boxes.nth(i).isChecked(), false, "unchecked by default");
  assert.equal(
    await dialog.getByRole("link", { name: "Privacy policy" }).getAttribute("href"),
    `${BASE}/privacy.html`,
  );

  const phone = freshPhone();
  await dialog.getByRole("checkbox", { name: "Order confirmations" }).check();
  await dialog.getByRole("checkbox", { name: "Shipping and delivery notifications" }).check();
  await dialog.getByLabel("WhatsApp number").fill(phone.national);
  await dialog.getByRole("button", { name: "Subscribe on WhatsApp" }).click();
  await dialog.getByRole("status").filter({ hasText: "Thank you!" }).waitFor({ timeout: 15_000 });
  // Only the thanks is left in view, not a blank form that reads as "nothing happened".
  assert.equal(await dialog.getByRole("checkbox").first().isVisible(), false, "the categories are put away");
  assert.equal(await dialog.getByLabel("WhatsApp number").isVisible(), false, "the phone field is put away");
  assert.equal(await dialog.getByRole("button", { name: "Subscribe on WhatsApp" }).isVisible(), false);
  assert.equal(await dialog.getByRole("button", { name: "Close" }).isVisible(), true, "the dialog can still be closed");

  const { status, body } = await subscriber(phone.e164);
  assert.equal(status, 200);
  assert.equal(body.phone, phone.e164, "the national number was normalised to E.164");
  assert.equal(body.events.length, 1);
  const [grant] = body.events;
  assert.equal(grant.kind, "grant");
  assert.deepEqual(grant.categories, ["order_updates", "delivery"]);
  assert.equal(grant.evidence.notice_text, notice, "the ledger holds exactly the text shown");
  assert.equal(grant.evidence.notice_hash, sha256(notice));
  assert.equal(grant.evidence.locale, "en");
  assert.equal(grant.evidence.surface, "modal");
  assert.equal(grant.evidence.page_url, `${SHOP}/`, "the merchant page the consent was given on");
  assert.equal(grant.evidence.unchecked_by_default, true);
  assert.match(grant.hash, /^[0-9a-f]{64}$/);
  assert.equal(grant.evidence.site, "demo");
  assert.equal(grant.evidence.ip, "127.0.0.0", "the IP is kept truncated");
  assert.equal(body.receipt.controller.name, "Toko Acme");
  assert.equal(body.receipt.collection.notice_sha256, sha256(notice));
  assert.deepEqual(body.receipt.purposes.map((p) => [p.purpose, p.status]), [["delivery", "granted"], ["order_updates", "granted"]]);
  assert.deepEqual(
    body.state.map((s) => [s.category, s.status]),
    [["delivery", "granted"], ["order_updates", "granted"]],
  );

  const sent = await eventually(async () => {
    const m = await simMessages(phone.e164);
    return m.length > 0 && m;
  });
  assert.ok(sent, "the simulator received the confirmation");
  await sleep(1500); // a duplicate would arrive within this window
  const messages = await simMessages(phone.e164);
  assert.equal(messages.length, 1, "exactly one template was sent");
  const [msg] = messages;
  assert.equal(msg.status, "accepted");
  assert.equal(msg.template.name, "optin_confirmation");
  assert.equal(msg.template.language, "en");
  assert.deepEqual(msg.template.body_texts, ["Toko Acme"], "the template names the business");
  assert.equal(msg.request.biz_opaque_callback_data, grant.id);

  const after = await eventually(async () => {
    const s = await subscriber(phone.e164);
    return ["sent", "delivered", "read"].includes(s.body.confirmations?.[0]?.status) && s.body;
  });
  assert.ok(after, "the outbox shows the confirmation as sent (or, after status webhooks, beyond)");
  assert.equal(after.confirmations[0].wamid, msg.wamid);

  // Opened again (a merchant's "get updates" button): a fresh form, no old thanks.
  await dialog.getByRole("button", { name: "Close" }).click();
  await page.evaluate(() => window.WhatsAppOptIn.open());
  await dialog.getByRole("checkbox", { name: "Order confirmations" }).waitFor({ state: "visible" });
  assert.equal(await dialog.getByRole("checkbox", { name: "Order confirmations" }).isChecked(), false);
  assert.equal(await dialog.getByRole("status").textContent(), "");
  assert.deepEqual(errors, []);
  await page.close();
});

test("the widget tag included three times mounts one widget", async () => {
  const page = await browser.newPage();
  await page.goto(`${SHOP}/examples/twice.html`);
  await page.getByRole("dialog").waitFor({ state: "visible", timeout: 15_000 });
  await sleep(500);
  assert.equal(await page.locator("whatsapp-optin").count(), 1);
  assert.equal(await page.getByRole("dialog").count(), 1);
  await page.close();
});

test("an impossible number is refused inline and nothing is sent", async () => {
  const page = await browser.newPage();
  const posts = [];
  page.on("request", (r) => r.method() === "POST" && posts.push(r.url()));
  await page.goto(`${SHOP}/`);
  const dialog = page.getByRole("dialog");
  await dialog.waitFor({ state: "visible", timeout: 15_000 });
  await dialog.getByRole("checkbox", { name: "Payment alerts" }).check();
  const input = dialog.getByLabel("WhatsApp number");
  await input.fill("12");
  await dialog.getByRole("button", { name: "Subscribe on WhatsApp" }).click();
  await dialog.getByText("Enter a valid WhatsApp number, including the country code.").waitFor();
  assert.equal(await input.getAttribute("aria-invalid"), "true");
  assert.equal(await input.evaluate((el) => el.getRootNode().activeElement === el), true, "focus moves to the field");
  assert.deepEqual(posts, []);
  await page.close();
});

test("Escape closes the dialog and focus returns to the page", async () => {
  const page = await browser.newPage();
  await page.goto(`${SHOP}/`);
  const dialog = page.getByRole("dialog");
  await dialog.waitFor({ state: "visible", timeout: 15_000 });
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "hidden" });
  await page.getByRole("button", { name: "Get order updates on WhatsApp" }).focus();
  await page.keyboard.press("Enter");
  await dialog.waitFor({ state: "visible" });
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "hidden" });
  assert.equal(await page.evaluate(() => document.activeElement?.id), "open-optin");
  await page.close();
});
