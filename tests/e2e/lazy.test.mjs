// A page with only the modal downloads the modal-only build; the checkout
// opt-in and chat widget (the full build) load when a page shows them or a
// single-page app calls mount() later.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { BASE, launch, freshPhone, subscriber, SHOP } from "./support.mjs";

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const widgetFiles = (page) => {
  const seen = [];
  page.on("request", (r) => {
    const path = new URL(r.url()).pathname;
    if (path.startsWith("/widget/")) seen.push(path.replace(/\.[0-9a-f]{12}\./, "."));
  });
  return seen;
};

test("the modal page loads only the modal-only build; mount() then brings the checkout opt-in", async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  const files = widgetFiles(page);
  await page.goto(`${SHOP}/`);
  const dialog = page.getByRole("dialog", { name: "Get updates on WhatsApp" });
  await dialog.waitFor({ state: "visible", timeout: 15_000 });
  assert.deepEqual(files, ["/widget/optin_widget.wasm"], "nothing of the other surfaces before the prompt");
  await page.keyboard.press("Escape");

  await page.evaluate(() => {
    const el = document.createElement("section");
    el.id = "spa-optin";
    document.body.append(el);
    return window.WhatsAppOptIn.mount(el, { surface: "checkout", categories: "delivery" });
  });
  assert.deepEqual(files, ["/widget/optin_widget.wasm", "/widget/optin_widget_full.js", "/widget/optin_widget_full.wasm"]);
  const spa = page.locator("#spa-optin");
  await spa.getByRole("checkbox", { name: "Shipping and delivery notifications" }).check();
  const phone = freshPhone();
  await spa.getByLabel("WhatsApp number").fill(phone.national);
  const id = await page.evaluate(() => window.WhatsAppOptIn.consent({ element: document.getElementById("spa-optin") }));
  assert.match(id, /^[0-9a-f-]{36}$/);
  const { body } = await subscriber(phone.e164);
  assert.equal(body.events[0].id, id);
  assert.equal(body.events[0].evidence.surface, "checkout");

  assert.equal(await page.getByRole("dialog", { includeHidden: true }).count(), 1, "still one modal");
  await page.evaluate(() => window.WhatsAppOptIn.open());
  await dialog.waitFor({ state: "visible" });
  assert.deepEqual(errors, []);
  await page.close();
});

test("a checkout page loads the full build straight away and not the modal-only one", async () => {
  const page = await browser.newPage();
  const files = widgetFiles(page);
  await page.goto(`${SHOP}/checkout.html`);
  await page.locator("[data-wa-optin=checkout]").getByRole("checkbox").first().waitFor({ timeout: 15_000 });
  assert.deepEqual(files, ["/widget/optin_widget_full.js", "/widget/optin_widget_full.wasm"]);
  await page.close();
});
