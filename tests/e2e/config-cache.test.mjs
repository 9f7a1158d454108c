// The public config GET is answered from the isolate's cache (crates/optin-worker/
// entry.mjs) without entering wasm: what a merchant changes must still show at
// once, compressed or not, in every locale, and a miss must never be remembered.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { BASE, admin, siteConfig, newSite } from "./support.mjs";

/** The config as a browser asking for gzip gets it, with its headers and raw bytes. */
async function configGzip(site, query = "") {
  // node's fetch would inflate silently; a raw request shows what went over the wire.
  const { request } = await import("node:http");
  const url = new URL(`${BASE}/v1/sites/${site}/config${query}`);
  return new Promise((resolve, reject) => {
    request(url, { headers: { "accept-encoding": "gzip" } }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, bytes: Buffer.concat(chunks) }));
    }).on("error", reject).end();
  });
}

const configPlain = (site, query = "") =>
  fetch(`${BASE}/v1/sites/${site}/config${query}`, { headers: { "accept-encoding": "identity" } });

test("a PUT of the config shows in the very next GET, gzip and plain, after it was cached", async () => {
  const site = await newSite("cc");
  for (let i = 0; i < 3; i++) await (await configPlain(site)).text(); // cached by now
  const first = await configGzip(site);
  assert.equal(first.status, 200);
  assert.equal(first.headers["content-encoding"], "gzip");
  assert.equal(JSON.parse(gunzipSync(first.bytes)).business_name, "Toko Acme");

  const put = await admin(site, { method: "PUT", body: JSON.stringify(siteConfig(site, { business_name: "Toko Baru" })) });
  assert.equal(put.status, 200, await put.text());

  const gz = await configGzip(site);
  assert.equal(JSON.parse(gunzipSync(gz.bytes)).business_name, "Toko Baru", "gzip answer after the PUT");
  const plain = await configPlain(site);
  assert.equal(plain.headers.get("content-encoding"), null);
  assert.equal((await plain.json()).business_name, "Toko Baru", "plain answer after the PUT");
});

test("gzip and plain answers carry the same body and headers, and no internal header", async () => {
  const site = await newSite("cc");
  await (await configPlain(site)).text();
  const gz = await configGzip(site);
  const plain = await configPlain(site);
  assert.equal(gunzipSync(gz.bytes).toString("utf8"), await plain.text());
  for (const h of [gz.headers, Object.fromEntries(plain.headers)]) {
    assert.equal(h["access-control-allow-origin"], "*");
    assert.equal(h["cache-control"], "public, max-age=60");
    assert.equal(h["content-type"], "application/json");
    assert.match(h["vary"] ?? "", /Accept-Encoding/i);
    assert.equal(h["x-isolate-cache-ms"], undefined, "the cache's own header never leaves the Worker");
  }
});

test("each locale keeps its own answer", async () => {
  const site = await newSite("cc");
  const titles = new Map();
  for (let round = 0; round < 2; round++) {
    for (const locale of ["en", "tr", "pt-BR"]) {
      const body = await (await configPlain(site, `?locale=${locale}`)).json();
      assert.equal(body.locale, locale, `round ${round}: asked ${locale}`);
      if (round === 0) titles.set(locale, body.strings.title);
      else assert.equal(body.strings.title, titles.get(locale));
    }
  }
  assert.equal(new Set(titles.values()).size, 3, "three locales, three titles");
});

test("an unknown site is not remembered: created after a 404, its config answers at once", async () => {
  const site = `cc-${randomBytes(4).toString("hex")}`;
  for (let i = 0; i < 2; i++) {
    const res = await configPlain(site);
    assert.equal(res.status, 404);
    assert.equal(res.headers.get("content-type"), "application/problem+json");
  }
  const put = await admin(site, { method: "PUT", body: JSON.stringify(siteConfig(site)) });
  assert.equal(put.status, 200, await put.text());
  const res = await configPlain(site);
  assert.equal(res.status, 200);
  assert.equal((await res.json()).site, site);
});

test("a refused PUT leaves the cached config as it was", async () => {
  const site = await newSite("cc");
  await (await configPlain(site)).text();
  const bad = await admin(site, { method: "PUT", body: JSON.stringify({ ...siteConfig(site), business_name: "" }) });
  assert.equal(bad.status, 422, await bad.text());
  assert.equal((await (await configPlain(site)).json()).business_name, "Toko Acme");
});

test("the per-site script is kept per browser language, shows a PUT at once, and an unknown site is not remembered", async () => {
  const site = await newSite("cc");
  const script = (lang) =>
    fetch(`${BASE}/v1/sites/${site}/widget.js`, { headers: { "accept-language": lang, "accept-encoding": "identity" } });
  const carried = async (lang) => {
    const res = await script(lang);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-isolate-cache-ms"), null, "the cache's own header never leaves the Worker");
    const body = await res.text();
    const m = /^\(document\.currentScript\|\|\{\}\)\.whatsappOptInConfig=\{"asked":"([^"]*)","config":(.*)\};\n/.exec(body);
    assert.ok(m, body.slice(0, 100));
    return { asked: m[1], config: JSON.parse(m[2]) };
  };
  for (let round = 0; round < 2; round++) {
    assert.equal((await carried("tr-TR,tr;q=0.9")).config.locale, "tr", `round ${round}`);
    assert.equal((await carried("da,en;q=0.5")).config.locale, "da", `round ${round}`);
  }
  const put = await admin(site, { method: "PUT", body: JSON.stringify(siteConfig(site, { business_name: "Toko Baru" })) });
  assert.equal(put.status, 200, await put.text());
  assert.equal((await carried("tr-TR,tr;q=0.9")).config.business_name, "Toko Baru", "after the PUT");

  const unknown = `cc-${randomBytes(4).toString("hex")}`;
  const loaderOnly = await (await fetch(`${BASE}/v1/sites/${unknown}/widget.js`, { headers: { "accept-language": "en" } })).text();
  assert.ok(!loaderOnly.startsWith("(document.currentScript"), "no config for an unknown site");
  const created = await admin(unknown, { method: "PUT", body: JSON.stringify(siteConfig(unknown)) });
  assert.ok([200, 201].includes(created.status), await created.text());
  const now = await (await fetch(`${BASE}/v1/sites/${unknown}/widget.js`, { headers: { "accept-language": "en" } })).text();
  assert.ok(now.startsWith('(document.currentScript||{}).whatsappOptInConfig={"asked":"en"'), "created: its config at once");
});
