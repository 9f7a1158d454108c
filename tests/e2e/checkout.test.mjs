// The embedded checkout opt-in: inside the merchant's own form, unchecked by
// default, reads the merchant's phone field, records on submit without holding
// the submit up, keeps its space, and has a JS API (mount, consent).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { BASE, launch, freshPhone, subscriber, eventually, sleep, axeViolations, SHOP } from "./support.mjs";

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

async function checkoutPage(options) {
  const page = await browser.newPage(options);
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  const posts = [];
  page.on("request", (r) => r.method() === "POST" && r.url().includes("/consents") && posts.push(r.url()));
  return { page, errors, posts };
}

const optin = (page) => page.locator("form.checkout [data-wa-optin=checkout]");

test("the opt-in sits inside the merchant form, unchecked, naming the business; no pop-up", async () => {
  const { page, errors } = await checkoutPage();
  await page.goto(`${SHOP}/checkout.html`);
  const box = optin(page).getByRole("checkbox", { name: "Order confirmations" });
  await box.waitFor({ timeout: 15_000 });
  assert.equal(await box.isChecked(), false, "unchecked by default");
  assert.equal(await optin(page).getByRole("checkbox").count(), 2, "the categories the merchant chose");
  assert.equal(await optin(page).getByRole("checkbox", { name: "Shipping and delivery notifications" }).isChecked(), false);
  const group = optin(page).getByRole("group");
  assert.match(await group.getAttribute("aria-labelledby"), /.+/);
  assert.match(await optin(page).getByText(/Toko Acme on WhatsApp/).textContent(), /I agree to receive the messages I select below from Toko Acme on WhatsApp/);
  assert.equal(await optin(page).getByRole("link", { name: "Privacy policy" }).getAttribute("href"), `${BASE}/privacy.html`);
  assert.equal(await optin(page).getByLabel("WhatsApp number").count(), 0, "the merchant's phone field is used, no second one");
  assert.equal(await page.getByRole("dialog").isVisible(), false, "data-auto-open=false: no modal");
  assert.deepEqual(await axeViolations(page, "[data-wa-optin=checkout] whatsapp-optin"), []);
  assert.deepEqual(errors, []);
  await page.close();
});

test("placing the order with the box ticked records a checkout consent and the order still goes through", async () => {
  const { page, errors } = await checkoutPage();
  await page.goto(`${SHOP}/checkout.html`);
  await optin(page).getByRole("checkbox", { name: "Order confirmations" }).check({ timeout: 15_000 });
  const phone = freshPhone();
  await page.getByLabel("Name").fill("Sari");
  await page.getByLabel("Phone", { exact: true }).fill(phone.national);
  const checkoutUrl = page.url();
  await Promise.all([page.waitForURL(/checkout-done/), page.getByRole("button", { name: "Place order" }).click()]);
  await page.getByRole("heading", { name: "Thank you for your order" }).waitFor();

  const found = await eventually(async () => (await subscriber(phone.e164)).status === 200);
  assert.ok(found, "the consent survived the navigation (keepalive)");
  const { body } = await subscriber(phone.e164);
  assert.equal(body.events.length, 1);
  const [grant] = body.events;
  assert.deepEqual(grant.categories, ["order_updates"]);
  assert.equal(grant.evidence.surface, "checkout");
  assert.equal(grant.evidence.page_url, checkoutUrl);
  assert.equal(grant.evidence.unchecked_by_default, true);
  assert.match(grant.evidence.notice_text, /Toko Acme on WhatsApp/);
  assert.deepEqual(errors, []);
  await page.close();
});

test("the order goes through while the consent is still unanswered: the submit never waits for it", async () => {
  const { page, errors } = await checkoutPage();
  // The Worker's answer is held until the order page has loaded: a widget that held
  // the merchant's submit until then would never get there.
  let release;
  const held = new Promise((r) => { release = r; });
  let seen = 0;
  await page.route("**/v1/sites/demo/consents", async (route) => {
    if (route.request().method() === "POST") seen++;
    await held;
    await route.continue().catch(() => {}); // the page it came from is gone
  });
  await page.goto(`${SHOP}/checkout.html`);
  await optin(page).getByRole("checkbox", { name: "Order confirmations" }).check({ timeout: 15_000 });
  await page.getByLabel("Name").fill("Sari");
  await page.getByLabel("Phone", { exact: true }).fill(freshPhone().national);
  await Promise.all([page.waitForURL(/checkout-done/), page.getByRole("button", { name: "Place order" }).click()]);
  await page.getByRole("heading", { name: "Thank you for your order" }).waitFor();
  assert.equal(seen, 1, "the consent was sent, and was still unanswered when the order page arrived");
  release();
  assert.deepEqual(errors, []);
  await page.close();
});

test("placing the order with the box left unticked records nothing", async () => {
  const { page, posts } = await checkoutPage();
  await page.goto(`${SHOP}/checkout.html`);
  await optin(page).getByRole("checkbox", { name: "Order confirmations" }).waitFor({ timeout: 15_000 });
  const phone = freshPhone();
  await page.getByLabel("Name").fill("Budi");
  await page.getByLabel("Phone", { exact: true }).fill(phone.national);
  await Promise.all([page.waitForURL(/checkout-done/), page.getByRole("button", { name: "Place order" }).click()]);
  await sleep(500);
  assert.deepEqual(posts, []);
  assert.equal((await subscriber(phone.e164)).status, 404);
  await page.close();
});

test("the opt-in's space is reserved: nothing below it moves when the widget arrives", async () => {
  const { page } = await checkoutPage({ viewport: { width: 1280, height: 800 } });
  await page.addInitScript(() => {
    window.__shift = 0;
    new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__shift += e.value; })
      .observe({ type: "layout-shift", buffered: true });
  });
  let release;
  const held = new Promise((r) => { release = r; });
  await page.route("**/widget/*.wasm", async (route) => { await held; await route.continue(); });
  await page.goto(`${SHOP}/checkout.html`);
  const button = page.getByRole("button", { name: "Place order" });
  const before = await button.boundingBox();
  assert.equal(await optin(page).locator("whatsapp-optin").count(), 0, "the widget has not arrived yet");
  release();
  await optin(page).getByRole("checkbox", { name: "Order confirmations" }).waitFor({ timeout: 15_000 });
  await sleep(300);
  assert.deepEqual(await button.boundingBox(), before, "the merchant's button did not move");
  assert.equal(await page.evaluate(() => window.__shift), 0, "no layout shift was recorded");
  await page.close();
});

test("WhatsAppOptIn.mount(el, opts) and WhatsAppOptIn.consent(opts) work without a form submit", async () => {
  const { page, errors } = await checkoutPage();
  await page.goto(`${SHOP}/checkout.html`);
  await optin(page).getByRole("checkbox").first().waitFor({ timeout: 15_000 });
  await page.evaluate(() => {
    const el = document.createElement("section");
    el.id = "spa-optin";
    document.querySelector("main").append(el);
    return window.WhatsAppOptIn.mount(el, { surface: "checkout", categories: "delivery,payment_alerts" });
  });
  const spa = page.locator("#spa-optin");
  assert.equal(await spa.getByRole("checkbox").count(), 2);
  assert.equal(await page.evaluate(() => window.WhatsAppOptIn.consent({ element: document.getElementById("spa-optin") })), null, "nothing ticked: nothing recorded");
  await spa.getByRole("checkbox", { name: "Payment alerts" }).check();
  const phone = freshPhone();
  await spa.getByLabel("WhatsApp number").fill(phone.national);
  const id = await page.evaluate(() => window.WhatsAppOptIn.consent({ element: document.getElementById("spa-optin") }));
  assert.match(id, /^[0-9a-f-]{36}$/);
  const { body } = await subscriber(phone.e164);
  assert.equal(body.events.length, 1);
  assert.equal(body.events[0].id, id);
  assert.deepEqual(body.events[0].categories, ["payment_alerts"]);
  assert.equal(body.events[0].evidence.surface, "checkout");

  await page.evaluate(() => window.WhatsAppOptIn.mount(document.getElementById("spa-optin"), {}));
  assert.equal(await spa.locator("whatsapp-optin").count(), 1, "mounting twice is a no-op");
  assert.deepEqual(errors, []);
  await page.close();
});
