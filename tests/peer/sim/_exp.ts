(globalThis as any).DBG = Deno.env.get("DBG");
import { BlockLayout } from "../../../lib/peer/core/block_layout.ts";
import { DownloadEngine } from "../../../lib/peer/core/download_engine.ts";
import { inFlightBudget } from "../../../lib/peer/core/receive_budget.ts";
import { buildManifest, GeneratedSource } from "./content.ts";
import { drive, SimNetwork, summary } from "./network.ts";
const size = Number(Deno.args[0] ?? 64) * 1024 * 1024;
const pieceSize = 256 * 1024;
const content = new GeneratedSource(size, 7);
const manifest = buildManifest(content, pieceSize);
for (const n of [1, 3]) {
  for (const loss of [0, 0.05, 0.2]) {
    const net = new SimNetwork({ seed: 3 });
    const owners = [];
    for (let i = 0; i < n; i++) {
      net.addOwner(`o${i}`, {
        content,
        loss,
        latencyMs: 0.05,
        jitterMs: 0.02,
        bandwidth: 500_000,
        queueBytes: 200_000,
        mtu: 32784,
      });
      owners.push(`o${i}`);
    }
    const blockSize = BlockLayout.blockSizeFor(pieceSize, 32784, 32768);
    const per = inFlightBudget(blockSize);
    const engine = new DownloadEngine({
      manifest,
      blockSize,
      maxInFlight: per * n,
      maxOwnerInFlight: per,
    });
    const r = drive(engine, net, { owners });
    console.log(n, loss, summary("x", size, r));
  }
}
