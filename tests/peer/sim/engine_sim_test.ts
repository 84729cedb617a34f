/**
 * The download engine against a simulated network: each test is a short story that ends with the
 * exact bytes, or with a clear failure when no honest owner is left. Run with `-- --figures` to
 * print the virtual-time figures of every scenario.
 * @module
 */
import assert from "node:assert/strict";
import { BlockLayout } from "../../../lib/peer/core/block_layout.ts";
import {
  DownloadEngine,
  type DownloadEngineOptions,
} from "../../../lib/peer/core/download_engine.ts";
import { BLOCK_DATA_HEADER_SIZE } from "../../../lib/wire/limits.ts";
import {
  ArraySource,
  buildManifest,
  type ContentSource,
  generatedByte,
  GeneratedSource,
  randomBytes,
} from "./content.ts";
import {
  drive,
  type DriveOptions,
  type DriveReport,
  SimNetwork,
  type SimOwnerOptions,
  summary,
} from "./network.ts";

const opts = { permissions: "none" } as const;
const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const FIGURES = Deno.args.includes("--figures");
/** The path MTU of every link, and what block sizes are derived from. */
const MTU = 1200;
/** Upload rate of a normal owner: 2 MB/s (bytes per virtual ms). */
const BW = 2000;

/** An owner's link and behaviour; its content defaults to the file. */
type OwnerSetup = Omit<SimOwnerOptions, "content"> & { content?: ContentSource };

/**
 * A wide-area link: 10 ms each way plus up to 1 ms of jitter, 2 % of datagrams held back by up
 * to 20 ms (reordered), 1 % duplicated, 2 MB/s upload, a 1200-byte MTU, and `loss` each way.
 */
function wan(loss: number, extra: OwnerSetup = {}): OwnerSetup {
  return {
    loss,
    latencyMs: 10,
    jitterMs: 1,
    reorder: 0.02,
    reorderMs: 20,
    duplicate: 0.01,
    bandwidth: BW,
    mtu: MTU,
    ...extra,
  };
}

interface Setup {
  seed: number;
  size: number;
  /** @default 64 KiB */
  pieceSize?: number;
  /** Every owner the network knows; the ones in `drive.reserve` / `drive.joins` start later. */
  owners: Record<string, OwnerSetup>;
  engine?: Partial<DownloadEngineOptions>;
  drive?: Partial<DriveOptions>;
  /** The file's content. @default seeded random bytes */
  content?: ContentSource;
  /** Manifest hashes only for these pieces. @default all */
  hashed?: number[];
}

interface Outcome {
  report: DriveReport;
  engine: DownloadEngine;
  net: SimNetwork;
  bytes: Uint8Array | undefined;
  output: Uint8Array | undefined;
  blockSize: number;
}

/** Builds the file, the network and the engine, drives it, and checks the driver's invariants. */
function run(name: string, s: Setup): Outcome {
  const pieceSize = s.pieceSize ?? 64 * KiB;
  const bytes = s.content instanceof ArraySource
    ? s.content.bytes
    : s.content
    ? undefined
    : randomBytes(s.size, s.seed);
  const content = s.content ?? new ArraySource(bytes!);
  const manifest = buildManifest(content, pieceSize, s.hashed);
  const net = new SimNetwork({ seed: s.seed });
  for (const [key, o] of Object.entries(s.owners)) net.addOwner(key, { content, ...o });
  const blockSize = BlockLayout.blockSizeFor(pieceSize, MTU);
  const engine = new DownloadEngine({ manifest, blockSize, ...s.engine });
  const output = bytes ? new Uint8Array(s.size) : undefined;
  // Resumed pieces are already on disk
  if (output && bytes) {
    for (const p of s.engine?.verifiedPieces ?? []) {
      const at = p * pieceSize;
      output.set(bytes.subarray(at, Math.min(s.size, at + pieceSize)), at);
    }
  }
  const later = new Set([
    ...(s.drive?.reserve ?? []),
    ...(s.drive?.joins ?? []).map((j) => j.owner),
  ]);
  const report = drive(engine, net, {
    owners: Object.keys(s.owners).filter((k) => !later.has(k)),
    ...(output ? { output } : {}),
    ...s.drive,
  });
  if (FIGURES) console.log(summary(name, s.size, report));
  assert.equal(report.immediateTimeouts, 0, "pollTimeout() returned a deadline already handled");
  assert.equal(report.net.mtuDrops, 0, "blocks must fit the path MTU");
  return { report, engine, net, bytes, output, blockSize };
}

function assertExactBytes(actual: Uint8Array | undefined, expected: Uint8Array | undefined): void {
  assert.ok(actual && expected);
  assert.equal(actual.byteLength, expected.byteLength);
  for (let i = 0; i < expected.byteLength; i++) {
    if (actual[i] !== expected[i]) assert.fail(`Output differs from the source at byte ${i}`);
  }
}

/** Virtual ms to move `size` bytes (plus headers) at `bandwidth` B/ms with `loss` of the data. */
function idealMs(size: number, blockSize: number, bandwidth: number, loss = 0): number {
  const wire = size * (blockSize + BLOCK_DATA_HEADER_SIZE) / blockSize;
  return wire / bandwidth / (1 - loss);
}

/** Blocks that had to be requested again because they or their request were lost. */
function necessaryRetransmits(r: DriveReport): number {
  return r.net.blocksLost + r.net.blocksUnrequested;
}

// ---- loss, reordering, duplication, latency ----

const LOSS_BOUNDS: Record<number, { time: number; timeouts: number }> = {
  0: { time: 1.25, timeouts: 2 },
  0.05: { time: 1.5, timeouts: 4 },
  0.2: { time: 2.5, timeouts: 12 },
};

for (const n of [1, 3]) {
  for (const loss of [0, 0.05, 0.2]) {
    const name = `DownloadEngine completes from ${n} owner${n > 1 ? "s" : ""} at ${
      loss * 100
    } % loss with reordering, duplication and latency`;
    Deno.test(name, opts, () => {
      const size = 4 * MiB + 777;
      const owners: Record<string, OwnerSetup> = {};
      for (let i = 0; i < n; i++) owners[`owner${i}`] = wan(loss);
      const { report: r, bytes, output, blockSize } = run(name, { seed: 11 + n, size, owners });

      assert.equal(r.outcome, "done");
      assertExactBytes(output, bytes);
      assert.deepEqual(r.dropped, [], "no honest owner is dropped");
      const bound = LOSS_BOUNDS[loss]!;
      const ideal = idealMs(size, blockSize, n * BW, loss);
      assert.ok(
        r.timeMs <= bound.time * ideal + 100,
        `took ${r.timeMs.toFixed(0)} ms, ideal ${ideal.toFixed(0)} ms`,
      );
      // Every retransmit answers a real loss, but for a few datagrams the network held back
      const needed = necessaryRetransmits(r);
      assert.ok(
        r.engine.retransmits <= 1.05 * needed + r.net.reordered + 20,
        `${r.engine.retransmits} retransmits for ${needed} lost blocks`,
      );
      assert.ok(r.engine.timeouts <= bound.timeouts, `${r.engine.timeouts} timeouts`);
      const blocks = Math.ceil(size / blockSize);
      assert.ok(r.engine.duplicateBlocks <= 0.1 * blocks, `${r.engine.duplicateBlocks} duplicates`);
    });
  }
}

Deno.test(
  "DownloadEngine recovers lost requests from the answers to later ones, not by timeouts",
  opts,
  () => {
    // Every fifth block request is lost, no data is: each lost request's blocks are declared lost
    // once blocks requested after them arrive (RACK), about one RTT later
    const size = 4 * MiB;
    const { report: r, bytes, output, blockSize } = run("lost requests", {
      seed: 15,
      size,
      owners: { a: wan(0, { requestLoss: 0.2, dataLoss: 0, reorder: 0, duplicate: 0 }) },
    });
    assert.equal(r.outcome, "done");
    assertExactBytes(output, bytes);
    assert.ok(r.net.blocksUnrequested > 500);
    assert.ok(
      r.engine.retransmits <= 1.05 * r.net.blocksUnrequested + 20,
      `${r.engine.retransmits} retransmits for ${r.net.blocksUnrequested} blocks never sent`,
    );
    assert.ok(r.engine.timeouts <= 2, `${r.engine.timeouts} timeouts`);
    const ideal = idealMs(size, blockSize, BW);
    assert.ok(
      r.timeMs <= 1.35 * ideal,
      `took ${r.timeMs.toFixed(0)} ms, ideal ${ideal.toFixed(0)}`,
    );
  },
);

Deno.test("DownloadEngine learns to tolerate a reordering path", opts, () => {
  // No loss, but a tenth of all datagrams arrive up to 30 ms late (more than an RTT)
  const size = 4 * MiB;
  const { report: r, bytes, output, blockSize } = run("reordering path", {
    seed: 16,
    size,
    owners: { a: wan(0, { reorder: 0.1, reorderMs: 30, duplicate: 0 }) },
  });
  assert.equal(r.outcome, "done");
  assertExactBytes(output, bytes);
  const blocks = Math.ceil(size / blockSize);
  // Without adapting, most held-back blocks would be re-requested (~ r.net.reordered)
  assert.ok(r.net.reordered > 400);
  assert.ok(r.engine.retransmits <= 0.03 * blocks, `${r.engine.retransmits} retransmits`);
  const ideal = idealMs(size, blockSize, BW);
  assert.ok(r.timeMs <= 1.2 * ideal, `took ${r.timeMs.toFixed(0)} ms, ideal ${ideal.toFixed(0)}`);
});

Deno.test("DownloadEngine keeps an owner's upload queue short", opts, async (t) => {
  const size = 4 * MiB;
  const clean = { latencyMs: 5, jitterMs: 0.5, bandwidth: BW, mtu: MTU };
  /** A clean owner with `kib` KiB of upload buffer: completes with the exact bytes. */
  const queued = (kib: number, seed: number): Outcome => {
    const out = run(`${kib} KiB buffer`, {
      seed,
      size,
      owners: { a: { ...clean, queueBytes: kib * KiB } },
    });
    assert.equal(out.report.outcome, "done");
    assertExactBytes(out.output, out.bytes);
    return out;
  };
  await t.step("16 KiB of buffer (8 ms): no overflow, the link stays full", () => {
    const { report: r, blockSize } = queued(16, 17);
    assert.ok(r.engine.retransmits <= 0.02 * size / blockSize, `${r.engine.retransmits}`);
    const ideal = idealMs(size, blockSize, BW);
    assert.ok(r.timeMs <= 1.15 * ideal, `took ${r.timeMs.toFixed(0)} ms, ideal ${ideal}`);
  });
  await t.step("8 KiB (4 ms, under the delay target): overflow is bounded by 2 x BDP", () => {
    // Losses without a visible queue read as random loss; the delivery-rate cap bounds them
    const { report: r, blockSize } = queued(8, 18);
    assert.ok(r.engine.retransmits < size / blockSize, `${r.engine.retransmits} retransmits`);
  });
});

Deno.test("DownloadEngine runs are reproducible from the seed", opts, () => {
  const setup = { seed: 5, size: MiB + 5, owners: { a: wan(0.2), b: wan(0.05) } };
  const first = run("reproducible 1", setup).report;
  const second = run("reproducible 2", setup).report;
  assert.deepEqual(second, first);
});

// ---- owners that vanish, lie or refuse ----

Deno.test("DownloadEngine finishes when an owner vanishes mid-transfer", opts, async (t) => {
  const size = 4 * MiB + 1;
  const vanishAt = 200;
  const stallMs = 500;
  const { report: r, engine, bytes, output, blockSize } = run("owner vanishes", {
    seed: 21,
    size,
    owners: { a: wan(0.05), b: wan(0.05, { vanishAt }), c: wan(0.05) },
    engine: { stallMs },
  });
  await t.step("the silent owner is dropped once it stalls", () => {
    assert.equal(r.dropped.length, 1);
    const [d] = r.dropped;
    assert.equal(d!.owner, "b");
    assert.match(d!.reason, /^sent nothing for \d+ ms$/);
    assert.ok(d!.at >= vanishAt + stallMs && d!.at <= vanishAt + stallMs + 100, `at ${d!.at}`);
    assert.deepEqual(engine.liveOwners, ["a", "c"]);
  });
  await t.step("its blocks go to the others, and the bytes are exact", () => {
    assert.equal(r.outcome, "done");
    assertExactBytes(output, bytes);
    const delivered = engine.deliveredByOwner;
    assert.ok(delivered.get("b")! < size / 10, `b delivered ${delivered.get("b")}`);
    assert.equal(delivered.get("a")! + delivered.get("b")! + delivered.get("c")!, size);
  });
  await t.step("and it finishes about as fast as two owners would", () => {
    const ideal = idealMs(size, blockSize, 2 * BW, 0.05);
    assert.ok(r.timeMs <= 1.4 * ideal, `took ${r.timeMs.toFixed(0)} ms, ideal ${ideal.toFixed(0)}`);
  });
});

Deno.test("DownloadEngine asks the tracker again when its only owner vanishes", opts, () => {
  const { report: r, engine, bytes, output } = run("sole owner vanishes", {
    seed: 22,
    size: 2 * MiB,
    owners: { a: wan(0.05, { vanishAt: 300 }), spare: wan(0.05) },
    engine: { stallMs: 500, wantOwners: 1 },
    drive: { reserve: ["spare"], requeryMs: 50 },
  });
  assert.equal(r.outcome, "done");
  assertExactBytes(output, bytes);
  assert.equal(r.needOwners, 1);
  assert.deepEqual(r.dropped.map((d) => d.owner), ["a"]);
  assert.ok(engine.deliveredByOwner.get("spare")! > MiB);
});

Deno.test(
  "DownloadEngine drops an owner that sends corrupt blocks after 2 strikes",
  opts,
  async (t) => {
    const { report: r, engine, bytes, output } = run("corrupt owner", {
      seed: 31,
      size: 4 * MiB + 3,
      owners: { a: wan(0.05), liar: wan(0.05, { corrupt: 0.05 }), c: wan(0.05) },
    });
    await t.step("bad pieces are detected", () => {
      assert.ok(r.badPieces.length >= 2, `${r.badPieces.length} bad pieces`);
      for (const b of r.badPieces) assert.ok(b.owners.includes("liar"), `${b.owners}`);
      assert.equal(r.engine.badPieces, r.badPieces.length);
    });
    await t.step("the liar is dropped and banned", () => {
      assert.deepEqual(r.dropped.map((d) => d.owner), ["liar"]);
      assert.equal(r.dropped[0]!.reason, "sent 2 pieces that failed verification");
      assert.ok(engine.isBanned("liar"));
      assert.equal(engine.addOwner("liar", r.timeMs), false);
    });
    await t.step("every bad piece is fetched again and the bytes are exact", () => {
      assert.equal(r.outcome, "done");
      assertExactBytes(output, bytes);
    });
  },
);

Deno.test("DownloadEngine fails clearly when every owner sends corrupt blocks", opts, () => {
  const size = 2 * MiB;
  const { report: r, engine } = run("all owners corrupt", {
    seed: 32,
    size,
    owners: {
      a: wan(0.05, { corrupt: 0.2 }),
      b: wan(0.05, { corrupt: 0.2 }),
      c: wan(0.05, { corrupt: 0.2 }),
    },
  });
  assert.equal(r.outcome, "no_owners");
  assert.equal(engine.done, false, "done is never emitted");
  assert.deepEqual(r.dropped.map((d) => d.owner).sort(), ["a", "b", "c"]);
  for (const d of r.dropped) assert.equal(d.reason, "sent 2 pieces that failed verification");
  assert.ok(r.needOwners >= 1, "the engine asks for more owners");
  assert.deepEqual(engine.liveOwners, []);
  assert.ok(r.pieces < engine.layout.pieceCount);
});

Deno.test("DownloadEngine drops an owner that does not share the content", opts, () => {
  const { report: r, engine, bytes, output } = run("unknown content", {
    seed: 33,
    size: MiB + 17,
    owners: { a: wan(0.05), stranger: wan(0.05, { unknownContent: true }) },
  });
  assert.equal(r.outcome, "done");
  assertExactBytes(output, bytes);
  assert.deepEqual(r.dropped.map((d) => [d.owner, d.reason]), [
    ["stranger", "does not share this content"],
  ]);
  assert.ok(engine.isBanned("stranger"));
});

Deno.test(
  "DownloadEngine fails clearly when its only owner does not share the content",
  opts,
  () => {
    const { report: r, engine } = run("only owner unknown content", {
      seed: 34,
      size: MiB,
      owners: { stranger: wan(0.2, { unknownContent: true }) },
    });
    assert.equal(r.outcome, "no_owners");
    assert.equal(engine.done, false);
    assert.equal(r.needOwners, 1);
    assert.equal(r.pieces, 0);
  },
);

Deno.test(
  "DownloadEngine lets the driver verify pieces on another thread (verifyInWorker)",
  opts,
  async (t) => {
    const size = 2 * MiB + 11;
    const content = new ArraySource(randomBytes(size, 35));
    const manifest = buildManifest(content, 64 * KiB);
    const { report: r, engine, output, bytes } = run("verified by the driver", {
      seed: 35,
      size,
      content,
      owners: { a: wan(0.05), liar: wan(0.05, { corrupt: 0.05 }), c: wan(0.05) },
      engine: { verifyInWorker: true },
      drive: {
        // A worker that takes 3 ms and gets the piece buffer transferred (detached) and back
        verify: { hashes: manifest.pieceHashes, delayMs: 3, transfer: true },
      },
    });
    await t.step("no piece events, every good verdict written once, the bytes exact", () => {
      assert.equal(r.outcome, "done");
      assert.equal(r.pieces, engine.layout.pieceCount);
      assertExactBytes(output, bytes);
    });
    await t.step("bad verdicts count as strikes", () => {
      assert.ok(r.badPieces.length >= 2);
      assert.deepEqual(r.dropped.map((d) => [d.owner, d.reason]), [
        ["liar", "sent 2 pieces that failed verification"],
      ]);
    });
  },
);

// ---- resume ----

Deno.test("DownloadEngine never requests pieces verified before (resume)", opts, async (t) => {
  const size = 2 * MiB + 999;
  const pieceSize = 64 * KiB;
  const pieceCount = Math.ceil(size / pieceSize);
  // Every other piece, and the last one, are already on disk
  const verified = new Set<number>([pieceCount - 1]);
  for (let p = 0; p < pieceCount; p += 2) verified.add(p);
  const verifiedPieces = [...verified];
  const missingBytes = size - verifiedPieces.reduce(
    (sum, p) => sum + Math.min(pieceSize, size - p * pieceSize),
    0,
  );
  const touches: number[] = [];
  const onRequest: DriveOptions["onRequest"] = (tx) => {
    for (const r of tx.ranges) {
      for (const p of verifiedPieces) {
        const start = p * pieceSize;
        if (r.offset < start + pieceSize && r.offset + r.length > start) touches.push(p);
      }
    }
  };

  await t.step("on a clean path exactly the missing bytes are requested", () => {
    const clean = { latencyMs: 10, bandwidth: BW, mtu: MTU };
    const { report: r, engine, bytes, output } = run("resume, clean path", {
      seed: 41,
      size,
      pieceSize,
      owners: { a: clean, b: clean },
      engine: { verifiedPieces },
      drive: { onRequest },
    });
    assert.equal(r.outcome, "done");
    assertExactBytes(output, bytes);
    assert.equal(engine.resumedBytes, size - missingBytes);
    assert.equal(r.requestedBytes, missingBytes);
    assert.equal(r.pieces, pieceCount - verifiedPieces.length);
    assert.deepEqual(touches, []);
  });

  await t.step("at 20 % loss the verified pieces are still never requested", () => {
    const { report: r, bytes, output } = run("resume, 20 % loss", {
      seed: 42,
      size,
      pieceSize,
      owners: { a: wan(0.2), b: wan(0.2) },
      engine: { verifiedPieces },
      drive: { onRequest },
    });
    assert.equal(r.outcome, "done");
    assertExactBytes(output, bytes);
    assert.deepEqual(touches, []);
  });
});

// ---- edge sizes ----

Deno.test("DownloadEngine is done at once with a 0-byte file", opts, () => {
  const { report: r, output } = run("0 bytes", { seed: 51, size: 0, owners: { a: wan(0.2) } });
  assert.equal(r.outcome, "done");
  assert.equal(r.steps, 0);
  assert.equal(r.requests, 0);
  assert.equal(r.timeMs, 0);
  assert.equal(output?.byteLength, 0);
});

Deno.test(
  "DownloadEngine handles sizes that are not a multiple of the block or piece size",
  opts,
  async (t) => {
    // [size, piece size]: blocks are BlockLayout.blockSizeFor(pieceSize, 1200) bytes
    const cases: [number, number][] = [
      [1, 64 * KiB],
      [1171, 64 * KiB], // exactly one block
      [1172, 64 * KiB], // one block and one byte
      [64 * KiB, 64 * KiB], // exactly one piece
      [3 * 64 * KiB + 1, 64 * KiB],
      [100_003, 10_000], // blocks of 1112 bytes, the last of each piece 1104
      [5_000, 500], // a block is a whole piece
      [777_777, 4096],
    ];
    for (const [size, pieceSize] of cases) {
      await t.step(`${size} bytes in pieces of ${pieceSize}`, () => {
        const { report: r, bytes, output } = run(`${size} bytes / ${pieceSize}`, {
          seed: 52 + size,
          size,
          pieceSize,
          owners: { a: wan(0.05), b: wan(0.05) },
        });
        assert.equal(r.outcome, "done");
        assertExactBytes(output, bytes);
      });
    }
  },
);

Deno.test("DownloadEngine fetches pieces that sit beyond 4 GiB", opts, () => {
  // 4 GiB + 200 KiB in 128 KiB pieces: pieces 32768 (128 KiB) and 32769 (72 KiB) lie past 4 GiB.
  // Owners compute bytes from their offset; only those two pieces are hashed, the rest resume.
  const pieceSize = 128 * KiB;
  const size = 4 * GiB + 200 * KiB;
  const pieceCount = Math.ceil(size / pieceSize);
  const tail = [pieceCount - 2, pieceCount - 1];
  const verifiedPieces = Array.from({ length: pieceCount - 2 }, (_, i) => i);
  let wrong = 0;
  const written: number[] = [];
  let lowest = Infinity;
  const { report: r, engine } = run("beyond 4 GiB", {
    seed: 61,
    size,
    pieceSize,
    content: new GeneratedSource(size),
    hashed: tail,
    owners: { a: wan(0.05), b: wan(0.05) },
    engine: { verifiedPieces },
    drive: {
      onPiece: (index, offset, data) => {
        written.push(index);
        for (let i = 0; i < data.length; i++) if (data[i] !== generatedByte(offset + i)) wrong++;
      },
      onRequest: (tx) => {
        for (const range of tx.ranges) lowest = Math.min(lowest, range.offset);
      },
    },
  });
  assert.equal(pieceCount, 32770);
  assert.equal(r.outcome, "done");
  assert.deepEqual(written.sort((x, y) => x - y), tail);
  assert.equal(wrong, 0);
  assert.ok(lowest >= 4 * GiB, `requested offset ${lowest}`);
  assert.equal(engine.stats.verifiedBytes, size);
});

// ---- slow owners, stealing, endgame ----

Deno.test(
  "DownloadEngine lets fast owners steal a slow owner's work, with no 99 % stall",
  opts,
  async (t) => {
    const size = 4 * MiB + 5;
    let verified = 0;
    let at99 = Infinity;
    const { report: r, engine, bytes, output, blockSize } = run("slow owner", {
      seed: 71,
      size,
      owners: { a: wan(0.01), b: wan(0.01), slow: wan(0.01, { bandwidth: BW / 10 }) },
      drive: {
        onPiece: (_i, _o, data, now) => {
          verified += data.length;
          if (verified >= 0.99 * size) at99 = Math.min(at99, now);
        },
      },
    });
    assert.equal(r.outcome, "done");
    assertExactBytes(output, bytes);
    await t.step("the total time is near the bound of all three rates", () => {
      const ideal = idealMs(size, blockSize, 2.1 * BW, 0.01);
      assert.ok(
        r.timeMs <= 1.25 * ideal,
        `took ${r.timeMs.toFixed(0)} ms, ideal ${ideal.toFixed(0)}`,
      );
    });
    await t.step("the slow owner delivers no more than its share", () => {
      const share = engine.deliveredByOwner.get("slow")! / size;
      assert.ok(share < 0.1, `slow owner delivered ${(share * 100).toFixed(1)} %`);
    });
    await t.step("the endgame finishes the last 1 % in a few round trips", () => {
      assert.ok(r.timeMs - at99 <= 100, `the last 1 % took ${(r.timeMs - at99).toFixed(0)} ms`);
    });
  },
);

Deno.test("DownloadEngine gives a late owner work by stealing", opts, () => {
  const size = 4 * MiB;
  const { report: r, engine, bytes, output, blockSize } = run("late owner", {
    seed: 81,
    size,
    owners: { first: wan(0.05), late: wan(0.05) },
    drive: { joins: [{ owner: "late", at: 500 }] },
  });
  assert.equal(r.outcome, "done");
  assertExactBytes(output, bytes);
  const late = engine.deliveredByOwner.get("late")!;
  assert.ok(late > 0.3 * size, `the late owner delivered ${late} bytes`);
  const alone = idealMs(size, blockSize, BW, 0.05);
  assert.ok(r.timeMs < 0.75 * alone, `took ${r.timeMs.toFixed(0)} ms, one owner alone ${alone}`);
});

// ---- the path ----

Deno.test("DownloadEngine fails clearly when blocks do not fit the path MTU", opts, () => {
  const pieceSize = 64 * KiB;
  const content = new ArraySource(randomBytes(MiB, 91));
  const manifest = buildManifest(content, pieceSize);
  const net = new SimNetwork({ seed: 91 });
  net.addOwner("a", { content, ...wan(0, { mtu: 1200 }) });
  // Blocks sized for a 1500-byte path
  const engine = new DownloadEngine({
    manifest,
    blockSize: BlockLayout.blockSizeFor(pieceSize, 1452),
    stallMs: 1000,
  });
  const r = drive(engine, net, { owners: ["a"] });
  assert.equal(r.outcome, "no_owners");
  assert.ok(r.net.mtuDrops > 0);
  assert.match(r.dropped[0]!.reason, /^sent nothing for \d+ ms$/);
  assert.ok(r.timeMs < 2000, `gave up after ${r.timeMs} ms`);
});
