// The phone input helps, in real Chromium: the site's calling code is
// preselected, digits are grouped as they are typed (the caret stays where the
// person is typing), and an impossible number gets an announced inline error
// when the field is left, with nothing sent.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { BASE, launch, freshPhone, subscriber, sleep, SHOP } from "./support.mjs";

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const INVALID = "Enter a valid WhatsApp number, including the country code.";

async function demoModal() {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  const posts = [];
  page.on("request", (r) => r.method() === "POST" && posts.push(r.url()));
  await page.goto(`${SHOP}/`);
  const dialog = page.getByRole("dialog", { name: "Get updates on WhatsApp" });
  await dialog.waitFor({ state: "visible", timeout: 15_000 });
  return { page, dialog, input: dialog.getByLabel("WhatsApp number"), errors, posts };
}

const caret = (input) => input.evaluate((el) => [el.selectionStart, el.selectionEnd]);

test("the calling code is preselected and the number is grouped as it is typed", async () => {
  const { page, dialog, input, errors } = await demoModal();
  assert.equal(await input.inputValue(), "+62 ", "the site's calling code (62) is there before typing");
  await input.click();
  await page.keyboard.press("End");
  await page.keyboard.type("81234567890");
  assert.equal(await input.inputValue(), "+62 812 3456 7890");
  assert.deepEqual(await caret(input), [17, 17], "the caret stays at the end");

  // Typing in the middle: the caret stays right after the typed digit.
  for (let i = 0; i < 5; i++) await page.keyboard.press("ArrowLeft"); // "+62 812 3456| 7890"
  await page.keyboard.type("5");
  assert.equal(await input.inputValue(), "+62 812 3456 57890", "regrouped around the new digit");
  assert.equal(await input.evaluate((el) => el.value.slice(0, el.selectionStart)), "+62 812 3456 5");

  // Backspace just after a space deletes the digit before it, not only the space.
  await page.keyboard.press("End");
  for (let i = 0; i < 5; i++) await page.keyboard.press("ArrowLeft"); // "+62 812 3456 |57890"
  await page.keyboard.press("Backspace");
  assert.equal(await input.inputValue(), "+62 812 3455 7890");
  assert.equal(await input.evaluate((el) => el.value.slice(0, el.selectionStart)), "+62 812 345");

  // A national number typed over the selection is grouped the national way.
  await input.selectText();
  await page.keyboard.type("081234567890");
  assert.equal(await input.inputValue(), "0812 3456 7890");

  // The grouped number is what gets recorded, normalised.
  const phone = freshPhone();
  await input.fill(phone.e164);
  assert.match(await input.inputValue(), /^\+62 812 \d{4} \d{4}$/);
  await dialog.getByRole("checkbox", { name: "Order confirmations" }).check();
  await dialog.getByRole("button", { name: "Subscribe on WhatsApp" }).click();
  await dialog.getByRole("status").filter({ hasText: "Thank you!" }).waitFor({ timeout: 15_000 });
  assert.equal((await subscriber(phone.e164)).status, 200);
  assert.equal(await input.inputValue(), "+62 ", "after the opt-in the field starts over with the calling code");
  assert.deepEqual(errors, []);
  await page.close();
});

test("an impossible number gets an announced inline error on leaving the field, and nothing is sent", async () => {
  const { page, dialog, input, posts } = await demoModal();
  await input.fill("+62 812");
  await page.keyboard.press("Tab"); // leave the field
  const error = dialog.getByText(INVALID);
  await error.waitFor();
  assert.equal(await input.getAttribute("aria-invalid"), "true");
  const describedBy = await input.getAttribute("aria-describedby");
  assert.equal(await error.getAttribute("id"), describedBy, "the error is the input's description");
  assert.equal(await error.getAttribute("role"), "alert", "and is announced when it appears");

  await dialog.getByRole("checkbox", { name: "Payment alerts" }).check();
  await dialog.getByRole("button", { name: "Subscribe on WhatsApp" }).click();
  await sleep(500);
  assert.deepEqual(posts, [], "no request for an impossible number");
  assert.equal(await error.isVisible(), true);

  await input.fill("0812 3456 7890");
  assert.equal(await input.getAttribute("aria-invalid"), "false", "typing clears the error");
  assert.equal(await dialog.getByText(INVALID).count(), 0);
  await page.keyboard.press("Tab");
  assert.equal(await dialog.getByText(INVALID).count(), 0, "a possible number gets no error");

  // Leaving the field with only the preselected calling code is not an error yet.
  await input.fill("+62 ");
  await page.keyboard.press("Tab");
  await sleep(100);
  assert.equal(await input.getAttribute("aria-invalid"), "false");
  await page.close();
});

test("the checkout opt-in's own phone input helps the same way; the merchant's field is left alone", async () => {
  const page = await browser.newPage();
  const posts = [];
  page.on("request", (r) => r.method() === "POST" && r.url().includes("/consents") && posts.push(r.url()));
  await page.goto(`${SHOP}/checkout.html`);
  const own = page.locator("form.checkout [data-wa-optin=checkout]");
  await own.getByRole("checkbox").first().waitFor({ timeout: 15_000 });
  const merchant = page.getByLabel("Phone", { exact: true });
  await merchant.fill("081234567890");
  assert.equal(await merchant.inputValue(), "081234567890", "the merchant's field is not reformatted");

  await page.evaluate(() => {
    const el = document.createElement("section");
    el.id = "spa-optin";
    document.querySelector("main").append(el);
    return window.WhatsAppOptIn.mount(el, { surface: "checkout", categories: "delivery" });
  });
  const spa = page.locator("#spa-optin");
  const input = spa.getByLabel("WhatsApp number");
  assert.equal(await input.inputValue(), "+62 ");
  await input.click();
  await page.keyboard.press("End");
  await page.keyboard.type("8123");
  assert.equal(await input.inputValue(), "+62 812 3");
  await page.keyboard.press("Tab");
  await spa.getByText(INVALID).waitFor();
  assert.equal(await input.getAttribute("aria-invalid"), "true");
  await spa.getByRole("checkbox", { name: "Shipping and delivery notifications" }).check();
  const id = await page.evaluate(() =>
    window.WhatsAppOptIn.consent({ element: document.getElementById("spa-optin") }).catch((e) => `refused: ${e}`));
  assert.equal(id, `refused: ${INVALID}`);
  await sleep(300);
  assert.deepEqual(posts, [], "nothing sent");
  await page.close();
});
