import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { pieceHashMatches } from "../../lib/peer/core/piece_hash.ts";
import { type Manifest, verifyPiece } from "../../lib/peer/manifest.ts";
import { type PieceVerdict, PieceWriter } from "../../lib/peer/piece_writer.ts";

const PIECE = 16 * 1024;
const good = Uint8Array.from({ length: 2 * PIECE - 100 }, (_, i) => (i * 7) & 0xff);
const hashes = new Uint8Array(64);
hashes.set(createHash("sha256").update(good.subarray(0, PIECE)).digest(), 0);
hashes.set(createHash("sha256").update(good.subarray(PIECE)).digest(), 32);
const manifest: Manifest = { size: good.byteLength, pieceSize: PIECE, pieceHashes: hashes };
const bad = good.slice(0, PIECE);
bad[5] = bad[5]! ^ 1;

Deno.test({
  name: "pieceHashMatches() accepts the right piece only, and no index without a hash",
  permissions: "none",
  fn() {
    assert.equal(pieceHashMatches(good.subarray(0, PIECE), hashes, 0), true);
    assert.equal(pieceHashMatches(good.subarray(PIECE), hashes, 1), true);
    assert.equal(pieceHashMatches(good.subarray(PIECE), hashes, 0), false, "another piece's hash");
    assert.equal(pieceHashMatches(bad, hashes, 0), false, "one bit off");
    assert.equal(pieceHashMatches(good.subarray(0, PIECE), hashes, 2), false);
    assert.equal(pieceHashMatches(good.subarray(0, PIECE), hashes, -1), false);
  },
});

Deno.test({
  name: "verifyPiece() checks the length, then pieceHashMatches()",
  permissions: "none",
  fn() {
    assert.equal(verifyPiece(manifest, 1, good.subarray(PIECE)), true);
    assert.equal(verifyPiece(manifest, 0, bad), false);
    // The right hash prefix is not enough: a piece with extra bytes is refused
    assert.equal(verifyPiece(manifest, 1, good.subarray(PIECE - 1)), false);
  },
});

Deno.test("PieceWriter's Worker gives the verdicts of pieceHashMatches()", async () => {
  const path = await Deno.makeTempFile({ prefix: "udpswarm-piece-hash-" });
  try {
    await Deno.writeFile(path, new Uint8Array(good.byteLength));
    const verdicts: PieceVerdict[] = [];
    const writer = new PieceWriter(path, hashes, (v) => verdicts.push(v));
    try {
      writer.submit(0, 0, good.slice(0, PIECE));
      writer.submit(0, 0, bad.slice());
      writer.submit(1, PIECE, good.slice(PIECE));
      await writer.drain();
    } finally {
      await writer.close();
    }
    assert.deepEqual(verdicts.map((v) => [v.index, v.ok]), [[0, true], [0, false], [1, true]]);
    assert.deepEqual(await Deno.readFile(path), good, "the good pieces were written");
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("piece_writer_worker.ts imports only node: built-ins (the peer grants read on it alone)", async () => {
  const src = await Deno.readTextFile(
    new URL("../../lib/peer/piece_writer_worker.ts", import.meta.url),
  );
  const specifiers = [...src.matchAll(/^import\s[^;]*?from\s+"([^"]+)"/gms)].map((m) => m[1]);
  assert.ok(specifiers.length > 0);
  for (const s of specifiers) assert.match(s!, /^node:/);
});
