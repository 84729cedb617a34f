/**
 * Many random small downloads on random networks, with random misbehaving owners: every run must
 * end with the exact bytes, or (only when no honest owner exists) with every owner dropped —
 * never stuck, never livelocked, never out of its bounds.
 * @module
 */
import assert from "node:assert/strict";
import { BlockLayout } from "../../../lib/peer/core/block_layout.ts";
import { DownloadEngine } from "../../../lib/peer/core/download_engine.ts";
import { ArraySource, buildManifest, randomBytes } from "./content.ts";
import { drive, type DriveReport, SimNetwork, type SimOwnerOptions } from "./network.ts";

const opts = { permissions: "none" } as const;
const RUNS = 40;

/** A tiny seeded generator for the scenario parameters (xorshift32). */
function picker(seed: number) {
  let x = seed * 2654435761 >>> 0 || 1;
  const next = (): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1)),
    of: <T>(items: T[]): T => items[Math.floor(next() * items.length)]!,
  };
}

/**
 * One random scenario: the file, the owners and their faults all follow from `seed`. Throws an
 * AssertionError naming the whole scenario when the run does not end as it must.
 */
export function soak(seed: number): DriveReport {
  const p = picker(seed);
  const pieceSize = p.of([4096, 16 * 1024, 64 * 1024]);
  const size = p.of([0, 1, p.int(1, 5000), p.int(5000, 400 * 1024)]);
  const bytes = randomBytes(size, seed);
  const content = new ArraySource(bytes);
  const manifest = buildManifest(content, pieceSize);
  const net = new SimNetwork({ seed });
  const owners: string[] = [];
  let honest = 0;
  const described: string[] = [];
  for (let i = p.int(1, 4); i > 0; i--) {
    const key = `o${i}`;
    const behaviour = p.of(["honest", "honest", "vanish", "corrupt", "stranger"]);
    const o: SimOwnerOptions = {
      content,
      loss: p.of([0, 0.01, 0.05, 0.2]),
      latencyMs: p.int(1, 40),
      jitterMs: p.of([0, 1, 3]),
      reorder: p.of([0, 0.02, 0.05]),
      duplicate: p.of([0, 0.01, 0.05]),
      bandwidth: p.of([200, 1000, 5000]),
      queueBytes: p.of([Infinity, 16 * 1024, 64 * 1024]),
      mtu: 1200,
    };
    if (behaviour === "vanish") o.vanishAt = p.int(0, 300);
    if (behaviour === "corrupt") o.corrupt = p.of([0.01, 0.2, 1]);
    if (behaviour === "stranger") o.unknownContent = true;
    if (behaviour === "honest") honest++;
    net.addOwner(key, o);
    owners.push(key);
    described.push(
      `${key}: ${behaviour} ${JSON.stringify(o, (k, v) => k === "content" ? undefined : v)}`,
    );
  }
  const pieceCount = Math.ceil(size / pieceSize);
  const verifiedPieces = Array.from({ length: pieceCount }, (_, i) => i).filter(() =>
    p.next() < 0.2
  );
  // Sometimes the driver verifies pieces, "on a worker" that takes a while and borrows the buffer
  const external = p.next() < 0.3;
  const verify = external
    ? { hashes: manifest.pieceHashes, delayMs: p.int(0, 5), transfer: p.next() < 0.5 }
    : undefined;
  if (verify) described.push(`verified by the driver ${JSON.stringify({ ...verify, hashes: 0 })}`);
  const engine = new DownloadEngine({
    manifest,
    blockSize: BlockLayout.blockSizeFor(pieceSize, 1200),
    verifiedPieces,
    stallMs: 1000,
    verifyInWorker: external,
  });
  const output = new Uint8Array(size);
  for (const v of verifiedPieces) {
    output.set(
      bytes.subarray(v * pieceSize, Math.min(size, (v + 1) * pieceSize)),
      v * pieceSize,
    );
  }
  const what = `seed ${seed}, ${size} bytes in pieces of ${pieceSize}, ${described.join("; ")}`;
  const r = drive(engine, net, {
    owners,
    output,
    maxSteps: 500_000,
    maxTimeMs: 600_000,
    ...(verify ? { verify } : {}),
  });
  assert.equal(r.immediateTimeouts, 0, what);
  if (honest > 0) assert.equal(r.outcome, "done", what);
  else assert.ok(r.outcome === "done" || r.outcome === "no_owners", `${r.outcome}: ${what}`);
  if (r.outcome === "done") {
    for (let i = 0; i < size; i++) {
      if (output[i] !== bytes[i]) assert.fail(`byte ${i} differs: ${what}`);
    }
  } else {
    assert.deepEqual(engine.liveOwners, [], what);
    assert.equal(engine.done, false, what);
  }
  return r;
}

Deno.test(
  "DownloadEngine ends every random scenario with the exact bytes or a clear failure",
  opts,
  () => {
    for (let seed = 1; seed <= RUNS; seed++) soak(seed);
  },
);
