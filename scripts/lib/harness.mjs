// Shared by the load harness and the API benchmark: child processes in their own
// process group, waiting for a server, a keep-alive HTTP client and percentiles.
import { spawn } from "node:child_process";
import { mkdirSync, openSync } from "node:fs";
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

/** The p-th percentile of an ascending array (nearest rank). */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** The median of `xs` (the upper one of an even count), as the widget benchmarks report it. */
export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
