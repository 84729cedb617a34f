/**
 * Swarm distribution in the simulator (real tracker, uploader and download cores; virtual clock):
 * 1 seed and N downloaders of one file, every upload limited, downloads unlimited. Prints, per
 * case, the all-done time against the Kumar–Ross bound, the first finisher, the spread, the seed's
 * wire bytes / F, the downloaders' / F, when the seed's link got busy, and each completion time;
 * writes JSON to bench-results/. Figures are virtual time: deterministic for a seed, independent
 * of this machine's load.
 *
 *   deno run -P=test scripts/bench_swarm_sim.ts [--peers 8,32,100] [--size-mib 64] [--quick]
 *     [--only TEXT] [--timeline MS] [--late-announce] [--fragment-mtu 1500] [--mtu BYTES]
 *     [--seed N] [--piece-kib KIB]
 *
 * `--only` keeps the cases whose name contains TEXT; `--timeline` prints each host's upload use
 * per window; `--late-announce` turns off the downloaders' announcement before their first piece
 * (an A/B of `PartialAnnounce`'s `early`). `--fragment-mtu` is the largest IP packet of every
 * upload link (1500, Ethernet, by default, as on the real benchmark's veths: a datagram above it
 * leaves as fragments and is lost with any of them; 0 models whole datagrams); `--mtu` caps the
 * downloads' datagrams (0 probes the path); `--seed` picks the simulator's random seed (default 1;
 * runs are chaotic, so compare a change over two or more seeds); `--piece-kib` is the file's piece
 * size (unless given, the sharer's default for the file's size, `defaultPieceSizeFor`: 64 KiB for
 * 64 MiB).
 *
 * Cases: every upload 40 Mbit/s (5,000 bytes/ms); downloaders' uploads 4× the seed's
 * (swarm-bound); downloaders joining 1 s apart. `--quick` runs N = 8 only (for `deno task bench`).
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { defaultPieceSizeFor } from "../lib/peer/manifest.ts";
import { runSwarm, swarmFile, type SwarmScenarioOptions } from "../lib/sim/swarm_scenario.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    peers: { type: "string", default: "8,32,100" },
    "size-mib": { type: "string", default: "64" },
    quick: { type: "boolean", default: false },
    timeline: { type: "string", default: "0" },
    only: { type: "string", default: "" },
    "late-announce": { type: "boolean", default: false },
    "fragment-mtu": { type: "string", default: "1500" },
    mtu: { type: "string", default: "0" },
    seed: { type: "string", default: "1" },
    "piece-kib": { type: "string", default: "0" },
  },
});
const size = Math.round(Number(values["size-mib"]) * 1024 * 1024);
const pieceSize = Number(values["piece-kib"]) * 1024 || defaultPieceSizeFor(size);
const counts = values.quick ? [8] : values.peers!.split(",").map(Number);
const U = 5000; // 40 Mbit/s in bytes per ms

const cases: { name: string; options: SwarmScenarioOptions }[] = [];
for (const n of counts) {
  cases.push({ name: `N=${n}, equal uploads`, options: { peers: n, size, seedUpload: U } });
}
const n0 = counts[0]!;
cases.push({
  name: `N=${n0}, peers upload 4× the seed`,
  options: { peers: n0, size, seedUpload: U, peerUpload: 4 * U },
});
cases.push({
  name: `N=${n0}, joining 1 s apart`,
  options: { peers: n0, size, seedUpload: U, joinEveryMs: 1000 },
});

if (values["late-announce"]) { for (const c of cases) c.options.announceEarly = false; }
for (const c of cases) {
  c.options.fragmentMtu = Number(values["fragment-mtu"]);
  c.options.seed = Number(values.seed);
  c.options.pieceSize = pieceSize;
  if (Number(values.mtu) > 0) c.options.mtu = Number(values.mtu);
}
const timelineMs = Number(values.timeline);
if (timelineMs > 0) { for (const c of cases) c.options.sampleMs = timelineMs; }
if (values.only) {
  cases.splice(
    0,
    cases.length,
    ...cases.filter((c) => c.name.includes(values.only!)),
  );
}
const file = swarmFile(size, 1, pieceSize);
const rows: Record<string, unknown>[] = [];
const s = (ms: number) => (ms / 1000).toFixed(2);
const pct = (x: number) => `${(100 * x).toFixed(0).padStart(3)} %`;
console.log(
  `swarm simulation, F = ${values["size-mib"]} MiB, pieces of ${
    pieceSize / 1024
  } KiB, seed upload 40 Mbit/s, upload links' MTU ${
    values["fragment-mtu"] === "0" ? "none (whole datagrams)" : values["fragment-mtu"]
  }, seed ${values.seed}\n`,
);
console.log(
  "case                                 | all done | bound  | ×bound | first  | spread | seed B/F | peers B/F | seed busy | exact | real s",
);
for (const c of cases) {
  const t = performance.now();
  const r = runSwarm(c.options, file);
  const real = (performance.now() - t) / 1000;
  console.log(
    [
      c.name.padEnd(36),
      `${s(r.allDoneMs).padStart(7)}s`,
      `${s(r.boundMs).padStart(5)}s`,
      r.ratio.toFixed(2).padStart(6),
      `${s(r.firstMs).padStart(5)}s`,
      `${s(r.spreadMs).padStart(5)}s`,
      r.seedBytesPerFile.toFixed(2).padStart(8),
      r.peerBytesPerFile.toFixed(2).padStart(9),
      `${r.seedBusyAfterMs.toFixed(0).padStart(6)} ms`,
      String(r.exact).padStart(5),
      real.toFixed(1).padStart(6),
    ].join(" | "),
  );
  console.log(
    `  seed util ${pct(r.seedUtil)}, peer util ${pct(r.peerUtil)}, wasted ${
      r.wastedPerFile.toFixed(2)
    } F, queue drops ${r.queueDrops}, fragments wasted ${
      r.fragmentWastePerFile.toFixed(2)
    } F, seed copies ${r.seedCopies.join("/")}`,
  );
  for (const x of r.samples) {
    console.log(
      `    ${s(x.atMs).padStart(6)}s seed ${pct(x.seedUtil)} peers ${
        pct(x.peerUtil)
      } idle ${x.idlePeers}/${x.activePeers} done ${pct(x.done)} owners ${x.owners.toFixed(1)}`,
    );
  }
  rows.push({ case: c.name, ...c.options, ...r, realSeconds: real });
}
console.log("\ncompletion times (s, from each peer's start):");
for (const [i, r] of rows.entries()) {
  const times = (r.completions as number[]).map((x) => (x / 1000).toFixed(1)).join(" ");
  console.log(`  ${cases[i]!.name}: ${times}`);
}
const dir = join(new URL("..", import.meta.url).pathname, "bench-results");
await Deno.mkdir(dir, { recursive: true });
const out = join(dir, `swarm-sim-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
await Deno.writeTextFile(out, JSON.stringify(rows, null, 2));
console.log(`\nwrote ${out}`);
