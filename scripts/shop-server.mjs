#!/usr/bin/env node
// A plain static web server for merchant pages, on an origin of its own: the
// place a merchant's shop would be, apart from the Worker that serves the widget.
//
//   node scripts/shop-server.mjs --port 8791 --root www/shop --worker http://127.0.0.1:8787 [--pages]
//
// It serves files from --root as any static host would, with two substitutions in
// .html/.js/.css files: %WORKER% becomes the Worker's origin (so a page carries the
// README's tag pointing at it) and %NONCE% a fresh nonce per response (for pages
// with a nonce CSP). Response headers per path come from <root>/_headers.json
// ({"/path": {...}, "/dir/*": {...}}; values get the same substitutions).
// --pages (tests only) also takes `PUT /_pages/<path>` with {"body", "headers"}:
// a page a test writes for itself, served from then on like a file; a path
// ending in `*` serves every path it prefixes (the longest such prefix wins).
// It listens on loopback only: 127.0.0.1, and ::1 when the machine has it, so
// http://localhost:<port>/ is a second host name for the same pages.
import { createServer } from "node:http";
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { existsSync, readFileSync } from "node:fs";
import { extname, join, normalize, resolve } from "node:path";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const PORT = Number(arg("port", "8791"));
const ROOT = resolve(arg("root", "www/shop"));
const WORKER = arg("worker", "http://127.0.0.1:8787");
const PAGES = process.argv.includes("--pages");
const MAX_PAGE = 256 * 1024;

const TYPES = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8", ".json": "application/json", ".svg": "image/svg+xml",
  ".png": "image/png", ".ico": "image/x-icon", ".txt": "text/plain; charset=utf-8",
};
const TEXT = new Set([".html", ".js", ".css"]);
const headerRules = existsSync(join(ROOT, "_headers.json"))
  ? JSON.parse(readFileSync(join(ROOT, "_headers.json"), "utf8"))
  : {};
/** Pages written by tests (`PUT /_pages/…`), by path. */
const written = new Map();

const fill = (text, nonce) => text.replaceAll("%WORKER%", WORKER).replaceAll("%NONCE%", nonce);

function headersFor(path, nonce) {
  const out = {};
  for (const [pattern, headers] of Object.entries(headerRules)) {
    const hit = pattern.endsWith("*") ? path.startsWith(pattern.slice(0, -1)) : path === pattern;
    if (hit) for (const [k, v] of Object.entries(headers)) out[k] = fill(v, nonce);
  }
  return out;
}

async function putPage(req, res, path) {
  let size = 0;
  const chunks = [];
  for await (const c of req) {
    size += c.length;
    if (size > MAX_PAGE) return send(res, 413, "text/plain", "page too large");
    chunks.push(c);
  }
  let page;
  try {
    page = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    return send(res, 400, "text/plain", "body must be JSON {body, headers}");
  }
  if (typeof page.body !== "string") return send(res, 400, "text/plain", "body must be a string");
  written.set(path, { body: page.body, headers: page.headers ?? {}, type: page.type });
  send(res, 204);
}

function writtenPrefix(path) {
  let best = null;
  for (const [key, page] of written) {
    if (key.endsWith("*") && path.startsWith(key.slice(0, -1)) && (!best || key.length > best[0].length)) {
      best = [key, page];
    }
  }
  return best?.[1];
}

function send(res, status, type, body, headers = {}) {
  res.writeHead(status, { ...(type ? { "content-type": type } : {}), "cache-control": "no-store", ...headers });
  res.end(body);
}

async function serve(req, res) {
  const url = new URL(req.url, "http://shop");
  const nonce = randomBytes(12).toString("base64");
  if (PAGES && url.pathname.startsWith("/_pages/")) {
    if (req.method !== "PUT") return send(res, 405, "text/plain", "PUT only", { allow: "PUT" });
    return putPage(req, res, url.pathname.slice("/_pages".length));
  }
  if (req.method !== "GET" && req.method !== "HEAD") {
    return send(res, 405, "text/plain", "GET only", { allow: "GET, HEAD" });
  }
  let path = decodeURIComponent(url.pathname);
  const page = written.get(path) ?? writtenPrefix(path);
  if (page) {
    const type = page.type ?? TYPES[extname(path)] ?? TYPES[".html"];
    if (req.method === "HEAD") return send(res, 200, type, undefined, page.headers);
    return send(res, 200, type, fill(page.body, nonce), Object.fromEntries(
      Object.entries(page.headers).map(([k, v]) => [k, fill(String(v), nonce)])));
  }
  if (path.endsWith("/")) path += "index.html";
  const file = normalize(join(ROOT, path));
  if (!file.startsWith(ROOT + "/") || path.includes("_headers.json")) {
    return send(res, 404, "text/plain", "not found");
  }
  let bytes;
  try {
    bytes = await readFile(file);
  } catch {
    return send(res, 404, "text/plain", "not found");
  }
  const ext = extname(file);
  const body = TEXT.has(ext) ? fill(bytes.toString("utf8"), nonce) : bytes;
  send(res, 200, TYPES[ext] ?? "application/octet-stream", req.method === "HEAD" ? undefined : body,
    headersFor(path, nonce));
}

const handler = (req, res) =>
  serve(req, res).catch((e) => {
    if (!res.headersSent) send(res, 500, "text/plain", String(e));
    else res.destroy();
  });

createServer(handler).listen(PORT, "127.0.0.1", () =>
  console.log(`shop: ${ROOT} on http://127.0.0.1:${PORT}/ (widget from ${WORKER})`));
// localhost may resolve to ::1 first; without IPv6 loopback, 127.0.0.1 alone serves it.
createServer(handler).on("error", () => {}).listen(PORT, "::1");
