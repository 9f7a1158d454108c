// When the modal opens by itself, in real Chromium: the site config's URL
// patterns, delay, scroll depth, exit intent, Nth page view, single-page-app
// route changes, frequency caps (after a close, after a consent, per session)
// and what happens when the page blocks storage. Each test uses a fresh site
// (admin API) and serves merchant pages at any path of the Worker's origin.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { BASE, launch, admin, freshPhone, eventually, sleep, siteConfig, newSite as sharedNewSite, SHOP, shopPage, widgetTag } from "./support.mjs";

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });


const newSite = (targeting) => sharedNewSite("tgt", { targeting });

/**
 * A browser context for a merchant whose `${SHOP}/shop/…` pages (written onto the
 * shop's server) carry the widget for `site`; paths under `/shop/tall` are tall.
 */
async function shopContext(site, options = {}) {
  const page = (extra) => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>
${widgetTag(site)}</head>
<body><main><h1>Shop</h1>${extra}</main></body></html>`;
  await shopPage("/shop/*", page(""));
  await shopPage("/shop/tall*", page('<div style="height:4000px"></div><p>Footer</p>'));
  return browser.newContext(options);
}

/** Opens a page that records page errors. */
async function newPage(context) {
  const page = await context.newPage();
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(e.message));
  return page;
}

const dialog = (page) => page.getByRole("dialog", { name: "Get updates on WhatsApp" });

/** Loads `path` and waits until the widget has mounted (and decided); whether the modal shows. */
async function visit(page, path) {
  await page.goto(`${SHOP}${path}`);
  await page.locator("whatsapp-optin").waitFor({ state: "attached", timeout: 15_000 });
  await sleep(300);
  return dialog(page).isVisible();
}

test("include and exclude patterns decide the pages; open() opens anywhere; bad patterns are refused", async () => {
  const site = await newSite({ include: ["/shop/products/*"], exclude: ["/shop/products/secret*"], per_session: 0 });
  const context = await shopContext(site);
  const page = await newPage(context);
  assert.equal(await visit(page, "/shop/about"), false, "not included");
  assert.equal(await visit(page, "/shop/products/coffee"), true, "included");
  assert.equal(await visit(page, "/shop/products/secret-sale"), false, "excluded wins");
  await page.evaluate(() => window.WhatsAppOptIn.open());
  await dialog(page).waitFor({ state: "visible" });
  assert.deepEqual(page.errors, []);
  await context.close();

  const id = `tgt-${randomBytes(4).toString("hex")}`;
  const res = await admin(id, { method: "PUT", body: JSON.stringify(siteConfig(id, { targeting: { include: ["products/*"] } })) });
  assert.equal(res.status, 422);
  assert.equal((await res.json()).field, "targeting.include");
  const res2 = await admin(id, { method: "PUT", body: JSON.stringify(siteConfig(id, { targeting: { scroll_percent: 120 } })) });
  assert.equal((await res2.json()).field, "targeting.scroll_percent");
});

test("delay: the modal waits the configured seconds after load", async () => {
  const site = await newSite({ delay_seconds: 2 });
  const context = await shopContext(site);
  const page = await newPage(context);
  await page.addInitScript(() => {
    window.__t = { impressions: 0 };
    // Mounted: the modal's <whatsapp-optin> host is added to the page.
    new MutationObserver(() => {
      window.__t.mounted ??= document.querySelector("whatsapp-optin") ? performance.now() : undefined;
    }).observe(document, { childList: true, subtree: true });
    document.addEventListener("whatsapp-optin:open", () => { window.__t.open = performance.now(); });
    document.addEventListener("whatsapp-optin:impression", () => { window.__t.impressions++; });
  });
  assert.equal(await visit(page, "/shop/home"), false, "not at once");
  assert.equal(await page.evaluate(() => window.__t.impressions), 0, "no impression while it waits");
  await dialog(page).waitFor({ state: "visible", timeout: 15_000 });
  const t = await page.evaluate(() => window.__t);
  assert.equal(t.impressions, 1, "the impression comes with the showing");
  // Not before the delay (the page's own clock); how long after it is the machine's business.
  const waited = t.open - t.mounted;
  assert.ok(waited >= 1_900, `opened only ${waited} ms after the widget mounted`);
  await context.close();
});

test("scroll depth: the modal opens once the visitor has scrolled half the page", async () => {
  const site = await newSite({ scroll_percent: 50 });
  const context = await shopContext(site, { viewport: { width: 1280, height: 800 } });
  const page = await newPage(context);
  assert.equal(await visit(page, "/shop/tall-page"), false);
  await page.mouse.move(600, 400);
  await page.mouse.wheel(0, 800); // about a quarter of what can be scrolled
  assert.ok(await eventually(() => page.evaluate(() => window.scrollY >= 700), 3_000));
  await sleep(300);
  assert.equal(await dialog(page).isVisible(), false, "a quarter is not half");
  await page.mouse.wheel(0, 1_400);
  await dialog(page).waitFor({ state: "visible", timeout: 5_000 });
  const depth = await page.evaluate(() => window.scrollY / (document.documentElement.scrollHeight - innerHeight));
  assert.ok(depth >= 0.5, `opened at ${Math.round(depth * 100)} %`);
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("exit intent: on desktop the mouse leaving through the top opens it; the side does not; touch devices skip it", async () => {
  const site = await newSite({ exit_intent: true, per_session: 0 });
  const context = await shopContext(site, { viewport: { width: 1280, height: 800 } });
  const page = await newPage(context);
  assert.equal(await visit(page, "/shop/cart"), false, "waits for the exit");
  await page.mouse.move(640, 400);
  await page.mouse.move(5, 400);
  await page.mouse.move(-5, 400);
  await sleep(300);
  assert.equal(await dialog(page).isVisible(), false, "leaving through the side is no exit intent");
  await page.mouse.move(640, 300);
  await page.mouse.move(640, 40);
  await page.mouse.move(640, -5);
  await dialog(page).waitFor({ state: "visible", timeout: 3_000 });
  await context.close();

  const phone = await shopContext(site, { isMobile: true, hasTouch: true, viewport: { width: 390, height: 800 } });
  const mobile = await newPage(phone);
  assert.equal(await visit(mobile, "/shop/cart"), true, "no mouse, no exit intent: the other conditions decide");
  await phone.close();
});

test("Nth page view: it opens from the third page view on", async () => {
  const site = await newSite({ from_page_view: 3 });
  const context = await shopContext(site);
  const page = await newPage(context);
  assert.equal(await visit(page, "/shop/one"), false);
  assert.equal(await visit(page, "/shop/two"), false);
  assert.equal(await visit(page, "/shop/three"), true);
  await context.close();
});

test("single-page app: pushState and back are evaluated again, and a closed modal does not come back on later routes", async () => {
  const site = await newSite({ include: ["/shop/app/deals*"], per_session: 0 });
  const context = await shopContext(site);
  const page = await newPage(context);
  const opens = [];
  await page.exposeFunction("__opened", () => opens.push(Date.now()));
  await page.addInitScript(() => document.addEventListener("whatsapp-optin:open", () => window.__opened()));
  assert.equal(await visit(page, "/shop/app/home"), false);
  const go = async (path) => { await page.evaluate((p) => history.pushState({}, "", p), path); await sleep(300); };
  await go("/shop/app/deals");
  await dialog(page).waitFor({ state: "visible", timeout: 3_000 });
  await dialog(page).getByRole("button", { name: "Close" }).click();
  await dialog(page).waitFor({ state: "hidden" });
  await go("/shop/app/deals-2");
  await go("/shop/app/home");
  await page.goBack(); // popstate back to /shop/app/deals-2
  await sleep(300);
  assert.equal(page.url(), `${SHOP}/shop/app/deals-2`);
  assert.equal(await dialog(page).isVisible(), false, "not again after the close");
  assert.equal(opens.length, 1, "opened once over five routes");
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("frequency cap after a close: a reload does not show it; after days_after_close it shows again", async () => {
  const site = await newSite({ days_after_close: 7, per_session: 0 });
  const context = await shopContext(site);
  const page = await newPage(context);
  await page.clock.install();
  assert.equal(await visit(page, "/shop/home"), true);
  await page.keyboard.press("Escape");
  await dialog(page).waitFor({ state: "hidden" });
  assert.equal(await visit(page, "/shop/home"), false, "closed: not on reload");
  assert.equal(await visit(page, "/shop/other"), false, "nor on another page");
  await page.clock.setSystemTime(Date.now() + 6 * 86_400_000);
  assert.equal(await visit(page, "/shop/home"), false, "six days later: still capped");
  await page.clock.setSystemTime(Date.now() + 8 * 86_400_000);
  assert.equal(await visit(page, "/shop/home"), true, "eight days later: shown again");
  await context.close();
});

test("frequency cap after a consent: once opted in, a reload does not show it", async () => {
  const site = await newSite({ per_session: 0 });
  const context = await shopContext(site);
  const page = await newPage(context);
  assert.equal(await visit(page, "/shop/home"), true);
  const d = dialog(page);
  await d.getByRole("checkbox", { name: "Order confirmations" }).check();
  await d.getByLabel("WhatsApp number").fill(freshPhone().national);
  await d.getByRole("button", { name: "Subscribe on WhatsApp" }).click();
  await d.getByRole("status").filter({ hasText: "Thank you!" }).waitFor({ timeout: 15_000 });
  assert.equal(await visit(page, "/shop/home"), false);
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("per-session cap: twice per session, again in a new session", async () => {
  const site = await newSite({ per_session: 2, days_after_close: 0 });
  const context = await shopContext(site);
  const page = await newPage(context);
  assert.equal(await visit(page, "/shop/a"), true);
  assert.equal(await visit(page, "/shop/b"), true);
  assert.equal(await visit(page, "/shop/c"), false, "the third page of the session");
  const tab = await newPage(context); // a new tab is a new session
  assert.equal(await visit(tab, "/shop/d"), true);
  await context.close();
});

for (const [label, block] of [
  ["localStorage and sessionStorage throw on access", () => {
    for (const name of ["localStorage", "sessionStorage"]) {
      Object.defineProperty(window, name, { get() { throw new DOMException("The operation is insecure.", "SecurityError"); } });
    }
  }],
  ["storage writes throw (quota)", () => {
    Storage.prototype.setItem = () => { throw new DOMException("quota", "QuotaExceededError"); };
  }],
]) {
  test(`storage blocked (${label}): no errors, caps hold within the page, opt-in works`, async () => {
    const site = await newSite({ per_session: 0 });
    const context = await shopContext(site);
    const page = await newPage(context);
    await page.addInitScript(block);
    assert.equal(await visit(page, "/shop/home"), true);
    await page.keyboard.press("Escape");
    await dialog(page).waitFor({ state: "hidden" });
    await page.evaluate(() => history.pushState({}, "", "/shop/next"));
    await sleep(300);
    assert.equal(await dialog(page).isVisible(), false, "the close is remembered for this page");
    await page.evaluate(() => window.WhatsAppOptIn.open());
    const d = dialog(page);
    await d.getByRole("checkbox", { name: "Delivery", exact: false }).check();
    await d.getByLabel("WhatsApp number").fill(freshPhone().national);
    await d.getByRole("button", { name: "Subscribe on WhatsApp" }).click();
    await d.getByRole("status").filter({ hasText: "Thank you!" }).waitFor({ timeout: 15_000 });
    assert.deepEqual(page.errors, []);
    await context.close();
  });
}
