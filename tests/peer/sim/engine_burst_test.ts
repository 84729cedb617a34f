/**
 * Loss recovery on a busy host: the downloader is descheduled for whole timeslices, so the
 * datagrams that reach it meanwhile are handled in a burst when it runs again, and its RTT
 * samples jump from a lucky minimum to a timeslice. Reordered originals arriving in such a
 * burst after their blocks were declared lost and asked for again must count as late answers
 * (spurious losses), not as answers to the re-requests: taken for those, each moves RACK's clock
 * to the newest re-request and declares everything still in flight lost, whose late answers do
 * the same (the cascade that made the real-socket test through lossy relays fetch its file 1.5
 * to 2.3 times over under CPU contention).
 * @module
 */
import assert from "node:assert/strict";
import { BlockLayout } from "../../../lib/peer/core/block_layout.ts";
import { DownloadEngine } from "../../../lib/peer/core/download_engine.ts";
import { inFlightBudget } from "../../../lib/peer/core/receive_budget.ts";
import { ArraySource, buildManifest, randomBytes } from "./content.ts";
import { drive, SimNetwork, summary } from "./network.ts";

const opts = { permissions: "none" } as const;
const FIGURES = Deno.args.includes("--figures");
const MiB = 1024 * 1024;
const PIECE = 256 * 1024;

for (const seed of [1, 2, 3]) {
  const name = `DownloadEngine keeps spurious losses bounded on a busy host (seed ${seed})`;
  Deno.test(name, opts, () => {
    const size = 4 * MiB + 333;
    const bytes = randomBytes(size, seed);
    const content = new ArraySource(bytes);
    const net = new SimNetwork({ seed });
    const owners = ["a", "b"];
    // Loopback through lossy relays: 50 µs each way, 5 % loss, 5 % reordered by up to 2 ms,
    // 1 % duplicated, 1452-byte datagrams
    for (const k of owners) {
      net.addOwner(k, {
        content,
        loss: 0.05,
        latencyMs: 0.05,
        jitterMs: 0.02,
        reorder: 0.05,
        reorderMs: 2,
        duplicate: 0.01,
        mtu: 1452,
      });
    }
    const blockSize = BlockLayout.blockSizeFor(PIECE, 1452);
    const perOwner = inFlightBudget(blockSize);
    const engine = new DownloadEngine({
      manifest: buildManifest(content, PIECE),
      blockSize,
      maxInFlight: perOwner * owners.length,
      maxOwnerInFlight: perOwner,
    });
    const output = new Uint8Array(size);
    // Runs 3 ms, descheduled 3 ms (two busy loops beside it on two cores); 5 µs per datagram
    const r = drive(engine, net, {
      owners,
      output,
      rttHintMs: 0.1,
      stall: { periodMs: 6, offMs: 3, processMs: 0.005 },
    });
    if (FIGURES) console.log(summary(name, size, r));
    assert.equal(r.outcome, "done");
    assert.ok(output.every((b, i) => b === bytes[i]), "the exact bytes");
    assert.deepEqual(r.dropped, []);
    const needed = r.net.blocksLost + r.net.blocksUnrequested;
    assert.ok(
      r.engine.retransmits <= 2 * (needed + r.net.reordered) + 20,
      `${r.engine.retransmits} re-requested blocks for ${needed} lost, ${r.net.reordered} reordered`,
    );
    assert.ok(
      r.engine.receivedBytes < 1.3 * size,
      `received ${r.engine.receivedBytes} bytes for ${size}`,
    );
  });
}
