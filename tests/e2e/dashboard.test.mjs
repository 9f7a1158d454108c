// The merchant dashboard at /admin/ in Chromium: it opens only with the admin
// token, its SVG charts show the demo's seeded data (checked in a screenshot),
// subscriber search finds a number and downloads its receipt, exports download,
// merchant-controlled text stays text, and axe-core finds nothing, light and dark.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { BASE, SIM, ADMIN_TOKEN, launch, freshPhone, admin, axeViolations, SHOP, SHOP_ORIGINS } from "./support.mjs";

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
async function signIn({ site = "demo", token = ADMIN_TOKEN, viewport = { width: 1280, height: 900 }, colorScheme = "light" } = {}) {
  const context = await browser.newContext({ viewport, colorScheme, acceptDownloads: true });
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
  const { page, context } = await signIn({ site: id });
  await page.getByText(/^Showing /).waitFor();
  assert.equal(await page.locator("#business").textContent(), `— ${name}`);
  assert.equal(await page.locator("header img").count(), 0);
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  await page.getByText("No consents in this range yet.").waitFor();
  await context.close();
});
