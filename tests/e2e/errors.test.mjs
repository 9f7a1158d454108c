// Errors say what happened, in the visitor's language: an origin the site does
// not allow, too many tries, the Worker failing, no network; the error event
// carries the problem's type and HTTP status. When the page's CSP or the network
// stops the widget from loading, the console says what to add or check.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { BASE, launch, eventually, freshPhone, newSite, shopPage, widgetTag, SHOP, SHOP_LOCALHOST } from "./support.mjs";

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** The texts a visitor sees, per page language (consent-core's locale.rs). */
const TEXT = {
  en: {
    title: "Get updates on WhatsApp", box: "Order confirmations", phone: "WhatsApp number", submit: "Subscribe on WhatsApp",
    notAllowed: "Sign-up is not allowed on this site.",
    rateLimited: "Too many tries. Wait a few minutes and try again.",
    server: "Something went wrong. Please try again later.",
    network: "Could not send. Check your connection and try again.",
  },
  de: {
    title: "Updates per WhatsApp erhalten", box: "Bestellbestätigungen", phone: "WhatsApp-Nummer", submit: "Per WhatsApp abonnieren",
    notAllowed: "Die Anmeldung ist auf dieser Website nicht erlaubt.",
    rateLimited: "Zu viele Versuche. Bitte in einigen Minuten erneut versuchen.",
    server: "Etwas ist schiefgelaufen. Bitte später erneut versuchen.",
    network: "Senden fehlgeschlagen. Prüfen Sie Ihre Verbindung und versuchen Sie es erneut.",
  },
  id: {
    title: "Dapatkan info lewat WhatsApp", box: "Konfirmasi pesanan", phone: "Nomor WhatsApp", submit: "Berlangganan di WhatsApp",
    notAllowed: "Pendaftaran tidak diizinkan di situs ini.",
    rateLimited: "Terlalu banyak percobaan. Tunggu beberapa menit lalu coba lagi.",
    server: "Terjadi kesalahan. Silakan coba lagi nanti.",
    network: "Gagal mengirim. Periksa koneksi kamu lalu coba lagi.",
  },
};

/** A page for `site` in `lang` on the shop, with `headers`; `origin` swaps the shop's origin. */
async function merchantPage(site, lang, { name = "page", headers = {}, origin = SHOP } = {}) {
  const url = await shopPage(`/errors/${site}/${name}-${lang}.html`,
    `<!doctype html><html lang="${lang}"><head><meta charset="utf-8"><title>Shop</title>${widgetTag(site)}</head>` +
      "<body><main><h1>Shop</h1></main></body></html>", headers);
  return url.replace(SHOP, origin);
}

/** Opens `url`, recording page errors, console errors and (in the page) the widget's error events. */
async function open(url, setup = async () => {}) {
  const page = await browser.newPage();
  const seen = { pageErrors: [], console: [] };
  page.on("pageerror", (e) => seen.pageErrors.push(e.message));
  page.on("console", (m) => m.type() === "error" && seen.console.push(m.text()));
  await page.addInitScript(() => {
    window.__errors = [];
    document.addEventListener("whatsapp-optin:error", (e) => window.__errors.push(e.detail));
  });
  await setup(page);
  await page.goto(url);
  return { page, seen };
}

/** Ticks a box, types a number and submits; answers the status line once it shows `text`. */
async function submitAndSee(page, t, text, phone = freshPhone()) {
  const dialog = page.getByRole("dialog", { name: t.title });
  await dialog.waitFor({ state: "visible", timeout: 15_000 });
  await dialog.getByRole("checkbox", { name: t.box }).check();
  await dialog.getByLabel(t.phone).fill(phone.national);
  await dialog.getByRole("button", { name: t.submit }).click();
  const status = dialog.getByRole("status").filter({ hasText: text });
  await status.waitFor({ timeout: 15_000 });
  return status;
}

/** The one error event the widget dispatched (it is dispatched with the message it shows). */
async function errorEvent(page) {
  const events = await page.evaluate(() => window.__errors);
  assert.equal(events.length, 1, JSON.stringify(events));
  return events[0];
}

test("an origin the site does not allow: 'not allowed here', a 403 origin-not-allowed event, and the console names the origin to add", async () => {
  const site = await newSite("err", { allowed_origins: [SHOP] });
  for (const lang of ["en", "de"]) {
    const { page, seen } = await open(await merchantPage(site, lang, { origin: SHOP_LOCALHOST }));
    await submitAndSee(page, TEXT[lang], TEXT[lang].notAllowed);
    const e = await errorEvent(page);
    assert.deepEqual([e.site, e.surface, e.type, e.status, e.message],
      [site, "modal", "/problems/origin-not-allowed", 403, TEXT[lang].notAllowed]);
    assert.ok(seen.console.includes(`WhatsAppOptIn: add ${SHOP_LOCALHOST} to the allowed_origins of site ${site}`),
      seen.console.join("\n"));
    assert.deepEqual(seen.pageErrors, []);
    await page.close();
  }
});

test("too many tries: 'wait and try again' and a 429 rate-limited event", async () => {
  const site = await newSite("err", { limits: { per_phone_per_hour: 1 } });
  for (const lang of ["en", "id"]) {
    const phone = freshPhone();
    const { page, seen } = await open(await merchantPage(site, lang));
    const thanks = lang === "en" ? "Thank you!" : "Terima kasih!";
    await submitAndSee(page, TEXT[lang], thanks, phone);
    await page.keyboard.press("Escape");
    await page.evaluate(() => window.WhatsAppOptIn.open());
    await submitAndSee(page, TEXT[lang], TEXT[lang].rateLimited, phone);
    const e = await errorEvent(page);
    assert.deepEqual([e.type, e.status, e.message], ["/problems/rate-limited", 429, TEXT[lang].rateLimited]);
    await page.close();
  }
});

/** Routes this site's consent POSTs through `answer(route)`. */
const routeConsents = (site, answer) => async (page) =>
  page.route(`**/v1/sites/${site}/consents`, (route) =>
    route.request().method() === "POST" ? answer(route) : route.continue());

test("the Worker failing (a 500): 'something went wrong, try again later' and a 500 event", async () => {
  const site = await newSite("err");
  const problem = { type: "/problems/internal", title: "Internal error", status: 500, detail: "internal error" };
  for (const lang of ["en", "de"]) {
    const { page, seen } = await open(await merchantPage(site, lang), routeConsents(site, (route) =>
      route.fulfill({
        status: 500, contentType: "application/problem+json", body: JSON.stringify(problem),
        headers: { "access-control-allow-origin": SHOP },
      })));
    await submitAndSee(page, TEXT[lang], TEXT[lang].server);
    const e = await errorEvent(page);
    assert.deepEqual([e.type, e.status, e.message], ["/problems/internal", 500, TEXT[lang].server]);
    await page.close();
  }
});

test("no network: 'check your connection', a status 0 event without a type, and the console names the URL", async () => {
  const site = await newSite("err");
  for (const lang of ["en", "id"]) {
    const { page, seen } = await open(await merchantPage(site, lang),
      routeConsents(site, (route) => route.abort("internetdisconnected")));
    await submitAndSee(page, TEXT[lang], TEXT[lang].network);
    const e = await errorEvent(page);
    assert.deepEqual([e.status, e.message, "type" in e], [0, TEXT[lang].network, false]);
    const url = `${BASE}/v1/sites/${site}/consents`;
    assert.ok(seen.console.includes(`WhatsAppOptIn: ${url}: network or CORS failure; is ${BASE} up and in connect-src?`),
      seen.console.join("\n"));
    await page.close();
  }
});

test("a CSP without 'wasm-unsafe-eval': the console says to add it to script-src", async () => {
  const site = await newSite("err");
  const csp = `default-src 'self'; script-src 'self' ${BASE}; connect-src 'self' ${BASE}`;
  const url = await merchantPage(site, "en", { name: "no-wasm", headers: { "Content-Security-Policy": csp } });
  const { page, seen } = await open(url);
  assert.ok(await eventually(() => page.evaluate(() => window.__errors.length > 0)), "the loader's error event");
  assert.ok(await eventually(() => seen.console.some((m) => m.includes("wasm-unsafe-eval"))), "the console told");
  const told = seen.console.filter((m) => m.includes("wasm-unsafe-eval"));
  assert.deepEqual(told, [
    "WhatsAppOptIn: this page's Content-Security-Policy blocked WebAssembly; add 'wasm-unsafe-eval' to script-src",
  ]);
  const e = await errorEvent(page);
  assert.deepEqual([e.site, e.surface], [site, "loader"]);
  assert.equal(await page.locator("whatsapp-optin").count(), 0);
  await page.close();
});

test("a CSP without the Worker in connect-src: the console names each blocked URL and what to add", async () => {
  const site = await newSite("err");
  const csp = `default-src 'self'; script-src 'self' ${BASE} 'wasm-unsafe-eval'; connect-src 'self'`;
  const { page, seen } = await open(await merchantPage(site, "en", { name: "no-connect", headers: { "Content-Security-Policy": csp } }));
  const told = (re) => eventually(() => seen.console.find((m) => re.test(m)));
  const config = `${BASE}/v1/sites/${site}/config?locale=en`;
  assert.equal(await told(/blocked .*\/config/),
    `WhatsAppOptIn: this page's Content-Security-Policy blocked ${config}; add ${BASE} to connect-src`);
  // The wasm is fetched only once the prompt is used, which never shows without
  // its config: the one line names the one thing to add.
  await new Promise((ok) => setTimeout(ok, 500));
  assert.deepEqual(seen.console.filter((m) => /^WhatsAppOptIn: .*blocked/.test(m)), [
    `WhatsAppOptIn: this page's Content-Security-Policy blocked ${config}; add ${BASE} to connect-src`,
  ]);
  assert.equal(await page.locator("whatsapp-optin").count(), 0);
  await page.close();
});

test("the config request failing on the network: the console names its URL and says what to check", async () => {
  const site = await newSite("err");
  const { page, seen } = await open(await merchantPage(site, "en", { name: "no-config" }), (page) =>
    page.route(`**/v1/sites/${site}/config*`, (route) => route.abort("connectionrefused")));
  const config = `${BASE}/v1/sites/${site}/config?locale=en`;
  const told = await eventually(() => seen.console.find((m) => m.includes(config)));
  assert.equal(told, `WhatsAppOptIn: ${config}: network or CORS failure; is ${BASE} up and in connect-src?`);
  const e = await eventually(async () => (await page.evaluate(() => window.__errors))[0]);
  assert.deepEqual([e.site, e.surface], [site, "loader"]);
  assert.equal(await page.getByRole("dialog").count(), 0);
  assert.deepEqual(seen.pageErrors, []);
  await page.close();
});
