// Per-peer state at a few instants of the N-peer swarm
(globalThis as any).__mtu = Deno.env.get("MTU");
import { runSwarm } from "../lib/sim/swarm_scenario.ts";
(globalThis as any).__peek = true;
const n = Number(Deno.args[0] ?? 32);
runSwarm({ peers: n, size: 64 * 1024 * 1024, seedUpload: 5000, sampleMs: 500, maxMs: 4000 });
