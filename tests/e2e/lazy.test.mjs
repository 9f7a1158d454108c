// A page with only the modal downloads no wasm before its prompt (the loader
// shows it); the modal-only build comes at the visitor's first interaction with
// its form. The checkout opt-in and chat widget (the full build) load when a page
// shows them or a single-page app calls mount() later.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { BASE, launch, freshPhone, subscriber, SHOP, sleep } from "./support.mjs";

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

test("the modal page loads no wasm before its prompt; mount() then brings the checkout opt-in", async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  const files = widgetFiles(page);
  await page.goto(`${SHOP}/`);
  const dialog = page.getByRole("dialog", { name: "Get updates on WhatsApp" });
  await dialog.waitFor({ state: "visible", timeout: 15_000 });
  await sleep(300);
  assert.deepEqual(files, [], "no wasm before the prompt, nor while it is only looked at");
  await page.keyboard.press("Escape");
  await sleep(300);
  assert.deepEqual(files, [], "nor for closing it");

  await page.evaluate(() => {
    const el = document.createElement("section");
    el.id = "spa-optin";
    document.body.append(el);
    return window.WhatsAppOptIn.mount(el, { surface: "checkout", categories: "delivery" });
  });
  assert.deepEqual(files, ["/widget/optin_widget_full.js", "/widget/optin_widget_full.wasm"]);
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

test("the modal's wasm comes at the first touch of its form; a submit made before it arrives is sent once, when it has", async () => {
  const page = await browser.newPage();
  const files = widgetFiles(page);
  const posts = [];
  page.on("request", (r) => r.method() === "POST" && /\/consents$/.test(r.url()) && posts.push(r.url()));
  // A slow network for the wasm only: the visitor is quicker than it.
  let release;
  const held = new Promise((ok) => (release = ok));
  await page.route("**/widget/optin_widget.*.wasm", async (route) => {
    await held;
    await route.continue();
  });
  await page.goto(`${SHOP}/`);
  const dialog = page.getByRole("dialog", { name: "Get updates on WhatsApp" });
  await dialog.waitFor({ state: "visible", timeout: 15_000 });
  await dialog.getByRole("checkbox", { name: "Payment alerts" }).check();
  assert.deepEqual(files, ["/widget/optin_widget.wasm"], "the first touch asks for the modal-only build, nothing else");
  const phone = freshPhone();
  await dialog.getByLabel("WhatsApp number").fill(phone.e164);
  await dialog.getByRole("button", { name: "Subscribe on WhatsApp" }).click();
  await sleep(300);
  assert.deepEqual(posts, [], "nothing is sent before the wasm has checked it");
  release();
  await dialog.getByRole("status").filter({ hasText: "Thank you!" }).waitFor({ timeout: 15_000 });
  assert.equal(posts.length, 1, "sent once");
  const { body } = await subscriber(phone.e164);
  assert.equal(body.events.length, 1);
  assert.deepEqual(body.events[0].categories, ["payment_alerts"]);
  assert.deepEqual(files, ["/widget/optin_widget.wasm"]);
  await page.close();
});
