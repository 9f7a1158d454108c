// Sequential latency of GETs, URL by URL, in two rounds (each URL warmed with 50
// requests, then 400 timed): `node scripts/latency.mjs URL...`. Used to compare
// one route across differently configured Workers on loopback (BENCHMARKS.md,
// "The config GET"); it sends at most 2 × 450 requests per URL and stops.
const urls = process.argv.slice(2);
if (urls.length === 0) {
  console.error("usage: node scripts/latency.mjs URL...");
  process.exit(2);
}
for (let round = 0; round < 2; round++) {
  for (const u of urls) {
    for (let i = 0; i < 50; i++) await (await fetch(u)).arrayBuffer();
    const t = [];
    for (let i = 0; i < 400; i++) {
      const s = performance.now();
      await (await fetch(u)).arrayBuffer();
      t.push(performance.now() - s);
    }
    t.sort((a, b) => a - b);
    const mean = t.reduce((a, b) => a + b) / t.length;
    console.log(`round ${round} ${u} p50 ${t[200].toFixed(2)} ms, mean ${mean.toFixed(2)} ms`);
  }
}
