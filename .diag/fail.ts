(globalThis as any).__mtu = Deno.env.get("MTU");
import { runSwarm } from "../lib/sim/swarm_scenario.ts";
const n = Number(Deno.args[0] ?? 100), mib = Number(Deno.args[1] ?? 8);
const t = performance.now();
const r = runSwarm({ peers: n, size: mib * 1024 * 1024, seedUpload: 5000, sampleMs: 1000 });
console.log(n, mib, "real", ((performance.now() - t) / 1000).toFixed(1), "s", "done", r.allDoneMs, "ratio", r.ratio.toFixed(2), "seedB/F", r.seedBytesPerFile.toFixed(2), "failed", r.failed, "drops", r.queueDrops, "wasted", r.wastedPerFile.toFixed(2), "peerUtil", r.peerUtil.toFixed(2));
console.log("copies", r.seedCopies.slice(0, 16).join("/"));
for (const x of r.samples) console.log(x.atMs, x.seedUtil.toFixed(2), x.peerUtil.toFixed(2), x.idlePeers, x.activePeers, x.done.toFixed(2));
console.log(r.errors.slice(0,3));
