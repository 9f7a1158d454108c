// Baseline Worker for scripts/bench-api.mjs. Same routes and shapes as ours, none
// of the work: GET config answers a constant; POST consents stores the raw body as
// one row in a per-site SQLite Durable Object (no validation, no chain, no outbox);
// GET export dumps the rows as NDJSON; GET permissions/{phone} reads one row by key
// in the Durable Object and answers it. What ours costs above this is our code.
import { DurableObject } from "cloudflare:workers";

const CONFIG = JSON.stringify({
  id: "bench",
  business_name: "Toko Acme",
  privacy_policy_url: "https://example.test/privacy",
  default_locale: "en",
  categories: ["order_updates", "delivery", "marketing"],
  notice_version: 1,
  surfaces: { modal: true, checkout: true, chat: true },
});

export class Rows extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS rows (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, body TEXT NOT NULL, ts INTEGER NOT NULL)",
    );
  }

  async fetch(req) {
    const url = new URL(req.url);
    if (url.pathname.includes("/permissions/")) {
      const row = this.ctx.storage.sql.exec("SELECT seq, ts FROM rows WHERE seq = ?", 1).toArray()[0] ?? null;
      return Response.json({ phone: url.pathname.split("/").pop(), may_send: row !== null });
    }
    if (req.method === "POST") {
      const id = crypto.randomUUID();
      this.ctx.storage.sql.exec("INSERT INTO rows (id, body, ts) VALUES (?, ?, ?)", id, await req.text(), Date.now());
      return Response.json({ id }, { status: 201 });
    }
    const lines = [];
    for (const row of this.ctx.storage.sql.exec("SELECT seq, id, body, ts FROM rows ORDER BY seq")) {
      lines.push(JSON.stringify(row));
    }
    return new Response(lines.join("\n") + "\n", { headers: { "content-type": "application/x-ndjson" } });
  }
}

export default {
  async fetch(req, env) {
    const [, v, sites, site, what] = new URL(req.url).pathname.split("/");
    if (what === "config" && req.method === "GET") {
      return new Response(CONFIG, { headers: { "content-type": "application/json", "access-control-allow-origin": "*" } });
    }
    const stub = env.ROWS.get(env.ROWS.idFromName(site ?? ""));
    if (what === "consents" && req.method === "POST") return stub.fetch(req);
    if (v === "admin" && what === "export") return stub.fetch(req.url);
    if (what === "permissions" && req.method === "GET") return stub.fetch(req.url);
    return new Response("not found", { status: 404 });
  },
};
