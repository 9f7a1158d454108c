// The loader: degrades to the merchant's plain link when a CSP blocks the wasm,
// the published TypeScript declaration matches the real global, and a copy of
// it run inline finds its tag or says why it cannot.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { BASE, launch, SHOP, shopPage } from "./support.mjs";

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test("a CSP without 'wasm-unsafe-eval': an error event, a plain accessible link, API calls reject", async () => {
  const page = await browser.newPage();
  await page.addInitScript(() => {
    window.__errors = [];
    document.addEventListener("whatsapp-optin:error", (e) => window.__errors.push(e.detail));
  });
  await page.goto(`${SHOP}/examples/no-wasm.html`);
  const link = page.getByRole("link", { name: "Chat with us on WhatsApp" });
  await link.waitFor({ timeout: 15_000 });
  assert.equal(await link.getAttribute("href"), "https://wa.me/15550100?text=Hi%20Toko%20Acme");
  const box = await link.boundingBox();
  assert.ok(box.width >= 48 && box.height >= 48, `fallback link is ${box.width}×${box.height}`);
  const errors = await page.evaluate(() => window.__errors);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].site, "demo");
  assert.equal(errors[0].surface, "loader");
  assert.match(errors[0].message, /CompileError|WebAssembly|wasm/i);
  assert.equal(await page.locator("whatsapp-optin").count(), 0);
  assert.equal(await page.evaluate(() => window.WhatsAppOptIn.consent().then(() => "resolved", () => "rejected")), "rejected");
  await page.close();
});

test("www/widget.d.ts declares exactly the members of window.WhatsAppOptIn", async () => {
  const dts = readFileSync(new URL("../../www/widget.d.ts", import.meta.url), "utf8");
  const body = dts.match(/interface WhatsAppOptInApi \{([\s\S]*?)\n  \}/)[1];
  const declared = [...body.matchAll(/^\s+(?:readonly )?(\w+)[(:]/gm)].map((m) => m[1]).sort();
  const page = await browser.newPage();
  await page.goto(`${SHOP}/`);
  await page.getByRole("dialog").waitFor({ timeout: 15_000 });
  const actual = await page.evaluate(() => Object.keys(window.WhatsAppOptIn).sort());
  assert.deepEqual(declared, actual);
  const events = [...dts.matchAll(/"whatsapp-optin:(\w+)"/g)].map((m) => m[1]).sort();
  assert.deepEqual(events, ["close", "consent", "error", "impression", "open", "submit"]);
  await page.close();
});

test("a copy of the loader run inline finds the tag it copies by its src; alone, it says it needs one", async () => {
  const text = await (await fetch(`${BASE}/widget.js`)).text();
  const html = (title, tags) => `<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>${title}</title>${tags}</head><body><p>Shop</p></body></html>`;
  const watch = (page) => {
    const problems = [];
    page.on("pageerror", (e) => problems.push(e.message));
    page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
    return problems;
  };
  // An optimiser's copy with no attributes, run while the async tag still downloads:
  // it used to stop at "needs data-site", and the tag then found the widget failed.
  const copied = await shopPage("/loader/inline-copy.html", html("Inline copy",
    `<script src="%WORKER%/widget.js" data-site="demo" async></script><script>${text}</script>`));
  let page = await browser.newPage();
  let problems = watch(page);
  await page.goto(copied);
  await page.getByRole("dialog").waitFor({ timeout: 15_000 });
  assert.equal(await page.locator("whatsapp-optin").count(), 1);
  assert.deepEqual(problems, []);
  await page.close();

  // Only an inline tag: no URL to load the wasm from (it used to throw at new URL).
  const alone = await shopPage("/loader/inline-only.html", html("Inline only",
    `<script data-site="demo">${text}</script>`));
  page = await browser.newPage();
  problems = watch(page);
  await page.goto(alone);
  assert.equal(await page.evaluate(() => window.WhatsAppOptIn.consent().then(() => "resolved", () => "rejected")), "rejected");
  assert.deepEqual(problems, ["WhatsAppOptIn: load widget.js with <script src>, not inline"]);
  assert.equal(await page.locator("whatsapp-optin").count(), 0);
  await page.close();
});
