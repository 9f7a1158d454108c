// Click-to-opt-in: the dashboard makes a wa.me link with the prefilled opt-in
// keyword and its QR code; the downloaded PNG and SVG decode (jsQR) to exactly
// that link, and the message a scan prefills, sent to the business number, is
// recorded as an in-thread grant.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { BASE, SIM, ADMIN_TOKEN, launch, admin, freshPhone, subscriber, eventually } from "./support.mjs";

const JSQR = readFileSync(createRequire(import.meta.url).resolve("jsqr/dist/jsQR.js"), "utf8");

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** Decodes a QR image (PNG or SVG bytes) with jsQR in a blank page; `null` if none is found. */
async function decode(bytes, type) {
  const page = await browser.newPage();
  await page.evaluate(JSQR);
  const text = await page.evaluate(async ({ data, type }) => {
    const img = new Image();
    img.src = `data:${type};base64,${data}`;
    await img.decode();
    const w = Math.max(img.naturalWidth, 200);
    const c = document.createElement("canvas");
    c.width = w;
    c.height = Math.round((w * img.naturalHeight) / img.naturalWidth);
    const ctx = c.getContext("2d");
    ctx.drawImage(img, 0, 0, c.width, c.height);
    const { data: px, width, height } = ctx.getImageData(0, 0, c.width, c.height);
    return window.jsQR(px, width, height)?.data ?? null;
  }, { data: bytes.toString("base64"), type });
  await page.close();
  return text;
}

async function dashboard() {
  const context = await browser.newContext({ acceptDownloads: true });
  const page = await context.newPage();
  await page.goto(`${BASE}/admin/`);
  await page.getByLabel("Admin token").fill(ADMIN_TOKEN);
  await page.getByRole("button", { name: "Open dashboard" }).click();
  await page.getByText(/^Showing /).waitFor();
  return { page, context };
}

async function downloaded(page, button) {
  const [d] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: button }).click()]);
  return { name: d.suggestedFilename(), bytes: readFileSync(await d.path()) };
}

test("the QR code (PNG and SVG download) decodes to the wa.me link with the site's number and keyword", async () => {
  const { page, context } = await dashboard();
  const number = page.getByLabel("Business WhatsApp number, with country code");
  assert.equal(await number.inputValue(), "6281234500000", "prefilled from the site's business number");
  assert.equal(await page.getByLabel("Opt-in keyword").inputValue(), "JOIN TOKO ACME", "prefilled from the site's opt-in keyword");
  await page.getByRole("button", { name: "Make link and QR" }).click();
  const expected = "https://wa.me/6281234500000?text=JOIN%20TOKO%20ACME";
  const site = await (await admin("demo")).json();
  assert.equal(site.click_to_optin.wa_me_url, expected, "the same link the admin API gives");
  assert.equal(await page.locator("#qr-link").textContent(), expected);
  assert.equal(await page.locator("#qr-link").getAttribute("href"), expected);
  assert.equal(await page.getByRole("img", { name: `QR code for ${expected}` }).count(), 1);

  const png = await downloaded(page, "Download PNG");
  assert.equal(png.name, "optin-qr.png");
  assert.deepEqual([...png.bytes.subarray(1, 4)], [0x50, 0x4e, 0x47], "a PNG file");
  assert.equal(await decode(png.bytes, "image/png"), expected);

  const svg = await downloaded(page, "Download SVG");
  assert.equal(svg.name, "optin-qr.svg");
  assert.match(svg.bytes.toString("utf8"), /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.equal(await decode(svg.bytes, "image/svg+xml"), expected);
  await context.close();
});

test("a keyword with spaces, accents and symbols is URL-encoded and survives the round trip", async () => {
  const { page, context } = await dashboard();
  await page.getByLabel("Business WhatsApp number, with country code").fill("+55 11 98765-4321");
  await page.getByLabel("Opt-in keyword").fill("QUERO receber & promoções");
  await page.getByRole("button", { name: "Make link and QR" }).click();
  const expected = "https://wa.me/5511987654321?text=QUERO%20receber%20%26%20promo%C3%A7%C3%B5es";
  assert.equal(await page.locator("#qr-link").textContent(), expected);
  const png = await downloaded(page, "Download PNG");
  const text = await decode(png.bytes, "image/png");
  assert.equal(text, expected);
  assert.equal(new URL(text).searchParams.get("text"), "QUERO receber & promoções");
  await context.close();
});

test("scanning the QR and sending its message records an in-thread grant for that person", async () => {
  const { page, context } = await dashboard();
  await page.getByRole("button", { name: "Make link and QR" }).click();
  const png = await downloaded(page, "Download PNG");
  await context.close();
  const link = new URL(await decode(png.bytes, "image/png"));
  const phone = freshPhone().e164;
  // What the person's WhatsApp sends after the scan: the prefilled text, to the business number.
  const sent = await fetch(`${SIM}/_sim/inbound`, {
    method: "POST",
    body: JSON.stringify({ from: phone, text: link.searchParams.get("text"), phone_number_id: "100000000000001" }),
  });
  assert.equal(sent.status, 200, await sent.clone().text());
  assert.equal((await sent.json()).delivery.http_status, 200, "the Worker took the signed webhook");
  const view = await eventually(async () => {
    const res = await subscriber(phone);
    return res.status === 200 && res.body;
  });
  assert.ok(view, "the person is a subscriber");
  const grant = view.events.find((e) => e.kind === "grant");
  assert.equal(grant?.evidence?.source, "in_thread_keyword", JSON.stringify(view.events));
  assert.equal(grant.evidence.said, link.searchParams.get("text"), "the evidence keeps what the person sent");
});
