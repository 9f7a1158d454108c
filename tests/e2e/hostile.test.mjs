// Ordinary hostile merchant pages: old libraries that change built-ins
// (Array.prototype.toJSON as Prototype.js has it, Object.prototype additions and
// accessors, a wrapped fetch, a patched JSON.stringify), global CSS resets with
// !important, elements at the highest z-index, the tag twice and re-run by an
// optimiser, single-page-app route changes. On each the modal shows and works,
// the body the Worker records is exactly what the visitor chose, one widget
// mounts and the page sees no error. At the end, defaults a merchant expects:
// no modal over a checkout unless the site asks, the chat button's glyph.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launch, admin, axeViolations, freshPhone, eventually, newSite, shopPage, widgetTag } from "./support.mjs";

let browser;
let site;
before(async () => {
  browser = await launch();
  site = await newSite("hos", { targeting: { per_session: 0 } });
});
after(async () => { await browser?.close(); });

const NOTICE =
  "I agree to receive the messages I select below from Toko Acme on WhatsApp. I can stop at any time by replying STOP.";

/** What each hostile trait does to the page, as a script run before the widget's tag. */
const TRAITS = {
  // Prototype.js 1.6: arrays stringify as a JSON string of themselves.
  arrayToJSON: `Array.prototype.toJSON = function () { return "[" + this.join(",") + "]"; };`,
  // Plain values and accessors on Object.prototype, named like the widget's own fields.
  objectPrototype: `
    Object.prototype.categories = ["payment_alerts"];
    Object.prototype.targeting = { include: ["/nowhere"] };
    Object.prototype.variants = { modal: [{ id: "evil", weight: 1, strings: { notice: "Evil notice" } }] };
    Object.prototype.variant = "evil";
    Object.prototype.id = "not-a-consent-id";
    Object.prototype.mode = "no-cors";
    Object.defineProperty(Object.prototype, "turnstile", { get() { return "token"; }, configurable: true });
    Object.defineProperty(Object.prototype, "phone", {
      set(v) { window.__stolenPhone = v; }, get() { return "+15550000000"; }, configurable: true,
    });`,
  // An analytics wrapper that passes every call through.
  wrappedFetch: `
    window.__fetches = 0;
    const realFetch = window.fetch;
    window.fetch = function (input, init) { window.__fetches++; return realFetch.call(this, input, init); };`,
  // A "helper" that adds a field to everything it serialises.
  patchedStringify: `
    const realStringify = JSON.stringify;
    JSON.stringify = function (v, r, s) {
      return realStringify.call(JSON, v && typeof v === "object" ? Object.assign({ patched: true }, v) : v, r, s);
    };`,
};

const CSS = `<style>
  * { all: unset !important; }
  div { display: none !important; }
  html, body, p, section, main { display: block !important; }
  .cover { position: fixed !important; inset: 0 !important; z-index: 2147483647 !important;
           background: rgba(200, 0, 0, .25) !important; }
</style>`;

/** A merchant page at `name` with `traits` run first, the tag (`tags` times) and `extra` after it. */
async function hostilePage(name, { traits = [], css = "", tags = 1, extra = "" } = {}) {
  const patches = traits.map((t) => `<script>${TRAITS[t]}</script>`).join("\n");
  return shopPage(`/hostile/${site}/${name}.html`, `<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Hostile: ${name}</title>${css}${patches}${widgetTag(site).repeat(tags)}</head>
<body><main><h1>Shop</h1><p>Products.</p></main>
<section class="cover" aria-hidden="true">A site's chat bubble at the highest z-index</section>
${extra}</body></html>`);
}

/** Opens `url`, recording page errors, the consent bodies sent and the consent events. */
async function open(url) {
  const page = await browser.newPage();
  const errors = [];
  const bodies = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("request", (r) => {
    if (r.method() === "POST" && r.url().endsWith(`/v1/sites/${site}/consents`)) bodies.push(r.postData());
  });
  await page.addInitScript(() => {
    window.__consents = [];
    document.addEventListener("whatsapp-optin:consent", (e) => window.__consents.push(e.detail.id));
  });
  await page.goto(url);
  const dialog = page.getByRole("dialog", { name: "Get updates on WhatsApp" });
  await dialog.waitFor({ state: "visible", timeout: 15_000 });
  return { page, dialog, errors, bodies };
}

/** Subscribes with two categories and checks the body sent and what the Worker recorded. */
async function subscribeAndCheck({ page, dialog, errors, bodies }) {
  const phone = freshPhone();
  await dialog.getByRole("checkbox", { name: "Order confirmations" }).check();
  await dialog.getByRole("checkbox", { name: "Shipping and delivery notifications" }).check();
  await dialog.getByLabel("WhatsApp number").fill(phone.national);
  await dialog.getByRole("button", { name: "Subscribe on WhatsApp" }).click();
  await dialog.getByRole("status").filter({ hasText: "Thank you!" }).waitFor({ timeout: 15_000 });

  assert.equal(bodies.length, 1, "one consent sent");
  const body = JSON.parse(bodies[0]);
  assert.equal(typeof body.client_ts, "number");
  delete body.client_ts;
  assert.deepEqual(body, {
    phone: phone.national,
    categories: ["order_updates", "delivery"],
    locale: "en",
    notice_version: 1,
    notice_text: NOTICE,
    surface: "modal",
    page_url: page.url(),
    widget_version: "0.1.0",
  });
  const found = await (await admin(`${site}/subscribers/${encodeURIComponent(phone.e164)}`)).json();
  assert.equal(found.events.length, 1, "one consent recorded");
  const [event] = found.events;
  assert.deepEqual(event.categories, ["order_updates", "delivery"]);
  assert.equal(event.evidence.notice_text, NOTICE);
  assert.equal(event.evidence.surface, "modal");
  assert.equal(event.evidence.variant ?? null, null, "no variant the page invented");
  const ids = await page.evaluate(() => window.__consents);
  assert.deepEqual(ids, [event.id], "the consent event carries the recorded id");
  assert.equal(await page.locator("whatsapp-optin").count(), 1, "one widget");
  assert.deepEqual(errors, []);
}

for (const trait of Object.keys(TRAITS)) {
  test(`a page with ${trait}: the modal works and the recorded consent is exactly what was chosen`, async () => {
    const opened = await open(await hostilePage(trait, { traits: [trait] }));
    await subscribeAndCheck(opened);
    if (trait === "wrappedFetch") assert.ok(await opened.page.evaluate(() => window.__fetches) >= 2, "through the page's fetch");
    await opened.page.close();
  });
}

test("a page whose setter on Object.prototype.phone would catch the number never sees it", async () => {
  const opened = await open(await hostilePage("phone-setter", { traits: ["objectPrototype"] }));
  await subscribeAndCheck(opened);
  assert.equal(await opened.page.evaluate(() => window.__stolenPhone ?? null), null);
  await opened.page.close();
});

test("global !important resets and an element at the highest z-index: the modal is on top and works", async () => {
  const opened = await open(await hostilePage("css", { css: CSS }));
  const box = await opened.dialog.boundingBox();
  assert.ok(box.width > 200 && box.height > 200, `the dialog has its size (${box.width}×${box.height})`);
  const hit = await opened.page.evaluate(({ x, y }) => {
    const host = document.elementFromPoint(x, y);
    return host?.localName;
  }, { x: box.x + box.width / 2, y: box.y + 20 });
  assert.equal(hit, "whatsapp-optin", "the dialog, not the page's cover, is under the pointer");
  await subscribeAndCheck(opened);
  await opened.page.close();
});

test("the tag twice, then re-run by an optimiser: one widget, one consent", async () => {
  // Rocket Loader style: the script is run again, from a copy of the tag and from
  // an inline script holding its text (where document.currentScript is not the tag).
  const rerun = `<script>
    addEventListener("load", async () => {
      const tag = document.querySelector("script[data-site]");
      const copy = document.createElement("script");
      copy.src = tag.src; copy.dataset.site = tag.dataset.site;
      document.body.append(copy);
      const inline = document.createElement("script");
      inline.textContent = await (await fetch(tag.src)).text();
      document.body.append(inline);
      window.__rerun = true;
    });
  </script>`;
  const opened = await open(await hostilePage("twice", { tags: 2, extra: rerun }));
  await opened.page.waitForFunction(() => window.__rerun === true);
  assert.equal(await opened.page.getByRole("dialog").count(), 1, "one dialog");
  await subscribeAndCheck(opened);
  await opened.page.close();
});

test("single-page-app route changes do not bring a closed modal back nor mount a second one", async () => {
  const opened = await open(await hostilePage("spa"));
  const { page, dialog } = opened;
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "hidden" });
  const opens = await page.evaluate(() => {
    let n = 0;
    document.addEventListener("whatsapp-optin:open", () => n++);
    for (const path of ["/a", "/b", "/a"]) history.pushState({}, "", location.pathname + path);
    // Evaluated in the widget's own timer task (delay 0) after each route change.
    return new Promise((r) => setTimeout(() => r(n), 0));
  });
  assert.equal(opens, 0, "closed stays closed");
  assert.equal(await page.locator("whatsapp-optin").count(), 1);
  await page.evaluate(() => window.WhatsAppOptIn.open());
  await subscribeAndCheck(opened);
  await page.close();
});

test("a page with every hostile trait at once: the modal works, the body is exact, the funnel beacon is well-formed", async () => {
  const opened = await open(await hostilePage("all", { traits: Object.keys(TRAITS), css: CSS, tags: 2 }));
  const beacons = [];
  opened.page.on("request", (r) => r.url().endsWith(`/v1/sites/${site}/events`) && beacons.push(r.postData()));
  await subscribeAndCheck(opened);
  // The page going to the background sends the queued funnel events.
  await opened.page.evaluate(() => {
    Object.defineProperty(document, "hidden", { value: true, configurable: true });
    document.dispatchEvent(new Event("visibilitychange"));
  });
  assert.ok(await eventually(() => beacons.length > 0), "a beacon was sent");
  const sent = JSON.parse(beacons[0]);
  assert.deepEqual(Object.keys(sent), ["events"]);
  assert.ok(Array.isArray(sent.events), "events is an array, not the string Array.prototype.toJSON makes");
  assert.deepEqual(sent.events.map((e) => e.type), ["impression", "open", "submit"]);
  assert.ok(sent.events.every((e) => e.surface === "modal" && e.locale === "en" && Object.keys(e).length === 3));
  await opened.page.close();
});

// Defaults a merchant expects.

/** A checkout page for `site` (auto-open on) at `name`; records the widget's impressions. */
async function checkoutPage(site, name) {
  const url = await shopPage(`/hostile/${site}/${name}.html`, `<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Checkout</title>${widgetTag(site)}</head><body><main><h1>Checkout</h1>
<form action="/checkout-done.html"><label for="phone">Phone</label><input id="phone" type="tel">
<div data-wa-optin="checkout" data-phone-field="#phone"></div><button>Place order</button></form></main></body></html>`);
  const page = await browser.newPage();
  await page.addInitScript(() => {
    window.__impressions = [];
    document.addEventListener("whatsapp-optin:impression", (e) => window.__impressions.push(e.detail.surface));
  });
  await page.goto(url);
  await page.locator("[data-wa-optin=checkout]").getByRole("checkbox", { name: "Order confirmations" }).waitFor({ timeout: 15_000 });
  return page;
}

test("a checkout page does not get the modal over it from a site that opens it everywhere", async () => {
  const everywhere = await newSite("hos", {});
  const page = await checkoutPage(everywhere, "checkout");
  // The modal's opening runs in a timer task queued as the widget started: one
  // more task after it, and it has decided.
  await page.evaluate(() => new Promise((r) => setTimeout(r, 0)));
  assert.equal(await page.getByRole("dialog").isVisible(), false, "no modal over the checkout");
  assert.deepEqual(await page.evaluate(() => window.__impressions), ["checkout"]);
  await page.evaluate(() => window.WhatsAppOptIn.open());
  await page.getByRole("dialog", { name: "Get updates on WhatsApp" }).waitFor({ state: "visible" });
  await page.close();
});

test("a site whose targeting names the checkout page gets the modal there", async () => {
  const asking = await newSite("hos", { targeting: { include: ["/hostile/*/checkout-asked*"] } });
  const page = await checkoutPage(asking, "checkout-asked");
  await page.getByRole("dialog", { name: "Get updates on WhatsApp" }).waitFor({ state: "visible", timeout: 15_000 });
  assert.deepEqual((await page.evaluate(() => window.__impressions)).sort(), ["checkout", "modal"]);
  await page.close();
});

test("the chat button shows the WhatsApp glyph and keeps its accessible name", async () => {
  const chatSite = await newSite("hos", { chat: { number: "6281234500000" } });
  const url = await shopPage(`/hostile/${chatSite}/chat.html`, `<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Chat</title>${widgetTag(chatSite, 'data-chat data-auto-open="false"')}</head><body><main><h1>Shop</h1></main></body></html>`);
  const page = await browser.newPage();
  await page.goto(url);
  const fab = page.getByRole("button", { name: "Chat on WhatsApp", exact: true });
  await fab.waitFor({ timeout: 15_000 });
  const glyph = fab.locator("svg");
  assert.equal(await glyph.count(), 1, "one glyph in the button");
  assert.equal(await glyph.getAttribute("aria-hidden"), "true");
  const box = await glyph.boundingBox();
  assert.ok(box.width >= 20 && box.height >= 20, `the glyph is drawn (${box.width}×${box.height})`);
  assert.deepEqual(await axeViolations(page), []);
  await page.close();
});
