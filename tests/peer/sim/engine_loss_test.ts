/**
 * Loss recovery by evidence, not by timers: the download engine at 1, 5, 10, 20 and 30 % random
 * loss in both directions, with reordering and duplication, from 1 and 3 owners, on two kinds of
 * path — one host (sub-ms round trips, 32 KiB blocks, the receive buffer as the bottleneck, as
 * on loopback) and a wide-area link (20 ms round trips, 1200-byte datagrams, 2 MB/s per owner).
 * Each scenario ends with the exact bytes, a goodput of at least a stated share of the same
 * run without loss, a bounded number of probe timeouts (a count, not wall time: an engine that
 * recovers by timers instead of by later arrivals fails here), and retransmissions close to the
 * blocks the network really lost. Run with `-- --figures` to print every scenario's figures.
 * @module
 */
import assert from "node:assert/strict";
import { BlockLayout } from "../../../lib/peer/core/block_layout.ts";
import { DownloadEngine } from "../../../lib/peer/core/download_engine.ts";
import { inFlightBudget } from "../../../lib/peer/core/receive_budget.ts";
import { ArraySource, buildManifest, randomBytes } from "./content.ts";
import { drive, type LinkOptions, SimNetwork, summary } from "./network.ts";

const opts = { permissions: "none" } as const;
const FIGURES = Deno.args.includes("--figures");
const MiB = 1024 * 1024;
const PIECE = 256 * 1024;

interface Path {
  /** File size moved on this path. */
  size: number;
  /** Path MTU (what blocks are sized from). */
  mtu: number;
  /** The round trip a PROBE measured before the transfer, ms. */
  rttHintMs: number;
  link: (loss: number) => LinkOptions;
  /** Least goodput relative to the lossless run, by loss rate, for 1 and for 3 owners. */
  goodput: Record<number, [number, number]>;
}

/** `loss` each way, 1 % of datagrams duplicated, some reordered, on a link of that shape. */
function faults(
  loss: number,
  delay: { latencyMs: number; jitterMs: number; reorder: number; reorderMs: number },
  bandwidth: number,
  mtu: number,
): LinkOptions {
  return { loss, ...delay, duplicate: 0.01, bandwidth, mtu };
}

const PATHS: Record<"host" | "wan", Path> = {
  host: {
    size: 8 * MiB + 777,
    mtu: 32784,
    rttHintMs: 0.1,
    // 50 µs each way, 500 MB/s per owner, a tenth of a ms of reordering
    link: (loss) =>
      faults(
        loss,
        { latencyMs: 0.05, jitterMs: 0.02, reorder: 0.01, reorderMs: 0.2 },
        500_000,
        32784,
      ),
    goodput: {
      0.01: [0.9, 0.9],
      0.05: [0.8, 0.75],
      0.1: [0.65, 0.45],
      0.2: [0.6, 0.45],
      0.3: [0.45, 0.3],
    },
  },
  wan: {
    size: 2 * MiB + 777,
    mtu: 1200,
    rttHintMs: 20,
    link: (loss) =>
      faults(loss, { latencyMs: 10, jitterMs: 1, reorder: 0.02, reorderMs: 20 }, 2000, 1200),
    // Each owner's 2 MB/s carries the lost blocks again: at 30 % data loss 0.7× is the ceiling
    goodput: {
      0.01: [0.85, 0.85],
      0.05: [0.7, 0.7],
      0.1: [0.6, 0.5],
      0.2: [0.45, 0.4],
      0.3: [0.3, 0.3],
    },
  },
};

/** Most probe timeouts a scenario may need, by loss rate. */
const TIMEOUTS: Record<number, number> = { 0: 0, 0.01: 2, 0.05: 3, 0.1: 8, 0.2: 12, 0.3: 25 };

const bytesOf = new Map<number, Uint8Array>();

function runPath(path: Path, owners: number, loss: number) {
  const bytes = bytesOf.get(path.size) ?? randomBytes(path.size, 3);
  bytesOf.set(path.size, bytes);
  const content = new ArraySource(bytes);
  const manifest = buildManifest(content, PIECE);
  const net = new SimNetwork({ seed: 7 });
  const keys: string[] = [];
  for (let i = 0; i < owners; i++) {
    net.addOwner(`owner${i}`, { content, ...path.link(loss) });
    keys.push(`owner${i}`);
  }
  // As DownloadCore sets it up: one receive buffer's worth in flight per owner
  const blockSize = BlockLayout.blockSizeFor(PIECE, path.mtu);
  const perOwner = inFlightBudget(blockSize);
  const engine = new DownloadEngine({
    manifest,
    blockSize,
    maxInFlight: perOwner * owners,
    maxOwnerInFlight: perOwner,
  });
  const output = new Uint8Array(path.size);
  const report = drive(engine, net, { owners: keys, output, rttHintMs: path.rttHintMs });
  return { report, bytes, output };
}

for (const [kind, path] of Object.entries(PATHS)) {
  for (const owners of [1, 3]) {
    const lossless = runPath(path, owners, 0).report;
    for (const loss of [0.01, 0.05, 0.1, 0.2, 0.3]) {
      const name = `DownloadEngine recovers by evidence at ${
        loss * 100
      } % loss each way (${kind}, ${owners === 1 ? "1 owner" : `${owners} owners`})`;
      Deno.test(name, opts, () => {
        const { report: r, bytes, output } = runPath(path, owners, loss);
        if (FIGURES) console.log(summary(name, path.size, r));
        assert.equal(r.outcome, "done");
        assert.ok(output.every((b, i) => b === bytes[i]), "the exact bytes");
        assert.deepEqual(r.dropped, [], "no honest owner is dropped");
        assert.equal(r.immediateTimeouts, 0);
        const share = lossless.timeMs / r.timeMs;
        const least = path.goodput[loss]![owners === 1 ? 0 : 1];
        assert.ok(
          share >= least,
          `goodput ${share.toFixed(2)}× the lossless run's, wanted ≥ ${least}×`,
        );
        assert.ok(
          r.engine.timeouts <= TIMEOUTS[loss]!,
          `${r.engine.timeouts} probe timeouts, at most ${TIMEOUTS[loss]} wanted`,
        );
        // Re-requests answer real losses (blocks and requests), plus the odd reordered datagram
        const needed = r.net.blocksLost + r.net.blocksUnrequested;
        assert.ok(
          r.engine.retransmits <= 1.15 * needed + r.net.reordered + 20,
          `${r.engine.retransmits} re-requested blocks for ${needed} lost`,
        );
      });
    }
  }
}

Deno.test("DownloadEngine's trace shows window, delay and every probe timeout", opts, () => {
  const path = PATHS.host;
  const bytes = randomBytes(2 * MiB, 5);
  const content = new ArraySource(bytes);
  const net = new SimNetwork({ seed: 9 });
  net.addOwner("a", { content, ...path.link(0.2) });
  const blockSize = BlockLayout.blockSizeFor(PIECE, path.mtu);
  const records: { kind: string; t: number; [k: string]: unknown }[] = [];
  const engine = new DownloadEngine({
    manifest: buildManifest(content, PIECE),
    blockSize,
    maxInFlight: inFlightBudget(blockSize),
    trace: (r) => records.push({ ...r }),
    traceIntervalMs: 1,
  });
  const r = drive(engine, net, { owners: ["a"], rttHintMs: path.rttHintMs });
  assert.equal(r.outcome, "done");
  const samples = records.filter((x) => x.kind === "owner");
  assert.ok(samples.length >= 5, `${samples.length} samples`);
  for (const s of samples) {
    for (const k of ["cwnd", "inFlight", "srttMs", "queueMs", "lostBlocks", "timeouts"]) {
      assert.equal(typeof s[k], "number", `${k} in ${JSON.stringify(s)}`);
    }
  }
  const last = samples[samples.length - 1]!;
  assert.ok((last.lostBlocks as number) > 0, "losses are counted");
  assert.equal(records.filter((x) => x.kind === "pto").length, r.engine.timeouts);
  // Random loss leaves the window alone: it never drops to the minimum
  assert.ok(samples.every((s) => (s.cwnd as number) > blockSize), "the window held");
  const times = records.map((x) => x.t);
  assert.deepEqual(times, [...times].sort((a, b) => a - b), "in time order");
});
