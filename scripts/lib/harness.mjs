// Shared by the load harness and the API benchmark: child processes in their own
// process group, waiting for a server, a keep-alive HTTP client and percentiles.
import { spawn } from "node:child_process";
import { mkdirSync, openSync, readFileSync, readdirSync, readlinkSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import http from "node:http";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Starts `cmd` with its output appended to target/logs/{logName}. */
export function startProcess(cmd, argv, logName, cwd = ROOT) {
  mkdirSync(join(ROOT, "target/logs"), { recursive: true });
  const out = openSync(join(ROOT, "target/logs", logName), "a");
  // Own process group, so a kill reaches wrangler's workerd child too.
  return spawn(cmd, argv, { cwd, stdio: ["ignore", out, out], detached: true });
}

export function killGroup(child, signal = "SIGTERM") {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    /* already gone */
  }
}

/** Kills `child`'s process group as a crash would (SIGKILL), then `start()`s it again; ms until it is back. */
export async function crashAndRestart(child, start) {
  const gone = new Promise((r) => child.on("exit", r));
  killGroup(child, "SIGKILL");
  await gone;
  const t0 = Date.now();
  await start();
  return Date.now() - t0;
}

export async function waitUp(url, what, ms = 90_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {
      /* not yet */
    }
    await sleep(250);
  }
  throw new Error(`${what} did not come up within ${ms / 1000}s (see target/logs/)`);
}

/** One HTTP request on `agent`; resolves with status, headers and the body as text. */
export function request(agent, url, { method = "GET", headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent, timeout: 30_000 }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString() }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

/**
 * A site for the benchmarks on our Worker at `base`, with limits out of the way (they
 * measure the API, not the limiter) and a business number of its own from `run`;
 * answers a new site API key with scope `read`.
 */
export async function createBenchSite(agent, base, id, run, adminToken) {
  const admin = { authorization: `Bearer ${adminToken}`, "content-type": "application/json" };
  const config = {
    id, business_name: "Toko Acme", allowed_origins: [base], privacy_policy_url: `${base}/privacy.html`,
    default_locale: "en", default_calling_code: 62, categories: ["order_updates", "delivery"], notice_version: 1,
    whatsapp: { phone_number_id: String(300000000000000 + parseInt(run, 16)), template_name: "optin_confirmation", template_languages: ["en"], token_secret: "WA_TOKEN_DEMO" },
    limits: { per_ip_per_minute: 1_000_000, per_phone_per_hour: 10_000, daily_confirmations: 1_000_000, resend_cooldown_hours: 24 },
    // Every confirmation is sent, not held: the burst breaker would hold all after the 50th.
    breaker: { threshold_per_10_min: 100_000 },
  };
  const put = await request(agent, `${base}/admin/sites/${id}`, { method: "PUT", headers: admin, body: JSON.stringify(config) });
  if (put.status !== 200) throw new Error(`PUT site: ${put.status} ${put.text}`);
  const key = await request(agent, `${base}/admin/sites/${id}/keys`, {
    method: "POST", headers: admin, body: JSON.stringify({ name: "bench", scopes: ["read"] }),
  });
  if (key.status !== 201) throw new Error(`POST key: ${key.status} ${key.text}`);
  return JSON.parse(key.text).key;
}

/** The p-th percentile of an ascending array (nearest rank). */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** The median of `xs` (the upper one of an even count), as the widget benchmarks report it. */
export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * The processes serving `port` on loopback: the one listening on it (found in
 * /proc/net/tcp by its socket inode), walked up while its parent is still part of
 * the same `wrangler dev` (node or workerd), then everything under that root.
 * Linux only; answers [] where /proc cannot tell.
 */
export function serverTree(port) {
  const inodes = new Set();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const c = line.trim().split(/\s+/);
      if (c.length > 9 && c[3] === "0A" && parseInt(c[1].split(":").pop(), 16) === port) inodes.add(c[9]);
    }
  }
  const pids = readdirSync("/proc").filter((d) => /^\d+$/.test(d));
  const listener = pids.find((pid) => {
    try {
      return readdirSync(`/proc/${pid}/fd`).some((fd) => {
        const m = /^socket:\[(\d+)\]$/.exec(safeReadlink(`/proc/${pid}/fd/${fd}`));
        return m && inodes.has(m[1]);
      });
    } catch {
      return false;
    }
  });
  if (!listener) return [];
  const parent = new Map(pids.map((pid) => [pid, procStat(pid)?.ppid]));
  const ours = (pid) => /wrangler|workerd/.test(safeRead(`/proc/${pid}/cmdline`));
  let root = listener;
  while (parent.get(root) && ours(parent.get(root))) root = parent.get(root);
  const tree = [root];
  for (let i = 0; i < tree.length; i++) for (const [pid, pp] of parent) if (pp === tree[i]) tree.push(pid);
  return tree;
}

/** CPU seconds (user + system) the processes `pids` have used so far. */
export function cpuSeconds(pids) {
  return pids.reduce((t, pid) => t + (procStat(pid)?.cpu ?? 0), 0) / 100; // USER_HZ is 100 on Linux
}

/** Resident memory (VmRSS) of the processes `pids` now, in bytes. */
export function rssBytes(pids) {
  return pids.reduce((t, pid) => {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(safeRead(`/proc/${pid}/status`));
    return t + (m ? Number(m[1]) * 1024 : 0);
  }, 0);
}

function procStat(pid) {
  const s = safeRead(`/proc/${pid}/stat`);
  const rest = s.slice(s.lastIndexOf(")") + 2).split(" ");
  // Fields after the command name: state is 3rd overall, ppid 4th, utime 14th, stime 15th.
  return rest.length > 12 ? { ppid: rest[1], cpu: Number(rest[11]) + Number(rest[12]) } : null;
}

function safeRead(path) {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

function safeReadlink(path) {
  try {
    return readlinkSync(path);
  } catch {
    return "";
  }
}
