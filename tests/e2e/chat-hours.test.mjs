// The chat's opening hours, in real Chromium: outside them the panel says the
// business replies later, in the visitor's language, and still records an
// opt-in and hands over to wa.me; inside them it does not say so.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { BASE, launch, admin, freshPhone, eventually, axeViolations, newSite, siteConfig, SHOP, shopPage, widgetTag } from "./support.mjs";

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const LATER = "We're away right now. Leave us a message on WhatsApp and we'll reply when we're back.";
const NUMBER = "6281234500000";

const hhmm = (minutes) => {
  const m = ((minutes % 1440) + 1440) % 1440;
  return `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
};
/** Opening hours (UTC+7) that start `fromNow` minutes from now and last `length` minutes, every day. */
function hoursAround(fromNow, length) {
  const now = new Date();
  const local = now.getUTCHours() * 60 + now.getUTCMinutes() + 420;
  return { utc_offset_minutes: 420, from: hhmm(local + fromNow), to: hhmm(local + fromNow + length) };
}

const chatSite = (hours) => newSite("hrs", { chat: { number: NUMBER, hours } });

async function chatPage(site, lang = "en") {
  const context = await browser.newContext();
  await context.route("https://wa.me/**", (route) =>
    route.fulfill({ contentType: "text/html", body: "<title>WhatsApp</title><p>WhatsApp stand-in</p>" }));
  const url = await shopPage(`/help/${site}-${lang}.html`,
    `<!doctype html><html lang="${lang}"><head><meta charset="utf-8"><title>Help</title>
${widgetTag(site, 'data-chat data-auto-open="false"')}</head>
<body><h1>Help</h1></body></html>`);
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(url);
  return { context, page, errors };
}

test("outside opening hours the chat says it replies later, and still records the opt-in and hands over", async () => {
  const site = await chatSite(hoursAround(120, 60));
  const { context, page, errors } = await chatPage(site);
  await page.getByRole("button", { name: "Chat on WhatsApp" }).click({ timeout: 15_000 });
  const panel = page.getByRole("dialog", { name: "Hi! Questions? Chat with us on WhatsApp." });
  await panel.getByText(LATER).waitFor();
  assert.deepEqual(await axeViolations(page), [], "axe-core on the panel in its later state");

  await panel.getByRole("checkbox", { name: "Order confirmations" }).check();
  const phone = freshPhone();
  await panel.getByLabel("WhatsApp number").fill(phone.national);
  const [tab] = await Promise.all([
    context.waitForEvent("page"),
    panel.getByRole("link", { name: "Continue to WhatsApp" }).click(),
  ]);
  await tab.waitForLoadState();
  assert.match(tab.url(), new RegExp(`^https://wa\\.me/${NUMBER}\\?text=`));
  const recorded = await eventually(async () => {
    const res = await admin(`${site}/subscribers/${encodeURIComponent(phone.e164)}`);
    return res.status === 200 && res.json();
  });
  assert.ok(recorded, "the opt-in was recorded outside hours too");
  assert.equal(recorded.events[0].evidence.surface, "chat");
  assert.deepEqual(errors, []);
  await context.close();
});

test("the later state speaks the visitor's language", async () => {
  const site = await chatSite(hoursAround(-180, 60));
  const { context, page } = await chatPage(site, "id");
  await page.getByRole("button", { name: "Chat di WhatsApp" }).click({ timeout: 15_000 });
  await page.getByText("Kami sedang tidak online.", { exact: false }).waitFor();
  await context.close();
});

test("inside opening hours there is no later state", async () => {
  const site = await chatSite(hoursAround(-30, 120));
  const { context, page } = await chatPage(site);
  await page.getByRole("button", { name: "Chat on WhatsApp" }).click({ timeout: 15_000 });
  const panel = page.getByRole("dialog");
  await panel.getByRole("link", { name: "Continue to WhatsApp" }).waitFor();
  assert.equal(await panel.getByText(LATER).isVisible(), false);
  await context.close();
});

test("opening hours are validated by the admin API", async () => {
  const id = `hrs-${randomBytes(4).toString("hex")}`;
  for (const [hours, field] of [
    [{ utc_offset_minutes: 420, from: "09:00", to: "09:00" }, "chat.hours.to"],
    [{ utc_offset_minutes: 2000, from: "09:00", to: "17:00" }, "chat.hours.utc_offset_minutes"],
  ]) {
    const res = await admin(id, {
      method: "PUT",
      body: JSON.stringify(siteConfig(id, { chat: { number: NUMBER, hours } })),
    });
    assert.equal(res.status, 422);
    assert.equal((await res.json()).field, field);
  }
});
