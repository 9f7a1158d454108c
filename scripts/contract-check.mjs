#!/usr/bin/env node
// Fails unless every Cloud API request, answer and webhook the simulator saw
// during the run held to Meta's OpenAPI description (the simulator validates
// each one as it goes; this reads its log). Usage: node scripts/contract-check.mjs [SIM_BASE]
const sim = process.argv[2] ?? process.env.SIM_BASE ?? "http://127.0.0.1:8789";
const res = await fetch(`${sim}/_sim/contract`);
if (res.status !== 200) {
  console.error(`contract check: ${sim}/_sim/contract answered ${res.status}`);
  process.exit(1);
}
const log = await res.json();
if (!log.loaded) {
  console.error(`contract check: the simulator could not load Meta's description: ${log.error}`);
  process.exit(1);
}
const checked = log.checked ?? {};
console.log(`contract check against ${log.spec}: ${JSON.stringify(checked)} (${log.corrections.length} corrections, docs/meta-contract.md)`);
for (const v of log.violations) {
  console.error(`  ${v.direction} #${v.seq}: ${v.schema} at ${v.path} (${v.schema_path}): ${v.message}`);
}
const missing = ["request", "response", "webhook"].filter((d) => !checked[d]);
if (missing.length) console.error(`contract check: nothing of ${missing.join(", ")} was checked`);
const ok = log.violations.length === 0 && missing.length === 0;
console.log(ok ? "contract check: no violation" : `contract check: ${log.violations.length} violation(s)`);
process.exit(ok ? 0 : 1);
