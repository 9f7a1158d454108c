// The chat widget: floating button, greeting, optional opt-in, then wa.me.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { BASE, launch, freshPhone, subscriber, eventually, sleep, axeViolations, SHOP } from "./support.mjs";

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const WA_ME = "https://wa.me/6281234500000?text=Hello!%20I%20have%20a%20question.";

async function chatPage() {
  const context = await browser.newContext();
  // wa.me is on the Internet; the hand-over tab gets a stand-in page.
  await context.route("https://wa.me/**", (route) =>
    route.fulfill({ contentType: "text/html", body: "<title>WhatsApp</title><p>WhatsApp stand-in</p>" }));
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  const posts = [];
  page.on("request", (r) => r.method() === "POST" && posts.push(r.url()));
  await page.goto(`${SHOP}/chat.html`);
  const fab = page.getByRole("button", { name: "Chat on WhatsApp" });
  await fab.waitFor({ timeout: 15_000 });
  return { context, page, fab, errors, posts };
}

test("the button opens a greeting with an optional, unticked opt-in and a wa.me link; Escape closes it", async () => {
  const { context, page, fab, errors } = await chatPage();
  assert.equal(await page.getByRole("dialog").count(), 0, "no modal pop-up on the chat page");
  assert.equal(await fab.getAttribute("aria-expanded"), "false");
  const fb = await fab.boundingBox();
  const vp = page.viewportSize();
  assert.ok(fb.x + fb.width > vp.width - 40 && fb.y + fb.height > vp.height - 40, "floats in the bottom-right corner");
  await fab.click();
  const panel = page.getByRole("dialog", { name: "Hi! Questions? Chat with us on WhatsApp." });
  await panel.waitFor();
  assert.equal(await fab.getAttribute("aria-expanded"), "true");
  const boxes = panel.getByRole("checkbox");
  assert.equal(await boxes.count(), 5);
  for (let i = 0; i < 5; i++) assert.equal(await boxes.nth(i).isChecked(), false);
  assert.match(await panel.getByText(/Toko Acme on WhatsApp/).textContent(), /I agree to receive/);
  assert.equal(await panel.getByRole("link", { name: "Continue to WhatsApp" }).getAttribute("href"), WA_ME);
  assert.deepEqual(await axeViolations(page), [], "axe-core on the open chat panel");
  await page.keyboard.press("Escape");
  await panel.waitFor({ state: "hidden" });
  assert.equal(await fab.evaluate((b) => b.getRootNode().activeElement === b), true, "focus back on the button");
  assert.deepEqual(errors, []);
  await context.close();
});

test("continuing without ticking anything hands over to WhatsApp and records nothing", async () => {
  const { context, page, fab, posts } = await chatPage();
  await fab.click();
  const [tab] = await Promise.all([
    context.waitForEvent("page"),
    page.getByRole("link", { name: "Continue to WhatsApp" }).click(),
  ]);
  await tab.waitForLoadState();
  assert.equal(tab.url(), WA_ME);
  await sleep(300);
  assert.deepEqual(posts, []);
  await context.close();
});

test("ticking a category records a chat consent on the way to WhatsApp; a bad number stops the hand-over", async () => {
  const { context, page, fab } = await chatPage();
  await fab.click();
  const panel = page.getByRole("dialog");
  await panel.getByRole("checkbox", { name: "Order confirmations" }).check();
  await panel.getByLabel("WhatsApp number").fill("12");
  let opened = 0;
  context.on("page", () => opened++);
  await panel.getByRole("link", { name: "Continue to WhatsApp" }).click();
  await panel.getByText("Enter a valid WhatsApp number, including the country code.").waitFor();
  await sleep(300);
  assert.equal(opened, 0, "no hand-over with an impossible number");

  const phone = freshPhone();
  await panel.getByLabel("WhatsApp number").fill(phone.national);
  const [tab] = await Promise.all([
    context.waitForEvent("page"),
    panel.getByRole("link", { name: "Continue to WhatsApp" }).click(),
  ]);
  await tab.waitForLoadState();
  assert.equal(tab.url(), WA_ME);
  assert.ok(await eventually(async () => (await subscriber(phone.e164)).status === 200), "consent recorded");
  const { body } = await subscriber(phone.e164);
  assert.equal(body.events.length, 1);
  assert.deepEqual(body.events[0].categories, ["order_updates"]);
  assert.equal(body.events[0].evidence.surface, "chat");
  await context.close();
});
