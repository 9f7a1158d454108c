// The widget on the merchant's own origin, on the kinds of pages merchants have:
// plain, a strict CSP naming only the Worker (host list, and nonce +
// 'strict-dynamic'), cross-origin isolated (COEP require-corp / credentialless
// with COOP), inside an iframe on another host name, and with a <base href>
// pointing elsewhere. Each page is written onto the shop's own server; the
// widget comes from the Worker's origin, as the README's tag has it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  BASE, SHOP, SHOP_LOCALHOST, launch, freshPhone, subscriber, eventually, shopPage, widgetTag, admin, newSite,
} from "./support.mjs";

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const STRICT = "default-src 'none'; script-src %WORKER% 'wasm-unsafe-eval'; connect-src %WORKER%";
const NONCED = "default-src 'none'; script-src 'nonce-%NONCE%' 'strict-dynamic' 'wasm-unsafe-eval'; connect-src %WORKER%";
const NONCE_ONLY = "default-src 'none'; script-src 'nonce-%NONCE%' 'wasm-unsafe-eval'; connect-src %WORKER%";
const ISOLATED = (coep) => ({ "Cross-Origin-Embedder-Policy": coep, "Cross-Origin-Opener-Policy": "same-origin" });

const modalPage = (tag = widgetTag(), head = "") =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>${head}${tag}</head>
<body><h1>Shop</h1></body></html>`;

const checkoutPage = (tag = widgetTag("demo", 'data-auto-open="false"'), head = "") =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Checkout</title>${head}${tag}</head>
<body><form class="checkout" action="/checkout-done.html" method="get">
<p><label for="phone">Phone</label><input id="phone" name="phone" type="tel"></p>
<div data-wa-optin="checkout" data-phone-field="#phone" data-categories="order_updates,delivery"></div>
<p><button type="submit">Place order</button></p></form></body></html>`;

/** Opens `url`, recording page errors, CSP violations, failed requests and the Worker's error answers. */
async function open(url, context) {
  const page = await (context ?? browser).newPage();
  const trouble = [];
  page.on("pageerror", (e) => trouble.push(`page error: ${e.message}`));
  // "Failed to load resource" lines name no URL: the two listeners below do.
  page.on("console", (m) => m.type() === "error" && !m.text().startsWith("Failed to load resource") &&
    trouble.push(`console: ${m.text()}`));
  page.on("requestfailed", (r) => trouble.push(`failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on("response", (r) => r.status() >= 400 && !r.url().endsWith("/favicon.ico") &&
    trouble.push(`${r.status()}: ${r.url()}`));
  await page.goto(url);
  return { page, trouble };
}

/** Opts in through the modal in `frame` (a page or a frame); answers the phone. */
async function optInModal(frame) {
  const dialog = frame.getByRole("dialog", { name: "Get updates on WhatsApp" });
  await dialog.waitFor({ state: "visible", timeout: 15_000 });
  const phone = freshPhone();
  await dialog.getByRole("checkbox", { name: "Order confirmations" }).check();
  await dialog.getByLabel("WhatsApp number").fill(phone.national);
  await dialog.getByRole("button", { name: "Subscribe on WhatsApp" }).click();
  await dialog.getByRole("status").filter({ hasText: "Thank you!" }).waitFor({ timeout: 15_000 });
  return phone;
}

/** Ticks the checkout opt-in, places the order; answers the phone. */
async function optInCheckout(page) {
  const box = page.locator("[data-wa-optin=checkout]").getByRole("checkbox", { name: "Order confirmations" });
  await box.check({ timeout: 15_000 });
  const phone = freshPhone();
  await page.getByLabel("Phone", { exact: true }).fill(phone.national);
  await Promise.all([page.waitForURL(/checkout-done/), page.getByRole("button", { name: "Place order" }).click()]);
  return phone;
}

/** The consent reached the ledger once, from `pageUrl`, on `surface`. */
async function assertRecorded(phone, pageUrl, surface) {
  const found = await eventually(async () => (await subscriber(phone.e164)).status === 200);
  assert.ok(found, `consent from ${pageUrl} recorded`);
  const { body } = await subscriber(phone.e164);
  assert.equal(body.events.length, 1, "recorded once");
  assert.equal(body.events[0].evidence.page_url, pageUrl);
  assert.equal(body.events[0].evidence.surface, surface);
}

test("every widget asset answers CORS and CORP, so any merchant page may load it", async () => {
  const loader = await fetch(`${BASE}/widget.js`, { headers: { origin: SHOP } });
  const js = await loader.text();
  const assets = [...new Set(js.match(/widget\/optin_widget[\w.]*\.(?:wasm|js)/g))];
  assert.equal(assets.length, 3, `the modal wasm, the full build's js and wasm: ${assets}`);
  for (const path of ["widget.js", ...assets]) {
    const res = await fetch(`${BASE}/${path}`, { headers: { origin: SHOP } });
    assert.equal(res.status, 200, path);
    assert.equal(res.headers.get("access-control-allow-origin"), "*", `${path}: CORS`);
    assert.equal(res.headers.get("cross-origin-resource-policy"), "cross-origin", `${path}: CORP`);
    if (path.endsWith(".wasm")) assert.equal(res.headers.get("content-type"), "application/wasm");
    await res.arrayBuffer();
  }
  const config = await fetch(`${BASE}/v1/sites/demo/config`, { headers: { origin: SHOP } });
  assert.equal(config.headers.get("access-control-allow-origin"), "*");
  const unknown = await fetch(`${BASE}/v1/sites/no-such-site/config`, { headers: { origin: SHOP } });
  assert.equal(unknown.status, 404);
  assert.equal(unknown.headers.get("access-control-allow-origin"), "*", "the loader can read why");
});

test("a page enforcing Trusted Types (require-trusted-types-for 'script'): the modal opens and the consent is recorded", async () => {
  // The modal's markup is built element by element (no HTML string) and its form's
  // glue is inside the loader (no script URL set): nothing the policy guards.
  const csp = `${STRICT}; require-trusted-types-for 'script'`;
  const url = await shopPage("/co/trusted-types.html", modalPage(), { "Content-Security-Policy": csp });
  const { page, trouble } = await open(url);
  const phone = await optInModal(page);
  await assertRecorded(phone, url, "modal");
  assert.deepEqual(trouble, []);
  await page.close();
});

test("the per-site script carries the config: no config request before the prompt, and the consent is recorded", async () => {
  const tag = `<script src="%WORKER%/v1/sites/demo/widget.js" async></script>`;
  const url = await shopPage("/co/per-site.html", modalPage(tag), { "Content-Security-Policy": STRICT });
  const context = await browser.newContext({ locale: "en-US" });
  const requested = [];
  context.on("request", (r) => requested.push(new URL(r.url()).pathname));
  const { page, trouble } = await open(url, context);
  const phone = await optInModal(page);
  assert.deepEqual(requested.filter((p) => p.endsWith("/config")), [], "the config came with the script");
  assert.ok(requested.some((p) => /^\/widget\/optin_widget\.[0-9a-f]+\.wasm$/.test(p)), `the form's wasm, from the Worker's root: ${requested}`);
  await assertRecorded(phone, url, "modal");
  assert.deepEqual(trouble, []);
  await context.close();
});

test("the per-site script on a page whose lang picks another language: the loader asks for that one", async () => {
  const tag = `<script src="%WORKER%/v1/sites/demo/widget.js" async></script>`;
  const html = modalPage(tag).replace('<html lang="en">', '<html lang="id">');
  const url = await shopPage("/co/per-site-id.html", html);
  const context = await browser.newContext({ locale: "en-US" });
  const configs = [];
  context.on("request", (r) => r.url().includes("/config") && configs.push(new URL(r.url()).searchParams.get("locale")));
  const { page, trouble } = await open(url, context);
  const dialog = page.getByRole("dialog", { name: "Dapatkan info lewat WhatsApp" });
  await dialog.waitFor({ state: "visible", timeout: 15_000 });
  assert.deepEqual(configs, ["id"]);
  assert.deepEqual(trouble, []);
  await context.close();
});

test("the per-site script: the browser's first language we have, CORS and CORP, a minute's cache varying by it; an unknown site still says so", async () => {
  const get = (site, lang) => fetch(`${BASE}/v1/sites/${site}/widget.js`, { headers: { origin: SHOP, "accept-language": lang } });
  const loader = await (await fetch(`${BASE}/widget.js`)).text();
  const res = await get("demo", "fr-FR,fr;q=0.9,tr;q=0.8,en;q=0.7");
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/javascript; charset=utf-8");
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
  assert.equal(res.headers.get("cross-origin-resource-policy"), "cross-origin");
  assert.equal(res.headers.get("cache-control"), "public, max-age=60");
  assert.match(res.headers.get("vary"), /Accept-Language/i);
  const body = await res.text();
  const head = '(document.currentScript||{}).whatsappOptInConfig={"asked":"tr","config":';
  assert.ok(body.startsWith(head), body.slice(0, 120));
  assert.ok(body.endsWith("\n" + loader), "then the loader, unchanged");
  const config = JSON.parse(body.slice(head.length, body.indexOf("};\n")));
  assert.equal(config.locale, "tr");
  assert.deepEqual(config, await (await fetch(`${BASE}/v1/sites/demo/config?locale=tr`)).json(), "the config GET's answer");
  const none = await (await get("demo", "fr-FR,fr;q=0.9")).text();
  assert.ok(none.startsWith('(document.currentScript||{}).whatsappOptInConfig={"asked":"","config":'), none.slice(0, 80));
  const unknown = await get("no-such-site", "en");
  assert.equal(unknown.status, 200);
  assert.equal(await unknown.text(), loader, "the loader alone: its config GET reports the unknown site");
  assert.equal((await fetch(`${BASE}/v1/sites/demo/widget.js`, { method: "POST" })).status, 405);
});

test("a plain page on another host name: the modal opens and the consent is recorded", async () => {
  const url = (await shopPage("/co/plain.html", modalPage())).replace(SHOP, SHOP_LOCALHOST);
  const { page, trouble } = await open(url);
  const phone = await optInModal(page);
  await assertRecorded(phone, url, "modal");
  assert.deepEqual(trouble, []);
  await page.close();
});

for (const [name, csp, tag] of [
  ["a host-list CSP naming only the Worker", STRICT, widgetTag()],
  ["a nonce + 'strict-dynamic' CSP", NONCED, widgetTag("demo", 'nonce="%NONCE%"')],
  ["a nonce-only CSP (the loader's script carries the tag's nonce)", NONCE_ONLY, widgetTag("demo", 'nonce="%NONCE%"')],
]) {
  test(`${name}: the modal and the checkout opt-in both load and record`, async () => {
    const slug = name.startsWith("a nonce-only") ? "nonce-only" : name.startsWith("a nonce") ? "nonce" : "hosts";
    const modal = await shopPage(`/co/csp-${slug}.html`, modalPage(tag), { "Content-Security-Policy": csp });
    const m = await open(modal);
    await assertRecorded(await optInModal(m.page), modal, "modal");
    assert.deepEqual(m.trouble, []);
    await m.page.close();

    const checkoutTag = tag.replace("async", 'async data-auto-open="false"');
    const checkout = await shopPage(`/co/csp-${slug}-checkout.html`, checkoutPage(checkoutTag),
      { "Content-Security-Policy": csp });
    const c = await open(checkout);
    await assertRecorded(await optInCheckout(c.page), checkout, "checkout");
    // The order's navigation leaves the keepalive consent to finish on its own (recorded above).
    assert.deepEqual(c.trouble.filter((t) => !/consents net::ERR_ABORTED/.test(t)), []);
    await c.page.close();
  });
}

for (const coep of ["require-corp", "credentialless"]) {
  test(`a cross-origin-isolated page (COEP ${coep}, COOP same-origin): modal and checkout work`, async () => {
    const modal = await shopPage(`/co/coep-${coep}.html`, modalPage(), ISOLATED(coep));
    const m = await open(modal);
    assert.equal(await m.page.evaluate(() => crossOriginIsolated), true, "the page is isolated");
    await assertRecorded(await optInModal(m.page), modal, "modal");
    assert.deepEqual(m.trouble, []);
    await m.page.close();

    const checkout = await shopPage(`/co/coep-${coep}-checkout.html`, checkoutPage(), ISOLATED(coep));
    const c = await open(checkout);
    await assertRecorded(await optInCheckout(c.page), checkout, "checkout");
    await c.page.close();
  });
}

test("inside an iframe of a page on another origin: the modal opens in the frame and records", async () => {
  const inner = await shopPage("/co/framed.html", modalPage());
  const outer = (await shopPage("/co/frame-host.html",
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Host</title></head>
<body><h1>Host</h1><iframe title="Shop" src="${inner}" style="width:100%;height:700px;border:0"></iframe></body></html>`))
    .replace(SHOP, SHOP_LOCALHOST);
  const { page, trouble } = await open(outer);
  const frame = page.frameLocator("iframe[title=Shop]");
  const phone = await optInModal(frame);
  await assertRecorded(phone, inner, "modal");
  assert.deepEqual(trouble, []);
  await page.close();
});

test("a <base href> pointing elsewhere changes nothing the widget loads", async () => {
  // The loader resolves its files against its own script URL, not the document's base.
  const base = '<base href="https://cdn.shop.invalid/assets/">';
  const modal = await shopPage("/co/base.html", modalPage(widgetTag(), base));
  const m = await open(modal);
  await assertRecorded(await optInModal(m.page), modal, "modal");
  assert.deepEqual(m.trouble, []);
  await m.page.close();

  // The full build's script too; the form posts to the base, so the order is not placed here.
  const checkout = await shopPage("/co/base-checkout.html", checkoutPage(undefined, base));
  const c = await open(checkout);
  const box = c.page.locator("[data-wa-optin=checkout]").getByRole("checkbox", { name: "Order confirmations" });
  await box.check({ timeout: 15_000 });
  const phone = freshPhone();
  await c.page.getByLabel("Phone", { exact: true }).fill(phone.national);
  const id = await c.page.evaluate(() => window.WhatsAppOptIn.consent());
  assert.match(id, /^[0-9a-f-]{36}$/);
  await assertRecorded(phone, checkout, "checkout");
  assert.deepEqual(c.trouble, []);
  await c.page.close();
});

test("a tag manager adding the tag after load on a strict-CSP page (nonce propagated by 'strict-dynamic')", async () => {
  const url = await shopPage("/co/gtm.html",
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>
<script nonce="%NONCE%">addEventListener("load", () => setTimeout(() => {
  const s = document.createElement("script");
  s.src = "%WORKER%/widget.js"; s.dataset.site = "demo"; document.head.append(s);
}, 50));</script></head><body><h1>Shop</h1></body></html>`,
    { "Content-Security-Policy": NONCED });
  const { page, trouble } = await open(url);
  await assertRecorded(await optInModal(page), url, "modal");
  assert.deepEqual(trouble, []);
  await page.close();
});

test("funnel beacons from a strict-CSP, cross-origin-isolated page on another host name are counted", async () => {
  const site = await newSite("co");
  const url = (await shopPage(`/co/beacons-${site}.html`, modalPage(widgetTag(site)),
    { "Content-Security-Policy": STRICT, ...ISOLATED("require-corp") })).replace(SHOP, SHOP_LOCALHOST);
  const { page, trouble } = await open(url);
  await page.getByRole("dialog").waitFor({ state: "visible", timeout: 15_000 });
  await page.keyboard.press("Escape");
  await page.goto(`${SHOP_LOCALHOST}/checkout-done.html`); // pagehide sends the batch
  const counted = await eventually(async () => {
    const res = await admin(`${site}/stats`);
    const { funnel } = await res.json();
    return funnel.length && funnel[0];
  });
  assert.ok(counted, "the beacon reached the Worker");
  assert.deepEqual([counted.surface, counted.impression, counted.open, counted.dismiss], ["modal", 1, 1, 1]);
  assert.deepEqual(trouble, []);
  await page.close();
});
