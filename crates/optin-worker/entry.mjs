// The Worker's entry: the Rust Worker (`build/index.js`, made by worker-build)
// behind one answer cache for the public config GET and the per-site script (the
// loader with that config inside), one of which every page view sends. The Rust Worker decides what may be repeated and for how long (the
// `X-Isolate-Cache-Ms` header it sets on a config answer: the time its own copy
// of the site's config stays current in this isolate), so a repeat is never
// staler than the Rust cache would answer; this file only saves the trip into
// wasm, which costs a config GET most of its time (BENCHMARKS.md, "The config
// GET without the trip into wasm"). A `PUT` of a site's config through this
// isolate drops that site's answers, as the Rust cache drops its copy.
import RustWorker from "./build/index.js";

export { SiteLedger } from "./build/index.js";

const MARK = "x-isolate-cache-ms";
const CONFIG = /^\/v1\/sites\/([^/]+)\/config$/;
const SCRIPT = /^\/v1\/sites\/([^/]+)\/widget\.js$/;
const SITE = /^\/admin\/sites\/([^/]+)$/;
// Answers kept per isolate; beyond this the cache starts again.
const MAX_ANSWERS = 2048;

/** @type {Map<string, {site: string, until: number, body: string, gzip: ArrayBuffer, headers: [string, string][]}>} */
const answers = new Map();

export default class Edge extends RustWorker {
  async fetch(request) {
    const url = new URL(request.url);
    if (request.method === "GET") {
      const site = (CONFIG.exec(url.pathname) ?? SCRIPT.exec(url.pathname))?.[1];
      if (site !== undefined) return this.config(request, url, site);
    } else if (request.method === "PUT") {
      const site = SITE.exec(url.pathname)?.[1];
      if (site !== undefined) {
        // After the write, so no answer read while it ran outlives it.
        const response = await super.fetch(request);
        forget(site);
        return response;
      }
    }
    return super.fetch(request);
  }

  async config(request, url, site) {
    // The per-site script varies by the browser's languages (the Rust Worker picks
    // the config's locale from them): kept per header value.
    const languages = SCRIPT.test(url.pathname) ? `|${request.headers.get("accept-language") ?? ""}` : "";
    const key = url.pathname + url.search + languages;
    const kept = answers.get(key);
    if (kept !== undefined && Date.now() < kept.until) return repeat(kept, request);
    const response = await super.fetch(request);
    const ms = Number(response.headers.get(MARK));
    if (response.status !== 200 || !(ms > 0)) return response;
    const headers = [...response.headers].filter(([name]) => name !== MARK);
    headers.push(["vary", "Accept-Encoding"]);
    const body = await response.text();
    const gzip = await new Response(
      new Blob([body]).stream().pipeThrough(new CompressionStream("gzip")),
    ).arrayBuffer();
    if (answers.size >= MAX_ANSWERS) answers.clear();
    answers.set(key, { site, until: Date.now() + ms, body, gzip, headers });
    return new Response(body, { headers });
  }
}

// A kept answer, compressed once: workerd would otherwise gzip the same body
// again for every request that accepts it.
function repeat(kept, request) {
  if (!/\bgzip\b/.test(request.headers.get("accept-encoding") ?? "")) {
    return new Response(kept.body, { headers: kept.headers });
  }
  return new Response(kept.gzip, {
    headers: [...kept.headers, ["content-encoding", "gzip"]],
    encodeBody: "manual",
  });
}

function forget(site) {
  for (const [key, kept] of answers) if (kept.site === site) answers.delete(key);
}
