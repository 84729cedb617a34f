import assert from "node:assert/strict";
import { BlockLayout } from "../../lib/peer/core/block_layout.ts";
import { OwnerState } from "../../lib/peer/core/owner_state.ts";
import { PiecePicker } from "../../lib/peer/core/piece_picker.ts";

const opts = { permissions: "none" } as const;
const PIECE = 16 * 1024;
const BLOCK = 4 * 1024;

/** A picker over `pieces` pieces of 4 blocks, with owners `keys`; `verified` are resumed. */
function setup(
  pieces: number,
  keys: string[],
  verified: number[] = [],
  extra: { randomStart?: boolean; random?: () => number } = {},
) {
  const layout = new BlockLayout(pieces * PIECE, PIECE, BLOCK);
  const owners = new Map<string, OwnerState>();
  for (const k of keys) {
    owners.set(
      k,
      new OwnerState(k, {
        blockSize: BLOCK,
        maxInFlight: 64 * BLOCK,
        minRtoMs: 15,
        lossThreshold: 3,
        targetDelayMs: 5,
        stallMs: 4000,
      }, 0),
    );
  }
  const done = new Uint8Array(pieces);
  for (const p of verified) done[p] = 1;
  const picker = new PiecePicker({
    layout,
    verified: done,
    owners,
    maxActivePieces: 64,
    pieceBuffer: () => new Uint8Array(PIECE),
    ...extra,
  });
  return { picker, owners, o: (k: string) => owners.get(k)!, verified: done };
}

/** The pieces of the byte ranges a collect() returned. */
function piecesOf(ranges: { offset: number; length: number }[]): number[] {
  return [...new Set(ranges.map((r) => Math.floor(r.offset / PIECE)))];
}

Deno.test({
  name: "PiecePicker.split() gives each owner a contiguous range of the missing pieces",
  ...opts,
  fn() {
    const { picker, o, owners } = setup(10, ["a", "b", "c"], [0, 1, 5]);
    picker.split([...owners.values()]);
    // Missing: 2 3 4 6 7 8 9 → 7 pieces over 3 owners: 2, 2 and 3 of them
    assert.deepEqual([o("a").rangeNext, o("a").rangeEnd], [2, 4]);
    assert.deepEqual([o("b").rangeNext, o("b").rangeEnd], [4, 7]);
    assert.deepEqual([o("c").rangeNext, o("c").rangeEnd], [7, 10]);
    // Verified pieces inside a range are skipped
    assert.deepEqual(piecesOf(picker.collect(o("b"), 2 * PIECE, 0)), [4, 6]);
  },
});

Deno.test({
  name: "PiecePicker.collect() merges adjacent blocks, keeps to the budget and records requests",
  ...opts,
  fn() {
    const { picker, o, owners } = setup(4, ["a"]);
    picker.split([...owners.values()]);
    const ranges = picker.collect(o("a"), 6 * BLOCK, 5);
    // 4 blocks of piece 0 and 2 of piece 1: one range per piece
    assert.deepEqual(ranges, [{ offset: 0, length: PIECE }, { offset: PIECE, length: 2 * BLOCK }]);
    assert.equal(o("a").inFlight, 6 * BLOCK);
    assert.equal(o("a").outstanding.size, 6);
    assert.equal(o("a").outstanding.get(0)!.sentAt, 5);
    assert.deepEqual([...o("a").pieces], [0, 1]);
    // A budget of one byte still asks for one block; requested blocks are not asked again
    assert.deepEqual(picker.collect(o("a"), 1, 6), [{ offset: PIECE + 2 * BLOCK, length: BLOCK }]);
  },
});

Deno.test({
  name:
    "PiecePicker.collect() steals the second half of the largest other range when its own runs out",
  ...opts,
  fn() {
    const { picker, o } = setup(12, ["a", "b"]);
    picker.split([o("a")]); // "b" joins later, with no range of its own
    assert.deepEqual([o("a").rangeNext, o("a").rangeEnd], [0, 12]);
    assert.deepEqual(piecesOf(picker.collect(o("b"), PIECE, 0)), [6]);
    assert.deepEqual([o("a").rangeNext, o("a").rangeEnd], [0, 6], "a keeps the first half");
    assert.deepEqual([o("b").rangeNext, o("b").rangeEnd], [7, 12]);
  },
});

Deno.test({
  name: "PiecePicker hands a released owner's pieces, then its range, to the others",
  ...opts,
  fn() {
    const { picker, o, owners } = setup(8, ["a", "b"]);
    picker.split([...owners.values()]);
    picker.collect(o("a"), 2 * BLOCK, 0); // half of piece 0
    // "a" stops answering: its requests are forgotten and its piece and range released
    for (const id of [...o("a").outstanding.keys()]) {
      o("a").forget(id);
      picker.unrequest(picker.active.get(0)!, id % 4);
    }
    picker.releasePieces(o("a"));
    picker.releaseRange(o("a"));
    assert.equal(picker.active.get(0)!.owner, undefined, "piece 0 is orphaned");
    // "b" adopts the orphan before starting new pieces of its own range (4..8) …
    assert.deepEqual(picker.collect(o("b"), 4 * BLOCK, 1), [{ offset: 0, length: PIECE }]);
    assert.equal(picker.active.get(0)!.owner, "b");
    assert.deepEqual(piecesOf(picker.collect(o("b"), 4 * PIECE, 1)), [4, 5, 6, 7]);
    // … and then takes the range "a" gave back
    assert.deepEqual(piecesOf(picker.collect(o("b"), PIECE, 1)), [1]);
    assert.deepEqual([o("b").rangeNext, o("b").rangeEnd], [2, 4]);
  },
});

Deno.test({
  name: "PiecePicker.refetch() re-fetches a bad piece from one owner, avoiding its sender",
  ...opts,
  fn() {
    const { picker, o } = setup(1, ["a", "b"]);
    picker.split([o("a")]);
    picker.collect(o("a"), PIECE, 0);
    const ap = picker.active.get(0)!;
    ap.received.fill(1);
    ap.receivedCount = ap.blockCount;
    for (const id of [...o("a").outstanding.keys()]) o("a").forget(id);
    picker.refetch(ap, ["a"]);
    assert.ok(ap.exclusive);
    assert.equal(ap.receivedCount, 0);
    assert.deepEqual(
      picker.collect(o("a"), PIECE, 1),
      [],
      "the sender is avoided while b can fetch it",
    );
    assert.deepEqual(picker.collect(o("b"), PIECE, 1), [{ offset: 0, length: PIECE }]);
  },
});

Deno.test({
  name: "PiecePicker.collect() in the endgame duplicates a block only for a clearly faster owner",
  ...opts,
  fn() {
    const { picker, o } = setup(1, ["slow", "fast", "peer"]);
    picker.split([o("slow")]);
    assert.equal(picker.collect(o("slow"), PIECE, 0).length, 1);
    o("slow").rtt.sample(400);
    o("fast").rtt.sample(20);
    o("peer").rtt.sample(380);
    // Nothing unstarted is left: "peer" (about as slow) gets nothing, "fast" duplicates it all
    assert.deepEqual(picker.collect(o("peer"), PIECE, 10), []);
    assert.deepEqual(picker.collect(o("fast"), PIECE, 10), [{ offset: 0, length: PIECE }]);
    assert.deepEqual(picker.active.get(0)!.requested, Uint8Array.of(2, 2, 2, 2));
  },
});

Deno.test({
  name: "PiecePicker.finish() retires a piece; with no owners split() leaves one free range",
  ...opts,
  fn() {
    const { picker, o, verified } = setup(3, ["late"]);
    picker.split([]);
    assert.deepEqual(piecesOf(picker.collect(o("late"), 3 * PIECE, 0)), [0, 1, 2]);
    const ap = picker.active.get(1)!;
    picker.finish(ap);
    verified[1] = 1;
    assert.equal(picker.active.has(1), false);
    assert.deepEqual([...o("late").pieces], [0, 2]);
  },
});

Deno.test({
  name: "PiecePicker: randomStart begins a lone owner's range at a random piece, the rest free",
  ...opts,
  fn() {
    const { picker, o, owners } = setup(10, ["seed"], [], { randomStart: true, random: () => 0.5 });
    picker.split([...owners.values()]);
    assert.deepEqual([o("seed").rangeNext, o("seed").rangeEnd], [5, 10]);
    assert.deepEqual(piecesOf(picker.collect(o("seed"), 10 * PIECE, 0)), [
      5,
      6,
      7,
      8,
      9,
      0,
      1,
      2,
      3,
      4,
    ]);
    const plain = setup(10, ["seed"]);
    plain.picker.split([...plain.owners.values()]);
    assert.deepEqual([plain.o("seed").rangeNext, plain.o("seed").rangeEnd], [0, 10]);
  },
});

Deno.test({
  name: "PiecePicker: a seed's offer keeps the pieces being fetched from it",
  ...opts,
  fn() {
    const { picker, o, owners } = setup(8, ["seed"]);
    picker.split([...owners.values()]);
    // Piece 0 started from the seed (listed complete), then cut off (a choke orphans it)
    assert.deepEqual(piecesOf(picker.collect(o("seed"), BLOCK, 0)), [0]);
    picker.releasePieces(o("seed"));
    // The seed's first offer lists piece 5 only
    const offer = new Uint8Array(8);
    offer[5] = 1;
    picker.setAvailability(o("seed"), offer, true);
    assert.ok(picker.has(o("seed"), 0), "the half-fetched piece is still asked of the seed");
    assert.ok(picker.has(o("seed"), 5));
    assert.equal(picker.has(o("seed"), 1), false, "not offered, not started: not asked");
    assert.deepEqual(piecesOf(picker.collect(o("seed"), 2 * BLOCK, 1)), [0]);
  },
});
