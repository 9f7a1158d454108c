// The merchant dashboard at /admin/ in Chromium: it opens only with the admin
// token, its SVG charts show the demo's seeded data (checked in a screenshot),
// subscriber search finds a number and downloads its receipt, exports download,
// merchant-controlled text stays text, and axe-core finds nothing, light and dark.
// Its Install section gives the exact snippets, which work as copied on a merchant page.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import {
  BASE, SIM, ADMIN_TOKEN, launch, freshPhone, admin, axeViolations, SHOP, SHOP_LOCALHOST, SHOP_ORIGINS,
  newSite, shopPage, eventually,
} from "./support.mjs";

const SHOTS = new URL("../../docs/screenshots/", import.meta.url);
const NOTICE =
  "I agree to receive the messages I select below from Toko Acme on WhatsApp. I can stop at any time by replying STOP.";

let browser;
before(async () => {
  // The same seed `scripts/dev demo` runs (it adds nothing to an already seeded demo).
  const out = execFileSync("node", [new URL("../../scripts/seed-demo.mjs", import.meta.url).pathname], {
    env: { ...process.env, OPTIN_BASE: BASE, SIM_BASE: SIM },
    encoding: "utf8",
    timeout: 120_000,
  });
  console.log(out.trim());
  browser = await launch();
});
after(async () => { await browser?.close(); });

/** A dashboard page signed in to `site` with `token`. */
async function signIn({ site = "demo", token = ADMIN_TOKEN, viewport = { width: 1280, height: 900 }, colorScheme = "light", permissions = [], bypassCSP = false } = {}) {
  const context = await browser.newContext({ viewport, colorScheme, acceptDownloads: true, permissions, bypassCSP });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${BASE}/admin/`);
  await page.getByLabel("Site").fill(site);
  await page.getByLabel("Admin token").fill(token);
  await page.getByRole("button", { name: "Open dashboard" }).click();
  return { page, context, errors };
}

const stats = async (site = "demo") => (await admin(`${site}/stats`)).json();
const count = (rows, f = () => true) => rows.filter(f).reduce((a, r) => a + r.n, 0);

/** Pixels in a screenshot of chart `selector` that have its biggest bar's colour (decoded in a blank page). */
async function barPixels(page, selector) {
  const png = await page.locator(selector).screenshot();
  const fill = await page.locator(selector).evaluate((fig) => {
    const bars = [...fig.querySelectorAll("rect[data-value]")];
    const biggest = bars.reduce((a, b) => (Number(b.dataset.value) > Number(a.dataset.value) ? b : a));
    return getComputedStyle(biggest).fill;
  });
  const probe = await browser.newPage();
  const n = await probe.evaluate(async ({ data, fill }) => {
    const img = new Image();
    img.src = `data:image/png;base64,${data}`;
    await img.decode();
    const c = document.createElement("canvas");
    c.width = img.width;
    c.height = img.height;
    const ctx = c.getContext("2d");
    ctx.drawImage(img, 0, 0);
    const [r, g, b] = fill.match(/\d+/g).map(Number);
    const px = ctx.getImageData(0, 0, c.width, c.height).data;
    let hits = 0;
    for (let i = 0; i < px.length; i += 4) {
      if (Math.abs(px[i] - r) < 8 && Math.abs(px[i + 1] - g) < 8 && Math.abs(px[i + 2] - b) < 8) hits++;
    }
    return hits;
  }, { data: png.toString("base64"), fill });
  await probe.close();
  return n;
}

test("without the token the dashboard shows only sign-in; a wrong token is refused and not kept", async () => {
  const page = await browser.newPage();
  await page.goto(`${BASE}/admin/`);
  assert.ok(await page.getByRole("button", { name: "Open dashboard" }).isVisible());
  assert.equal(await page.locator("#app").isVisible(), false, "no data without a token");
  assert.deepEqual(await axeViolations(page, "body"), [], "the sign-in view");
  const api = await fetch(`${BASE}/admin/sites/demo/stats`);
  assert.equal(api.status, 401, "the API under /admin/sites/ is still the Worker's, not an asset");
  assert.equal((await api.json()).type, "/problems/unauthorized");
  await page.close();

  const { page: p, context } = await signIn({ token: "not-the-token" });
  await p.getByText("The admin token was refused.").waitFor();
  assert.equal(await p.locator("#app").isVisible(), false);
  assert.equal(await p.evaluate(() => sessionStorage.getItem("optin-admin-token")), null);
  assert.equal(await p.locator("#kpi-consents").textContent(), "–", "nothing was loaded");
  await context.close();
});

test("signed in, the charts show the seeded demo data; the screenshot has bars; axe finds nothing", async () => {
  const { page, context, errors } = await signIn();
  await page.getByText(/^Showing /).waitFor();
  const s = await stats();
  const grants = count(s.events, (e) => e.kind === "grant");
  assert.ok(grants >= 200, `the demo is seeded (${grants} consents)`);
  assert.equal(await page.locator("#kpi-consents").textContent(), String(grants));
  assert.equal(await page.locator("#kpi-chain").textContent(), "Verified");
  assert.equal(await page.locator("#business").textContent(), "— Toko Acme");

  // Funnel: one chart per surface, together holding every consent.
  for (const surface of ["modal", "checkout", "chat"]) {
    await page.locator(`#funnel-${surface}`).waitFor();
    assert.ok(Number(await page.locator(`#funnel-${surface}`).getAttribute("data-total")) > 0, `${surface} has consents`);
  }
  const consentBars = await page.locator("#funnel figure").evaluateAll((figs) =>
    figs.map((f) => Number([...f.querySelectorAll("rect[data-value]")].at(-1).dataset.value)));
  assert.equal(consentBars.reduce((a, n) => a + n, 0), grants, "funnel consents add up to the ledger's grants");
  assert.equal(Number(await page.locator("#optouts-by-source").getAttribute("data-total")), count(s.events, (e) => e.kind === "withdraw"));
  const keyword = await page.locator("#optouts-by-source g", { hasText: "Keyword" }).locator("rect").getAttribute("data-value");
  assert.ok(Number(keyword) > 0, "STOP replies are counted as keyword opt-outs");
  const delivered = await page.locator("#delivery-status g", { hasText: /^delivered/ }).locator("rect").getAttribute("data-value");
  const expected = s.delivery ? s.delivery.delivered : count(s.confirmations, (c) => c.status === "delivered");
  assert.equal(Number(delivered), expected);
  assert.ok((await page.locator("#delivery-status title").allTextContents()).some((t) => /^failed: [1-9]/.test(t)), "failures show");
  assert.ok(await page.locator("#consents-per-day rect[data-value]").count() >= 28, "one column per day of the range");

  for (const chart of ["#funnel-modal", "#optouts-by-source", "#delivery-status", "#consents-per-day"]) {
    const px = await barPixels(page, chart);
    assert.ok(px > 200, `${chart} renders bars in the screenshot (${px} bar pixels)`);
  }
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: new URL("dashboard.png", SHOTS).pathname, fullPage: true });

  // Each chart is a named image with its numbers as a table too.
  const svg = page.locator("#optouts-by-source svg");
  assert.equal(await svg.getAttribute("role"), "img");
  assert.match(await page.locator(`#${await svg.getAttribute("aria-labelledby")}`).textContent(), /Opt-outs by how people left/);
  assert.equal(await page.locator("#optouts-by-source table tbody tr").count(), 4);

  assert.deepEqual(await axeViolations(page, "body"), [], "light");
  await page.emulateMedia({ colorScheme: "dark" });
  assert.deepEqual(await axeViolations(page, "body"), [], "dark");
  assert.deepEqual(errors, []);
  await context.close();
});

test("on a phone the dashboard fits the screen and the charts stay readable", async () => {
  const { page, context } = await signIn({ viewport: { width: 390, height: 844 } });
  await page.locator("#funnel-modal").waitFor();
  const { scroll, inner } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: innerWidth }));
  assert.ok(scroll <= inner, `no sideways scrolling (${scroll} > ${inner})`);
  const font = await page.locator("#optouts-by-source text.label").first().evaluate((t) => t.getBoundingClientRect().height);
  assert.ok(font >= 10, `chart labels are at least 10 px tall (${font})`);
  await page.screenshot({ path: new URL("dashboard-phone.png", SHOTS).pathname, fullPage: false });
  await context.close();
});

test("subscriber search finds a number and its receipt downloads", async () => {
  const phone = freshPhone();
  const res = await fetch(`${BASE}/v1/sites/demo/consents`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: SHOP },
    body: JSON.stringify({ phone: phone.national, categories: ["delivery"], locale: "en", notice_version: 1, notice_text: NOTICE, surface: "checkout" }),
  });
  const { id } = await res.json();
  const { page, context } = await signIn();
  await page.getByLabel("Phone number").fill(phone.national);
  await page.getByRole("button", { name: "Search" }).click();
  await page.getByRole("heading", { name: phone.e164 }).waitFor();
  const history = page.locator("table", { has: page.locator("caption", { hasText: "History" }) });
  assert.match(await history.locator("tbody tr").first().textContent(), /grant.*delivery.*checkout/);

  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download receipt" }).click()]);
  assert.equal(download.suggestedFilename(), `receipt-${phone.e164}.json`);
  const receipt = JSON.parse(readFileSync(await download.path(), "utf8"));
  assert.equal(receipt.receipt_version, "optin-receipt/1");
  assert.equal(receipt.subject.phone, phone.e164);
  assert.equal(receipt.consent_event.id, id);
  assert.equal(receipt.collection.notice_text, NOTICE);
  assert.deepEqual(receipt.purposes.map((p) => [p.purpose, p.label, p.kind]), [["delivery", "Shipping and delivery notifications", "utility"]],
    "purposes named as the person read them");

  // Support can send the person a fresh link to their preference centre; it opens it.
  const centre = page.getByRole("link", { name: "Their preference centre (link to send them)" });
  assert.match(await centre.getAttribute("href"), /^\/p\/demo\.0\.[0-9a-f-]{36}\.\d+\.[0-9a-f]{32}$/);
  const [tab] = await Promise.all([context.waitForEvent("page"), centre.click()]);
  await tab.getByRole("switch", { name: "Shipping and delivery notifications" }).waitFor();
  assert.equal(await tab.getByRole("switch", { name: "Shipping and delivery notifications" }).isChecked(), true);
  await tab.close();

  await page.getByLabel("Phone number").fill("+62 812 0000 0001");
  await page.getByRole("button", { name: "Search" }).click();
  await page.getByText("No consent history for +62 812 0000 0001.").waitFor();
  await context.close();
});

test("what the send API decided shows in the dashboard: refusals by reason, queued per category, and each in the person's history", async () => {
  const phone = freshPhone();
  const res = await fetch(`${BASE}/v1/sites/demo/consents`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: SHOP },
    body: JSON.stringify({ phone: phone.e164, categories: ["delivery"], locale: "en", notice_version: 1, notice_text: NOTICE, surface: "modal" }),
  });
  assert.equal(res.status, 201);
  const { key } = await (await admin("demo/keys", { method: "POST", body: JSON.stringify({ name: "dashboard test", scopes: ["send"] }) })).json();
  const sendOne = (category, idem) => fetch(`${BASE}/v1/sites/demo/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}`, "idempotency-key": idem },
    body: JSON.stringify({ to: phone.e164, category, template: { name: "order_shipped" } }),
  });
  const tag = randomBytes(4).toString("hex");
  assert.equal((await sendOne("delivery", `dash-q-${tag}`)).status, 202);
  assert.equal((await sendOne("account_updates", `dash-r-${tag}`)).status, 403);
  const { page, context, errors } = await signIn();
  const refused = page.locator("#messages figure", { hasText: "Refused, by reason" });
  await refused.waitFor();
  assert.match(await refused.textContent(), /not-subscribed/);
  assert.match(await page.locator("#messages figure", { hasText: "Queued, by category" }).textContent(), /delivery/);
  await page.getByLabel("Phone number").fill(phone.e164);
  await page.getByRole("button", { name: "Search" }).click();
  const decisions = page.locator("table", { has: page.locator("caption", { hasText: "Sent or refused through the API" }) });
  await decisions.waitFor();
  const rows = await decisions.locator("tbody tr").allTextContents();
  assert.equal(rows.length, 2, rows.join(" | "));
  assert.match(rows[0], /delivery.*order_shipped.*queued.*subscribed/);
  assert.match(rows[1], /account_updates.*order_shipped.*refused.*not-subscribed.*refused/);
  assert.deepEqual(errors, []);
  await context.close();
});

test("the export buttons download the ledger as CSV and NDJSON", async () => {
  const { page, context } = await signIn();
  await page.locator("#funnel-modal").waitFor();
  const [csv] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download CSV" }).click()]);
  const text = readFileSync(await csv.path(), "utf8");
  assert.match(text, /^seq,id,kind,phone,subject_hash/);
  assert.ok(text.split("\n").length > 200);
  const [nd] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download NDJSON" }).click()]);
  const first = JSON.parse(readFileSync(await nd.path(), "utf8").split("\n")[0]);
  assert.equal(first.seq, 1);
  await context.close();
});

test("a business name full of markup is shown as text, never run", async () => {
  const id = `x-${randomBytes(4).toString("hex")}`;
  const name = `<img src=x onerror="window.__xss=1">Toko "Acme"`;
  const config = {
    id, business_name: name, allowed_origins: SHOP_ORIGINS, privacy_policy_url: `${BASE}/privacy.html`,
    default_locale: "en", default_calling_code: 62, categories: ["delivery"], notice_version: 1,
    whatsapp: { phone_number_id: "100000000000001", template_name: "optin_confirmation", template_languages: ["en"], token_secret: "WA_TOKEN_DEMO" },
  };
  assert.equal((await admin(id, { method: "PUT", body: JSON.stringify(config) })).status, 200);
  // With the page's CSP switched off, so that markup rendered as HTML would run and be seen:
  // the CSP is the second line of defence, rendering as text the first.
  const { page, context } = await signIn({ site: id, bypassCSP: true });
  await page.getByText(/^Showing /).waitFor();
  await page.getByText("No consents in this range yet.").waitFor();
  assert.equal(await page.locator("#business").textContent(), `— ${name}`);
  assert.equal(await page.locator('img[src="x"], [onerror]').count(), 0, "no element anywhere was made from the name");
  assert.ok((await page.locator("body").textContent()).includes(name), "the name is shown as the text it is");
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  await context.close();
});

// ---- the Install section ----

const ORIGIN = new URL(BASE).origin;
const CLIPBOARD = ["clipboard-read", "clipboard-write"];
const TAG = (site) => `<script src="${ORIGIN}/widget.js" data-site="${site}" async></script>`;
const PLACEHOLDER = (cats) => `<div data-wa-optin="checkout" data-phone-field="#phone" data-categories="${cats}"></div>`;
const CSP = `script-src ${ORIGIN} 'wasm-unsafe-eval'; connect-src ${ORIGIN}`;
const random = () => randomBytes(4).toString("hex");

/** Presses Copy button `name` (by keyboard when `key`), waits for its "Copied" and answers the clipboard's text. */
async function copy(page, name, { key = false } = {}) {
  const button = page.getByRole("button", { name });
  if (key) {
    await button.focus();
    await page.keyboard.press("Enter");
  } else {
    await button.click();
  }
  await button.locator("xpath=..").getByRole("status").filter({ hasText: /^Copied$/ }).waitFor();
  return page.evaluate(() => navigator.clipboard.readText());
}

/** `policy` with the sources of `add`'s directives added to its own (a directive it lacks is appended). */
function addSources(policy, add) {
  const parse = (p) => p.split(";").map((d) => d.trim().split(/\s+/)).filter((d) => d[0]);
  const out = parse(policy);
  for (const [name, ...sources] of parse(add)) {
    const have = out.find((d) => d[0] === name);
    if (have) have.push(...sources);
    else out.push([name, ...sources]);
  }
  return out.map((d) => d.join(" ")).join("; ");
}

test("Install, demo site: the exact tag, placeholder and CSP, copied as shown; the copied tag opens the modal on a merchant page", async () => {
  const config = await (await admin("demo")).json();
  const { page, context, errors } = await signIn({ permissions: CLIPBOARD });
  const install = page.getByRole("region", { name: "Install on your pages" });
  await install.getByText(TAG("demo"), { exact: true }).waitFor();
  const placeholder = PLACEHOLDER(config.categories.join(","));
  assert.equal(placeholder, PLACEHOLDER("order_updates,delivery,appointment_reminders,payment_alerts,account_updates"));
  assert.ok(await install.getByText(placeholder, { exact: true }).isVisible(), "the placeholder with the site's categories");
  assert.ok(await install.getByText(CSP, { exact: true }).isVisible(), "the CSP directives with the Worker's origin");
  assert.deepEqual(await page.locator("#install-origins li").allTextContents(), config.allowed_origins);
  assert.deepEqual(config.allowed_origins, SHOP_ORIGINS);

  const tag = await copy(page, "Copy the script tag");
  assert.equal(tag, TAG("demo"));
  assert.equal(await copy(page, "Copy the checkout placeholder"), placeholder);
  assert.equal(await copy(page, "Copy the CSP directives", { key: true }), CSP, "Copy works from the keyboard");
  assert.equal(await install.getByRole("status").filter({ hasText: "Copied" }).count(), 1, "only the last Copy says Copied");

  await install.getByText("Optional attributes").click();
  assert.ok(await install.locator("dl").getByText('data-auto-open="false"').isVisible(), "the optional attributes open");
  assert.deepEqual(await axeViolations(page, "#install"), [], "light");
  await page.emulateMedia({ colorScheme: "dark" });
  assert.deepEqual(await axeViolations(page, "#install"), [], "dark");
  assert.deepEqual(errors, []);
  await context.close();

  // The tag as copied, on a merchant page of its own origin: the modal opens.
  const url = await shopPage(`/install-${random()}.html`,
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Toko Acme</title>${tag}</head><body><h1>Our shop</h1></body></html>`);
  const shop = await browser.newPage();
  await shop.goto(url);
  const dialog = shop.getByRole("dialog", { name: "Get updates on WhatsApp" });
  await dialog.waitFor({ state: "visible", timeout: 15_000 });
  assert.match(await dialog.textContent(), /from Toko Acme on WhatsApp/);
  await shop.close();
});

test("Install, fresh site: its id and categories; as copied they record a checkout consent under a nonce + 'strict-dynamic' CSP with COEP; another origin is refused until added", async () => {
  const id = await newSite("install", { categories: ["appointment_reminders", "payment_alerts"], allowed_origins: [SHOP] });
  const { page, context } = await signIn({ site: id, permissions: CLIPBOARD });
  const install = page.getByRole("region", { name: "Install on your pages" });
  await install.getByText(TAG(id), { exact: true }).waitFor();
  const tag = await copy(page, "Copy the script tag");
  assert.equal(tag, TAG(id));
  const placeholder = await copy(page, "Copy the checkout placeholder");
  assert.equal(placeholder, PLACEHOLDER("appointment_reminders,payment_alerts"));
  const csp = await copy(page, "Copy the CSP directives");
  assert.equal(csp, CSP);
  assert.deepEqual(await page.locator("#install-origins li").allTextContents(), [SHOP]);
  assert.deepEqual(await axeViolations(page, "#install"), []);

  // A merchant checkout whose own policy is nonce-based with 'strict-dynamic', the
  // copied directives added to it; the tag carries the page's nonce (and, as the
  // section advises for checkouts, data-auto-open="false"); cross-origin isolated.
  const policy = addSources("default-src 'self'; script-src 'nonce-%NONCE%' 'strict-dynamic'; connect-src 'self'; style-src 'self'; img-src 'self'", csp);
  const done = await shopPage(`/install-done-${random()}.html`, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Thanks</title></head><body><h1>Thank you for your order</h1></body></html>`);
  const checkout = await shopPage(`/install-checkout-${random()}.html`, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Checkout</title>
${tag.replace("<script ", '<script nonce="%NONCE%" ').replace(" async>", ' async data-auto-open="false">')}</head><body><main><h1>Checkout</h1>
<form action="${new URL(done).pathname}" method="get">
<label for="phone">Phone</label> <input id="phone" name="phone" type="tel">
${placeholder}
<button>Place order</button></form></main></body></html>`, {
    "Content-Security-Policy": policy,
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Opener-Policy": "same-origin",
  });
  const shop = await browser.newPage();
  const problems = [];
  // (The shop has no favicon: the browser's 404 for it is not the widget's.)
  shop.on("console", (m) => m.type() === "error" && !m.location().url.endsWith("/favicon.ico") && problems.push(m.text()));
  shop.on("pageerror", (e) => problems.push(e.message));
  await shop.goto(checkout);
  assert.equal(await shop.evaluate(() => crossOriginIsolated), true, "the page is cross-origin isolated");
  const optin = shop.locator("form [data-wa-optin=checkout]");
  await optin.getByRole("checkbox", { name: "Payment alerts" }).check({ timeout: 15_000 });
  assert.deepEqual(await optin.getByRole("checkbox").evaluateAll((b) => b.map((x) => x.closest("label")?.textContent.trim())),
    ["Appointment reminders", "Payment alerts"], "the site's categories, from the copied placeholder");
  const phone = freshPhone();
  await shop.getByLabel("Phone", { exact: true }).fill(phone.national);
  await Promise.all([shop.waitForURL(/install-done/), shop.getByRole("button", { name: "Place order" }).click()]);
  const found = await eventually(async () => (await admin(`${id}/subscribers/${encodeURIComponent(phone.e164)}`)).status === 200);
  assert.ok(found, "the consent is in the new site's ledger");
  const { events } = await (await admin(`${id}/subscribers/${encodeURIComponent(phone.e164)}`)).json();
  assert.deepEqual(events.map((e) => [e.kind, e.categories, e.evidence.surface]), [["grant", ["payment_alerts"], "checkout"]]);
  assert.deepEqual(problems, [], "no CSP, COEP or script error on the merchant's page");
  await shop.close();

  // The copied tag on an origin the site does not list: the widget shows, the opt-in is refused.
  const modal = new URL(await shopPage(`/install-modal-${random()}.html`,
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>${tag}</head><body><h1>Shop</h1></body></html>`)).pathname;
  const optIn = async (expected) => {
    const other = await browser.newPage();
    await other.goto(`${SHOP_LOCALHOST}${modal}`);
    const dialog = other.getByRole("dialog", { name: "Get updates on WhatsApp" });
    await dialog.getByRole("checkbox", { name: "Appointment reminders" }).check({ timeout: 15_000 });
    await dialog.getByLabel("WhatsApp number").fill(freshPhone().national);
    await dialog.getByRole("button", { name: "Subscribe on WhatsApp" }).click();
    await dialog.getByRole("status").filter({ hasText: expected }).waitFor({ timeout: 15_000 });
    await other.close();
  };
  await optIn("Sign-up is not allowed on this site.");

  // What the section says to do: read the configuration, add the origin, PUT it back.
  const site = await (await admin(id)).json();
  site.allowed_origins.push(SHOP_LOCALHOST);
  assert.equal((await admin(id, { method: "PUT", body: JSON.stringify(site) })).status, 200);
  await page.reload();
  await page.locator("#install-origins li").nth(1).waitFor();
  assert.deepEqual(await page.locator("#install-origins li").allTextContents(), [SHOP, SHOP_LOCALHOST]);
  assert.match(await install.locator("#install-put").textContent(), new RegExp(`--data-binary @site.json ${ORIGIN}/admin/sites/${id}$`));
  await optIn(/^Thank you!/);
  await context.close();
});

test("Install without the Clipboard API (e.g. the dashboard over plain http): Copy selects the snippet, copies it the older way and says so", async () => {
  const { page, context } = await signIn({ permissions: CLIPBOARD });
  await page.addInitScript(() => {
    window.__clipboard = navigator.clipboard;
    Object.defineProperty(Navigator.prototype, "clipboard", { get: () => undefined });
  });
  await page.reload();
  await page.locator("#install-tag").getByText(TAG("demo"), { exact: true }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard), undefined);
  const button = page.getByRole("button", { name: "Copy the script tag" });
  await button.click();
  const note = button.locator("xpath=..").getByRole("status");
  await note.filter({ hasText: /^Copied$/ }).waitFor();
  assert.equal(await page.evaluate(() => getSelection().toString()), TAG("demo"), "the snippet is selected");
  assert.equal(await page.evaluate(() => window.__clipboard.readText()), TAG("demo"), "and copied");

  // Where even that is refused, the selection stays for Ctrl+C and the note says so.
  await page.evaluate(() => { document.execCommand = () => false; });
  await page.getByRole("button", { name: "Copy the CSP directives" }).click();
  await page.getByText("Selected: press Ctrl+C (⌘C on a Mac) to copy", { exact: true }).waitFor();
  assert.equal(await page.evaluate(() => getSelection().toString()), CSP);
  await context.close();
});

test("Webhooks: an endpoint added in the dashboard shows its secret once; one that failed for the whole retry period is disabled with an alert, and Resume takes it up again", { timeout: 90_000 }, async () => {
  const site = await newSite("dash-hooks");
  // A port nothing listens on: every delivery fails (HOOK_DISABLE_AFTER_MS is 30 s under scripts/dev).
  const dead = "http://127.0.0.1:9/hooks";
  const { page, context, errors } = await signIn({ site });
  try {
    await page.getByLabel("Endpoint URL").fill("ftp://crm.example.com/hooks");
    await page.getByLabel("Endpoint URL").evaluate((el) => el.setAttribute("type", "text")); // let the server judge it
    await page.getByRole("button", { name: "Add endpoint" }).click();
    await page.locator("#hooks-note", { hasText: "url: must be an http(s) URL" }).waitFor();
    await page.getByLabel("Endpoint URL").fill(dead);
    await page.getByLabel(/^Events/).fill("consent.granted, consent.withdrawn");
    await page.getByRole("button", { name: "Add endpoint" }).click();
    await page.locator("#hooks-secret", { hasText: "whsec_" }).waitFor();
    const secret = await page.locator("#hooks-secret").textContent();
    assert.match(secret, /whsec_[A-Za-z0-9+/]{43}=/);
    const row = page.locator("#hooks-table tbody tr");
    await row.filter({ hasText: "consent.granted, consent.withdrawn" }).waitFor();

    const res = await fetch(`${BASE}/v1/sites/${site}/consents`, {
      method: "POST", headers: { "content-type": "application/json", origin: SHOP },
      body: JSON.stringify({ phone: freshPhone().e164, categories: ["delivery"], locale: "en", notice_version: 1, notice_text: NOTICE, surface: "modal" }),
    });
    assert.equal(res.status, 201);
    const disabled = await eventually(async () => {
      const { endpoints } = await (await admin(`${site}/webhook-endpoints`)).json();
      return endpoints[0].state === "disabled" ? endpoints[0] : null;
    }, 60_000);
    assert.ok(disabled, "disabled after failing for the whole period");
    assert.equal(disabled.pending, 1, "its event is kept");

    await page.reload();
    await page.locator("#hooks-alert", { hasText: "Disabled after failing for 3 days" }).waitFor();
    assert.ok((await page.locator("#hooks-alert").textContent()).includes(dead));
    await page.getByRole("button", { name: "Deliveries" }).click();
    await page.locator("#hooks-log tbody tr", { hasText: "consent.granted" }).waitFor();
    await page.getByRole("button", { name: "Resume" }).click();
    await page.locator("#hooks-note", { hasText: /: (active|failing)\./ }).waitFor();
    await page.locator("#hooks-alert").waitFor({ state: "hidden" });
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test("Keys and token: a key made in the dashboard is shown once and works until revoked; a stored WhatsApp token shows only its last four; the data location is shown", { timeout: 60_000 }, async () => {
  const site = await newSite("dash-keys", { jurisdiction: "eu" });
  const { page, context, errors } = await signIn({ site });
  try {
    await page.locator("#keys-location", { hasText: "only in the EU jurisdiction" }).waitFor();
    await page.locator("#token-state", { hasText: "The Worker secret WA_TOKEN_DEMO sends" }).waitFor();

    await page.getByLabel("Key name").fill("order system");
    await page.getByLabel("capture").check();
    await page.getByLabel("send", { exact: true }).uncheck();
    await page.getByRole("button", { name: "Create key" }).click();
    const shown = await page.locator("#keys-secret", { hasText: "wok_" }).textContent();
    const key = shown.match(/wok_[0-9a-f]{16}_[0-9a-f]{64}/)[0];
    const row = page.locator("#keys-table tbody tr", { hasText: "order system" });
    await row.filter({ hasText: "read, capture" }).waitFor();
    const perms = () => fetch(`${BASE}/v1/sites/${site}/permissions/${encodeURIComponent(freshPhone().e164)}`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal((await perms()).status, 200, "the key works with its read scope");

    await page.reload();
    assert.equal(await page.locator("#keys-secret").isHidden(), true, "the key is shown only once");
    assert.ok(!(await page.locator("#keys").textContent()).includes(key));
    await row.getByRole("button", { name: "Revoke" }).click();
    await row.filter({ hasText: "revoked" }).waitFor();
    const refused = await eventually(async () => (await perms()).status === 401, 15_000);
    assert.ok(refused, "a revoked key is refused");

    await page.getByLabel(/^New access token/).fill("EAAGdashboard-token-9876");
    await page.getByRole("button", { name: "Store token" }).click();
    await page.locator("#token-state", { hasText: "ending in …9876" }).waitFor();
    assert.equal(await page.getByLabel(/^New access token/).inputValue(), "", "the field is cleared");
    assert.ok(!(await page.content()).includes("EAAGdashboard-token"), "the token is not on the page");
    assert.equal((await (await admin(`${site}/graph-token`)).json()).last4, "9876");
    await page.getByRole("button", { name: "Remove stored token" }).click();
    await page.locator("#token-state", { hasText: "WA_TOKEN_DEMO sends" }).waitFor();
    const violations = await axeViolations(page, "#keys");
    assert.deepEqual(violations, [], JSON.stringify(violations));
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
