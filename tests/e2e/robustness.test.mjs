// How merchants' pages really load the tag: injected by a tag manager after the
// page has loaded (sometimes twice), and single-page apps that mount the same
// placeholder twice (React's StrictMode runs effects twice) or re-render it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { BASE, launch, freshPhone, subscriber, sleep, SHOP } from "./support.mjs";

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** What a tag manager does: the README's tag, added to the merchant page by script. */
const inject = (page) =>
  page.evaluate((base) => {
    const tag = document.createElement("script");
    tag.src = `${base}/widget.js`;
    tag.dataset.site = "demo";
    document.head.append(tag);
  }, BASE);

test("the tag injected after the load event, then again, gives one modal that records once", async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  // A shop page without the tag (the order-placed page), on the merchant's origin.
  await page.goto(`${SHOP}/checkout-done.html`, { waitUntil: "load" });
  assert.equal(await page.evaluate(() => document.readyState), "complete");
  await inject(page);
  const dialog = page.getByRole("dialog", { name: "Get updates on WhatsApp" });
  await dialog.waitFor({ state: "visible", timeout: 15_000 });
  await inject(page);
  await sleep(500);
  assert.equal(await page.locator("whatsapp-optin").count(), 1, "one widget host");
  assert.equal(await page.getByRole("dialog").count(), 1, "one dialog");

  const phone = freshPhone();
  await dialog.getByRole("checkbox", { name: "Order confirmations" }).check();
  await dialog.getByLabel("WhatsApp number").fill(phone.national);
  await dialog.getByRole("button", { name: "Subscribe on WhatsApp" }).click();
  await dialog.getByRole("status").filter({ hasText: "Thank you!" }).waitFor({ timeout: 15_000 });
  const { body } = await subscriber(phone.e164);
  assert.equal(body.events.length, 1, "one consent recorded");
  assert.equal(body.events[0].evidence.page_url, page.url(), "the page it was given on");
  assert.deepEqual(errors, []);
  await page.close();
});

test("an SPA mounting one placeholder twice gets one opt-in; a re-rendered placeholder gets its own", async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${SHOP}/`);
  await page.getByRole("dialog").waitFor({ state: "visible", timeout: 15_000 });
  await page.keyboard.press("Escape");

  // StrictMode: the effect that mounts runs twice on the same element.
  await page.evaluate(() => {
    const el = document.createElement("section");
    el.id = "spa-optin";
    document.body.append(el);
    const opts = { surface: "checkout", categories: "delivery" };
    return Promise.all([window.WhatsAppOptIn.mount(el, opts), window.WhatsAppOptIn.mount(el, opts)]);
  });
  const first = page.locator("#spa-optin");
  await first.getByRole("checkbox").first().waitFor({ timeout: 15_000 });
  assert.equal(await first.locator("whatsapp-optin").count(), 1, "one opt-in in the placeholder");
  assert.equal(await first.getByRole("checkbox").count(), 1);

  // A route change re-renders the form: the old placeholder goes, a new one comes.
  await page.evaluate(() => {
    document.getElementById("spa-optin").remove();
    const el = document.createElement("section");
    el.id = "spa-optin-2";
    document.body.append(el);
    return window.WhatsAppOptIn.mount(el, { surface: "checkout", categories: "delivery" });
  });
  const second = page.locator("#spa-optin-2");
  await second.getByRole("checkbox").first().waitFor({ timeout: 15_000 });
  assert.equal(await second.locator("whatsapp-optin").count(), 1);
  // The modal's host and the new opt-in's: nothing left of the removed one.
  assert.equal(await page.locator("whatsapp-optin").count(), 2);

  const phone = freshPhone();
  await second.getByRole("checkbox", { name: "Shipping and delivery notifications" }).check();
  await second.getByLabel("WhatsApp number").fill(phone.national);
  const id = await page.evaluate(() => window.WhatsAppOptIn.consent());
  assert.match(id, /^[0-9a-f-]{36}$/);
  const { body } = await subscriber(phone.e164);
  assert.equal(body.events.length, 1, "consent() over every mounted opt-in records once");
  assert.equal(body.events[0].id, id);
  assert.deepEqual(errors, []);
  await page.close();
});
