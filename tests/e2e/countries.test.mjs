// Allowed countries (issue #14): a site takes consents only for numbers of the
// calling codes it lists (`allowed_calling_codes`, default: its
// `default_calling_code` alone). The attack it stops: bursts of consents for
// random foreign mobile numbers, each of which would cost the merchant a template
// and land on a stranger's phone. Every loop is bounded in count and time.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, randomInt } from "node:crypto";
import { BASE, SIM, launch, admin, siteConfig, newSite, postIdempotent, eventually, sleep, shopPage, widgetTag, SHOP, pool, table } from "./support.mjs";

const NOTICE =
  "I agree to receive the messages I select below from Toko Acme on WhatsApp. I can stop at any time by replying STOP.";
const consent = (site, phone, headers = {}) =>
  postIdempotent(`${BASE}/v1/sites/${site}/consents`, {
    headers: { "content-type": "application/json", origin: SHOP, ...headers },
    body: JSON.stringify({ phone, categories: ["delivery"], locale: "en", notice_version: 1, notice_text: NOTICE, surface: "modal" }),
  });
const digits = (n) => Array.from({ length: n }, () => randomInt(10)).join("");
/** Random mobile numbers as the attack used them, each valid for its country. */
const MOBILE = {
  880: () => `+8801${randomInt(3, 10)}${digits(8)}`, // Bangladesh: 01[3-9] + 8
  234: () => `+234${["803", "806", "813", "703", "906"][randomInt(5)]}${digits(7)}`, // Nigeria
  964: () => `+9647${randomInt(5, 10)}${digits(8)}`, // Iraq: 07[5-9] + 8
  62: () => `+62812${digits(8)}`, // Indonesia
};
const codeOf = (phone) => Object.keys(MOBILE).find((cc) => phone.startsWith(`+${cc}`));

const allMessages = async () => (await (await fetch(`${SIM}/_sim/messages`)).json()).messages;
/** The simulator's `to` is as sent (digits, maybe a `+`): compare digits. */
const bare = (to) => String(to ?? "").replace(/^\+/, "");

test("pumping from abroad: 500 consents from 50 rotating IPs for random +880/+234/+964/+62 mobiles on an Indonesian site: every foreign one is refused with 422 country-not-allowed, and no template leaves for a foreign number", { timeout: 180_000 }, async () => {
  // The site's customers are Indonesian: default_calling_code 62, no list (so [62]), default limits.
  const site = await newSite("cc");
  const config = await (await fetch(`${BASE}/v1/sites/${site}/config`)).json();
  assert.equal(config.default_calling_code, 62);
  const codes = Object.keys(MOBILE);
  const shots = Array.from({ length: 500 }, (_, i) => ({
    ip: `203.0.113.${(i % 50) + 1}`, // 50 client addresses, in turn
    phone: MOBILE[codes[randomInt(codes.length)]](),
  }));
  const t0 = Date.now();
  const answers = await pool(shots, 32, async (s) => {
    const res = await consent(site, s.phone, { "cf-connecting-ip": s.ip });
    return { ...s, cc: codeOf(s.phone), status: res.status, body: await res.json() };
  });
  const seconds = (Date.now() - t0) / 1000;
  const foreign = answers.filter((a) => a.cc !== "62");
  const local = answers.filter((a) => a.cc === "62");
  assert.ok(foreign.length > 300 && local.length > 60, `a mix of countries: ${foreign.length} foreign, ${local.length} +62`);
  for (const a of foreign) {
    assert.equal(a.status, 422, `${a.cc}: ${JSON.stringify(a.body)}`);
    assert.equal(a.body.type, "/problems/country-not-allowed");
    assert.equal(a.body.field, "phone");
    assert.ok(a.body.detail.includes(`+${a.cc}`), `the detail names the calling code: ${a.body.detail}`);
    assert.ok(!a.body.detail.includes(a.phone.slice(1 + a.cc.length)), "and does not echo the number");
  }
  // The +62 ones meet the normal checks and limits only.
  assert.ok(local.every((a) => a.status === 201 || a.status === 429), JSON.stringify(local.filter((a) => a.status !== 201 && a.status !== 429)));
  const admitted = local.filter((a) => a.status === 201);

  // The ledger holds the admitted +62 consents and nothing else.
  const stats = await (await admin(`${site}/stats`)).json();
  assert.deepEqual(stats.events, admitted.length ? [{ kind: "grant", n: admitted.length }] : []);
  await eventually(async () => {
    const st = await (await admin(`${site}/stats`)).json();
    return !st.confirmations.some((c) => c.status === "pending" || c.status === "sending");
  }, 60_000);
  await sleep(1000); // a send that was still on its way
  const messages = await allMessages();
  const ids = new Set(admitted.map((a) => a.body.id));
  const mine = messages.filter((m) => ids.has(m.request?.biz_opaque_callback_data));
  const foreignNumbers = new Set(foreign.map((a) => bare(a.phone)));
  const toForeign = messages.filter((m) => foreignNumbers.has(bare(m.to)));
  assert.equal(toForeign.length, 0, "no template reached any of the foreign numbers");
  assert.equal(mine.filter((m) => !bare(m.to).startsWith("62")).length, 0, "everything this site sent went to +62");
  // The +62 ones beyond the burst breaker's floor are recorded but held (breaker.test.mjs covers release).
  const breaker = await (await admin(`${site}/breaker`)).json();
  assert.equal(mine.length + breaker.held, admitted.length, "one template per admitted +62 consent, or held by the breaker");
  assert.ok(mine.length <= breaker.threshold, `at most the breaker's threshold sent: ${mine.length} of ${breaker.threshold}`);

  const row = (cc) => {
    const of = answers.filter((a) => a.cc === cc);
    const to = new Set(of.map((a) => bare(a.phone)));
    return {
      "calling code": `+${cc}`, posted: of.length,
      "201 recorded": of.filter((a) => a.status === 201).length,
      "422 country-not-allowed": of.filter((a) => a.body?.type === "/problems/country-not-allowed").length,
      "429 limited": of.filter((a) => a.status === 429).length,
      other: of.filter((a) => ![201, 422, 429].includes(a.status)).length,
      "templates sent": messages.filter((m) => to.has(bare(m.to))).length,
      "held (breaker)": cc === "62" ? breaker.held : 0,
    };
  };
  console.log(`\ncountries: ${answers.length} consents from 50 IPs in ${seconds.toFixed(2)} s ` +
    `(${(answers.length / seconds).toFixed(0)}/s) to site ${site} (allowed: +62)\n\n${table(codes.map(row))}\n`);
});

test("a site listing [62, 60] takes a Malaysian number, and still refuses a Nigerian one", async () => {
  const site = await newSite("cc", { allowed_calling_codes: [62, 60] });
  assert.deepEqual((await (await admin(site)).json()).allowed_calling_codes, [62, 60]);
  const my = `+6012${digits(7)}`;
  const res = await consent(site, my);
  assert.equal(res.status, 201, await res.clone().text());
  const id = (await res.json()).id;
  assert.ok(await eventually(async () => (await allMessages()).some((m) => m.request?.biz_opaque_callback_data === id)),
    "the +60 number gets its confirmation");
  const ng = await consent(site, MOBILE[234]());
  assert.equal(ng.status, 422);
  assert.equal((await ng.json()).type, "/problems/country-not-allowed");
  const id62 = await consent(site, "0812 3456 7890"); // typed nationally: the default code
  assert.equal(id62.status, 201);
});

test("PUT refuses an allowed_calling_codes list with an unknown code, more than 50 codes, a duplicate, or without the default code", async () => {
  const known = [1, 7, 20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53, 54, 55, 56, 57, 58,
    60, 61, 62, 63, 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98, 212, 213, 216, 218, 220];
  assert.equal(known.length, 51);
  for (const [list, why] of [
    [[62, 28], "28 is no country's calling code"],
    [[62, 6], "6 is only the first digit of one"],
    [[62, 1000], "longer than any calling code"],
    [known, "51 codes"],
    [[62, 60, 62], "a duplicate"],
    [[60], "the default code (62) is missing"],
    [[], "empty"],
  ]) {
    const id = `cc-${randomBytes(4).toString("hex")}`;
    const res = await admin(id, { method: "PUT", body: JSON.stringify(siteConfig(id, { allowed_calling_codes: list })) });
    const body = await res.json();
    if (list.length === 0) {
      // An empty list is the same as none: the default code alone.
      assert.equal(res.status, 200, `${why}: ${JSON.stringify(body)}`);
      continue;
    }
    assert.equal(res.status, 422, `${why}: ${JSON.stringify(body)}`);
    assert.equal(body.type, "/problems/invalid-site-config", why);
    assert.equal(body.field, "allowed_calling_codes", why);
    assert.equal((await admin(id)).status, 404, `${why}: nothing stored`);
  }
  const fifty = known.slice(0, 50);
  const id = `cc-${randomBytes(4).toString("hex")}`;
  const ok = await admin(id, { method: "PUT", body: JSON.stringify(siteConfig(id, { allowed_calling_codes: fifty })) });
  assert.equal(ok.status, 200, "50 known codes with the default among them are fine");
  assert.deepEqual((await ok.json()).allowed_calling_codes, fifty);
});

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const TEXT = {
  en: { title: "Get updates on WhatsApp", box: "Order confirmations", phone: "WhatsApp number", submit: "Subscribe on WhatsApp",
    country: "Sign-up is not allowed on this site." }, // error_not_allowed: one string for a page or a country the site refuses
  id: { title: "Dapatkan info lewat WhatsApp", box: "Konfirmasi pesanan", phone: "Nomor WhatsApp", submit: "Berlangganan di WhatsApp",
    country: "Pendaftaran tidak diizinkan di situs ini." },
};

test("in the browser, a +234 number on an Indonesian shop is refused in the shopper's language before anything is sent; a Malaysian one on a site that lists +60 goes through", { timeout: 60_000 }, async () => {
  const site = await newSite("cc");
  for (const lang of ["en", "id"]) {
    const t = TEXT[lang];
    const url = await shopPage(`/countries/${site}-${lang}.html`,
      `<!doctype html><html lang="${lang}"><head><meta charset="utf-8"><title>Toko</title>${widgetTag(site)}</head>` +
        "<body><main><h1>Toko</h1></main></body></html>");
    const page = await browser.newPage();
    const posts = [];
    page.on("response", async (r) => {
      if (r.request().method() === "POST" && r.url().endsWith(`/v1/sites/${site}/consents`)) {
        posts.push({ status: r.status(), body: await r.json().catch(() => null) });
      }
    });
    await page.addInitScript(() => {
      window.__errors = [];
      document.addEventListener("whatsapp-optin:error", (e) => window.__errors.push(e.detail));
    });
    await page.goto(url);
    const dialog = page.getByRole("dialog", { name: t.title });
    await dialog.waitFor({ state: "visible", timeout: 15_000 });
    await dialog.getByRole("checkbox", { name: t.box }).check();
    const phone = `+234 803 ${digits(3)} ${digits(4)}`;
    await dialog.getByLabel(t.phone).fill(phone);
    await dialog.getByRole("button", { name: t.submit }).click();
    // What the shopper sees: the sentence, in their language.
    await dialog.getByText(t.country).waitFor({ timeout: 15_000 });
    assert.ok(await dialog.getByRole("status").filter({ hasText: t.country }).isVisible());
    // The widget knows the site's calling codes: nothing was sent at all.
    assert.deepEqual(posts, [], "refused before sending");
    const events = await page.evaluate(() => window.__errors);
    assert.deepEqual(events.map((e) => [e.type, e.status, e.message]), [["/problems/country-not-allowed", 422, t.country]]);
    assert.equal(await dialog.getByRole("checkbox", { name: t.box }).isVisible(), true, "the form stays, to correct the number");
    await page.close();
  }
  const stats = await (await admin(`${site}/stats`)).json();
  assert.deepEqual(stats.events, [], "nothing was recorded");

  // A site serving Indonesia and Malaysia: a +60 number goes through; +234 still stops in the page.
  const two = await newSite("cc", { allowed_calling_codes: [62, 60] });
  const t = TEXT.en;
  const url = await shopPage(`/countries/${two}.html`,
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Toko</title>${widgetTag(two)}</head>` +
      "<body><main><h1>Toko</h1></main></body></html>");
  for (const [phone, sent] of [[`+234 803 ${digits(3)} ${digits(4)}`, false], [`+60 12 ${digits(3)} ${digits(4)}`, true]]) {
    const page = await browser.newPage();
    const posts = [];
    page.on("request", (r) => r.method() === "POST" && r.url().endsWith(`/v1/sites/${two}/consents`) && posts.push(r.url()));
    await page.goto(url);
    const dialog = page.getByRole("dialog", { name: t.title });
    await dialog.waitFor({ state: "visible", timeout: 15_000 });
    await dialog.getByRole("checkbox", { name: t.box }).check();
    await dialog.getByLabel(t.phone).fill(phone);
    await dialog.getByRole("button", { name: t.submit }).click();
    await dialog.getByText(sent ? "Thank you! We sent a confirmation to your WhatsApp." : t.country).waitFor({ timeout: 15_000 });
    assert.equal(posts.length, sent ? 1 : 0, phone);
    await page.close();
  }
  assert.deepEqual((await (await admin(`${two}/stats`)).json()).events, [{ kind: "grant", n: 1 }], "the Malaysian number alone");
});
