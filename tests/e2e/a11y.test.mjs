// Accessibility and robustness of the modal in Chromium: axe-core finds nothing,
// keyboard-only opt-in reaches the ledger, focus is trapped and returned,
// targets are big enough, hostile page CSS and a strict CSP change nothing,
// and a business name full of markup stays text.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { BASE, launch, freshPhone, subscriber, sleep, axeViolations, SHOP } from "./support.mjs";

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

async function openDemo(path = "/", options = {}) {
  const page = await browser.newPage(options);
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${SHOP}${path}`);
  const dialog = page.getByRole("dialog", { name: "Get updates on WhatsApp" });
  await dialog.waitFor({ state: "visible", timeout: 15_000 });
  return { page, dialog, errors };
}

/** The focused element, looking through shadow roots: its accessible-ish name and whether it is in the dialog. */
const focused = (page) =>
  page.evaluate(() => {
    let a = document.activeElement;
    while (a?.shadowRoot?.activeElement) a = a.shadowRoot.activeElement;
    if (!a || a === document.body) return { name: "body", inDialog: false };
    const name = a.getAttribute("aria-label") || a.labels?.[0]?.textContent || a.textContent || a.tagName;
    return { name: name.trim(), inDialog: !!a.closest("dialog"), tag: a.tagName.toLowerCase() };
  });

const axe = (page) => axeViolations(page);

test("axe-core finds no WCAG 2.2 A/AA violation in the open modal, light and dark, with errors shown", async () => {
  const { page, dialog } = await openDemo();
  assert.deepEqual(await axe(page), [], "light theme");
  await dialog.getByRole("button", { name: "Subscribe on WhatsApp" }).click();
  await dialog.getByText("Choose at least one kind of message.").waitFor();
  await dialog.getByRole("checkbox", { name: "Payment alerts" }).check();
  await dialog.getByLabel("WhatsApp number").fill("12");
  await dialog.getByRole("button", { name: "Subscribe on WhatsApp" }).click();
  await dialog.getByText("Enter a valid WhatsApp number, including the country code.").waitFor();
  assert.deepEqual(await axe(page), [], "with inline errors");
  await page.emulateMedia({ colorScheme: "dark" });
  assert.deepEqual(await axe(page), [], "dark theme");
  await page.close();
});

test("a keyboard-only shopper opts in (Space, Tab, typing, Enter) and the ledger records it", async () => {
  const { page, dialog, errors } = await openDemo();
  assert.deepEqual(await focused(page), { name: "Order confirmations", inDialog: true, tag: "input" }, "focus starts on the first choice");
  await page.keyboard.press("Space");
  await page.keyboard.press("Tab");
  assert.equal((await focused(page)).name, "Shipping and delivery notifications");
  await page.keyboard.press("Space");
  for (let i = 0; i < 4; i++) await page.keyboard.press("Tab");
  assert.equal((await focused(page)).name, "WhatsApp number");
  const phone = freshPhone();
  await page.keyboard.type(phone.national);
  await page.keyboard.press("Enter");
  await dialog.getByRole("status").filter({ hasText: "Thank you!" }).waitFor({ timeout: 15_000 });
  assert.equal((await focused(page)).inDialog, true, "focus moves to the announcement, still in the dialog");

  const { status, body } = await subscriber(phone.e164);
  assert.equal(status, 200);
  assert.equal(body.events.length, 1);
  assert.deepEqual(body.events[0].categories, ["order_updates", "delivery"]);
  assert.equal(body.events[0].evidence.surface, "modal");
  assert.deepEqual(errors, []);
  await page.close();
});

test("Tab and Shift+Tab cycle inside the open dialog; Escape closes it and focus returns", async () => {
  const { page, dialog } = await openDemo();
  const seen = new Set();
  for (let i = 0; i < 12; i++) {
    await page.keyboard.press("Tab");
    const f = await focused(page);
    assert.equal(f.inDialog, true, `Tab #${i + 1} left the dialog for ${f.name}`);
    seen.add(f.name);
  }
  for (const name of ["Close", "WhatsApp number", "Subscribe on WhatsApp", "Privacy policy"]) {
    assert.ok(seen.has(name), `Tab reached ${name} (saw ${[...seen]})`);
  }
  await dialog.getByRole("button", { name: "Close" }).focus();
  await page.keyboard.press("Shift+Tab");
  assert.equal((await focused(page)).name, "Privacy policy", "Shift+Tab from the first control wraps to the last");
  await page.keyboard.press("Tab");
  assert.equal((await focused(page)).name, "Close", "Tab from the last control wraps to the first");

  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "hidden" });
  await page.getByRole("button", { name: "Get order updates on WhatsApp" }).focus();
  await page.keyboard.press("Enter");
  await dialog.waitFor({ state: "visible" });
  assert.equal((await focused(page)).inDialog, true, "opening moves focus into the dialog");
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "hidden" });
  assert.equal(await page.evaluate(() => document.activeElement?.id), "open-optin", "focus returns to the opener");
  await page.close();
});

for (const [label, viewport] of [["desktop", { width: 1280, height: 800 }], ["phone", { width: 360, height: 640 }]]) {
  test(`every control is at least 24×24 px and inside the viewport (${label})`, async () => {
    const { page } = await openDemo("/", { viewport });
    // Measure once the opening animation (a small translate) has finished.
    await page.evaluate(() => Promise.all(document.querySelector("whatsapp-optin").shadowRoot.getAnimations().map((a) => a.finished)));
    const rects = await page.evaluate(() =>
      [...document.querySelector("whatsapp-optin").shadowRoot.querySelectorAll("button, input, a[href]")].map((e) => {
        const r = e.getBoundingClientRect();
        return { what: e.getAttribute("aria-label") || e.value || e.textContent || e.id, w: r.width, h: r.height, r: r.right, b: r.bottom };
      }),
    );
    assert.equal(rects.length, 9, "close, 5 choices, phone, submit, privacy link");
    for (const { what, w, h, r } of rects) {
      assert.ok(w >= 24 && h >= 24, `${what} is ${w}×${h}`);
      assert.ok(r <= viewport.width, `${what} sticks out of the viewport`);
    }
    await page.close();
  });
}

test("on a hostile page (all: unset, div hidden, z-index 2147483647 cover) the modal shows on top and works", async () => {
  const { page, dialog, errors } = await openDemo("/examples/hostile.html");
  const box = await dialog.boundingBox();
  assert.ok(box.width > 250 && box.height > 250, `dialog is ${box.width}×${box.height}`);
  const submit = dialog.getByRole("button", { name: "Subscribe on WhatsApp" });
  const sb = await submit.boundingBox();
  const hit = await page.evaluate(([x, y]) => document.elementFromPoint(x, y)?.tagName.toLowerCase(), [sb.x + sb.width / 2, sb.y + sb.height / 2]);
  assert.equal(hit, "whatsapp-optin", "the widget, not the page's cover, is under the pointer");
  assert.equal(await dialog.evaluate((d) => getComputedStyle(d).fontFamily.includes("system-ui")), true, "the widget's own font");

  const phone = freshPhone();
  await dialog.getByRole("checkbox", { name: "Appointment reminders" }).click();
  await dialog.getByLabel("WhatsApp number").fill(phone.national);
  await submit.click();
  await dialog.getByRole("status").filter({ hasText: "Thank you!" }).waitFor({ timeout: 15_000 });
  const { body } = await subscriber(phone.e164);
  assert.deepEqual(body.events[0].categories, ["appointment_reminders"]);
  assert.equal(body.events[0].evidence.page_url, page.url());
  assert.match(page.url(), /\/examples\/hostile/);
  assert.deepEqual(errors, []);
  await page.close();
});

test("under the demo's strict CSP the widget renders and submits without a single violation", async () => {
  const page = await browser.newPage();
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const res = await page.goto(`${SHOP}/`);
  assert.equal(res.status(), 200);
  // The shop's own policy: the Worker named in script-src and connect-src, nothing for styles.
  assert.match(res.headers()["content-security-policy"],
    new RegExp(`script-src 'self' ${BASE} 'wasm-unsafe-eval'; connect-src 'self' ${BASE}; style-src 'self'`));
  const dialog = page.getByRole("dialog");
  await dialog.waitFor({ state: "visible", timeout: 15_000 });
  await dialog.getByRole("checkbox", { name: "Delivery", exact: false }).first().check();
  await dialog.getByLabel("WhatsApp number").fill(freshPhone().national);
  await dialog.getByRole("button", { name: "Subscribe on WhatsApp" }).click();
  await dialog.getByRole("status").filter({ hasText: "Thank you!" }).waitFor({ timeout: 15_000 });
  assert.equal(await dialog.evaluate((d) => getComputedStyle(d).borderRadius), "16px", "the constructed stylesheet applied");
  assert.deepEqual(await page.evaluate(() => window.__csp), []);
  await page.close();
});

test("a business name full of markup is shown as text, never run", async () => {
  const page = await browser.newPage();
  const evil = `<img src=x onerror="window.__pwned=1">`;
  // The Worker renders the business name into the served strings; swap it there.
  await page.route("**/v1/sites/demo/config?*", async (route) => {
    const res = await route.fetch();
    const json = await res.json();
    const strings = { ...json.strings, notice: json.strings.notice.replace(json.business_name, evil) };
    route.fulfill({ response: res, json: { ...json, business_name: evil, strings } });
  });
  const dialogs = [];
  page.on("dialog", (d) => { dialogs.push(d.message()); d.dismiss(); });
  await page.goto(`${SHOP}/`);
  const dialog = page.getByRole("dialog");
  await dialog.waitFor({ state: "visible", timeout: 15_000 });
  assert.match(await dialog.locator("#wa-notice").textContent(), /from <img src=x onerror="window.__pwned=1"> on WhatsApp/);
  await sleep(300);
  assert.equal(await page.evaluate(() => document.querySelector("whatsapp-optin").shadowRoot.querySelectorAll("img").length), 0);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  assert.deepEqual(dialogs, []);
  await page.close();
});

test("every declaration in the widget's stylesheets is one Chromium keeps (an invalid one is dropped silently)", async () => {
  // The stylesheets as their sources hold them: the modal's in the loader (a JS
  // string), the checkout's and the chat's in crates/optin-widget/src/style.rs (raw strings).
  const loader = readFileSync(new URL("../../crates/optin-widget/js/loader.js", import.meta.url), "utf8");
  const source = readFileSync(new URL("../../crates/optin-widget/src/style.rs", import.meta.url), "utf8");
  const sheets = [
    ...[...loader.matchAll(/var (CSS) = "([^"]*)";/g)].map((m) => ["modal " + m[1], m[2]]),
    ...[...source.matchAll(/pub const (\w+): &str = r#"([\s\S]*?)"#;/g)].map((m) => [m[1], m[2]]),
  ];
  assert.deepEqual(sheets.map(([name]) => name), ["modal CSS", "CHECKOUT_CSS", "CHAT_CSS"]);
  // Declarations are what sits in an innermost {…} block (rules and keyframes).
  const declarations = (css) =>
    [...css.matchAll(/\{([^{}]*)\}/g)].flatMap((m) => m[1].split(";"))
      .map((d) => d.trim()).filter(Boolean)
      .map((d) => [d.slice(0, d.indexOf(":")).trim(), d.slice(d.indexOf(":") + 1).trim()]);
  const page = await browser.newPage();
  await page.goto(`${BASE}/privacy.html`);
  for (const [name, css] of sheets) {
    const all = declarations(css);
    assert.ok(all.length > 10, `${name}: declarations found`);
    const dropped = await page.evaluate((ds) => ds.filter(([p, v]) => !CSS.supports(p, v)), all);
    assert.deepEqual(dropped, [], `${name}: declarations Chromium drops`);
  }
  // The check catches what it is for: `inherit` cannot sit inside a shorthand.
  assert.equal(await page.evaluate(() => CSS.supports("font", "600 1rem/1 inherit")), false);
  // And the submit button shows the dialog's font, bold, not the browser's button font.
  const { page: demo, dialog } = await openDemo();
  const fonts = await dialog.evaluate((d) => {
    const s = getComputedStyle(d.querySelector(".submit"));
    const box = getComputedStyle(d);
    return { family: s.fontFamily === box.fontFamily, weight: s.fontWeight, size: s.fontSize };
  });
  assert.deepEqual(fonts, { family: true, weight: "600", size: "16px" });
  await demo.close();
  await page.close();
});
