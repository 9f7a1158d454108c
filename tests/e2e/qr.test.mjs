// Click-to-opt-in: the dashboard makes a wa.me link with the prefilled opt-in
// keyword and its QR code; the downloaded PNG and SVG decode (jsQR) to exactly
// that link.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { BASE, ADMIN_TOKEN, launch } from "./support.mjs";

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
  assert.equal(await number.inputValue(), "6281234500000", "prefilled from the site's chat number");
  assert.equal(await page.getByLabel("Opt-in keyword").inputValue(), "START");
  await page.getByRole("button", { name: "Make link and QR" }).click();
  const expected = "https://wa.me/6281234500000?text=START";
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
