import assert from "node:assert/strict";
import {
  buildManifest,
  contentIdOf,
  decodeManifest,
  DEFAULT_PIECE_SIZE,
  defaultPieceSizeFor,
  encodeManifest,
  MANIFEST_HEADER_SIZE,
  MAX_PIECES,
  minPieceSizeFor,
  pieceCount,
  pieceLength,
  pieceOffset,
  verifyPiece,
} from "../../lib/peer/manifest.ts";
import { fromHex, toHex } from "../../lib/wire/hex.ts";
import { TransferError } from "../../lib/peer/transfer_error.ts";
import { WireError } from "../../lib/wire/wire_error.ts";
import { withTempDir } from "../_harness/temp_dir.ts";
import { bytesOf, manifestOf, sha256 } from "./_fixtures.ts";

const KiB = 1024;

Deno.test({
  name: "pieceCount()/pieceLength()/pieceOffset() describe a short last piece",
  permissions: "none",
  fn() {
    const data = bytesOf(40 * KiB + 5);
    const m = manifestOf(data, 16 * KiB);
    assert.equal(pieceCount(m), 3);
    assert.equal(pieceLength(m, 0), 16 * KiB);
    assert.equal(pieceLength(m, 2), 8 * KiB + 5);
    assert.equal(pieceOffset(m, 2), 32 * KiB);
    assert.throws(() => pieceLength(m, 3), RangeError);
    assert.throws(() => pieceOffset(m, -1), RangeError);
  },
});

Deno.test({
  name: "verifyPiece() accepts the right bytes and refuses wrong bytes or length",
  permissions: "none",
  fn() {
    const data = bytesOf(20 * KiB, 7);
    const m = manifestOf(data, 16 * KiB);
    assert.equal(verifyPiece(m, 0, data.subarray(0, 16 * KiB)), true);
    assert.equal(verifyPiece(m, 1, data.subarray(16 * KiB)), true);
    const bad = data.slice(0, 16 * KiB);
    bad[100]! ^= 1;
    assert.equal(verifyPiece(m, 0, bad), false);
    assert.equal(verifyPiece(m, 1, data.subarray(16 * KiB, 20 * KiB - 1)), false);
  },
});

Deno.test({
  name: "encodeManifest() writes the USM1 layout and decodeManifest() reads it back",
  permissions: "none",
  fn() {
    const m = manifestOf(bytesOf(50 * KiB), 16 * KiB);
    const enc = encodeManifest(m);
    assert.equal(enc.byteLength, MANIFEST_HEADER_SIZE + 4 * 32);
    assert.deepEqual([...enc.subarray(0, 4)], [0x55, 0x53, 0x4d, 0x31]); // "USM1"
    const v = new DataView(enc.buffer);
    assert.equal(v.getUint32(4) * 2 ** 32 + v.getUint32(8), 50 * KiB);
    assert.equal(v.getUint32(12), 16 * KiB);
    assert.equal(v.getUint32(16), 4);
    const back = decodeManifest(enc);
    assert.deepEqual(back, m);
    enc.fill(0, MANIFEST_HEADER_SIZE);
    assert.notDeepEqual(back.pieceHashes, enc.subarray(MANIFEST_HEADER_SIZE), "hashes are copied");
  },
});

Deno.test({
  name: "encodeManifest() handles 0 bytes and sizes beyond 4 GiB",
  permissions: "none",
  fn() {
    const empty = encodeManifest({ size: 0, pieceSize: 256 * KiB, pieceHashes: new Uint8Array(0) });
    assert.equal(empty.byteLength, MANIFEST_HEADER_SIZE);
    assert.deepEqual(decodeManifest(empty), {
      size: 0,
      pieceSize: 256 * KiB,
      pieceHashes: new Uint8Array(0),
    });
    const size = 5 * 2 ** 30 + 1;
    const count = Math.ceil(size / (4 * 1024 * KiB));
    const big = { size, pieceSize: 4 * 1024 * KiB, pieceHashes: bytesOf(32 * count) };
    assert.deepEqual(decodeManifest(encodeManifest(big)), big);
  },
});

Deno.test({
  name: "encodeManifest() refuses inconsistent manifests",
  permissions: "none",
  fn() {
    const h = new Uint8Array(32);
    assert.throws(() => encodeManifest({ size: 10, pieceSize: 1000, pieceHashes: h }), RangeError);
    assert.throws(
      () => encodeManifest({ size: 10, pieceSize: 8 * KiB, pieceHashes: h }),
      RangeError,
    );
    assert.throws(
      () => encodeManifest({ size: -1, pieceSize: 16 * KiB, pieceHashes: h }),
      RangeError,
    );
    assert.throws(
      () => encodeManifest({ size: 20 * KiB, pieceSize: 16 * KiB, pieceHashes: h }),
      /expected 64/,
    );
    assert.throws(
      () => encodeManifest({ size: 2 ** 53, pieceSize: 16 * KiB, pieceHashes: h }),
      RangeError,
    );
  },
});

function decodeFails(bytes: Uint8Array, reason: WireError["reason"], offset?: number): void {
  assert.throws(
    () => decodeManifest(bytes),
    (e: unknown) =>
      e instanceof WireError && e.reason === reason &&
      (offset === undefined || e.offset === offset),
    `expected WireError ${reason}`,
  );
}

Deno.test({
  name: "decodeManifest() refuses every malformed input with a WireError",
  permissions: "none",
  fn() {
    const good = encodeManifest(manifestOf(bytesOf(40 * KiB), 16 * KiB));
    const edit = (f: (v: DataView, b: Uint8Array) => void): Uint8Array => {
      const b = good.slice();
      f(new DataView(b.buffer), b);
      return b;
    };
    decodeFails(new Uint8Array(0), "truncated", 0);
    decodeFails(good.subarray(0, 19), "truncated", 19);
    decodeFails(good.subarray(0, good.byteLength - 1), "truncated");
    decodeFails(edit((_, b) => (b[0] = 0x58)), "bad_magic", 0);
    decodeFails(edit((v) => v.setUint32(4, 0x200000)), "bad_value", 4);
    decodeFails(edit((v) => v.setUint32(12, 16 * KiB + 1)), "bad_value", 12);
    decodeFails(edit((v) => v.setUint32(12, 8 * KiB)), "bad_value", 12);
    decodeFails(edit((v) => v.setUint32(12, 32 * 1024 * KiB)), "bad_value", 12);
    decodeFails(edit((v) => v.setUint32(12, 0)), "bad_value", 12);
    decodeFails(edit((v) => v.setUint32(16, 2)), "bad_value", 16);
    decodeFails(edit((v) => v.setUint32(16, 0xffffffff)), "bad_value", 16);
    const longer = new Uint8Array(good.byteLength + 1);
    longer.set(good);
    decodeFails(longer, "trailing_bytes", good.byteLength);
    // A header that claims 2^53-1 bytes in 16 KiB pieces must not allocate: count mismatch.
    decodeFails(
      edit((v) => {
        v.setUint32(4, 0x1fffff);
        v.setUint32(8, 0xffffffff);
      }),
      "bad_value",
      16,
    );
  },
});

Deno.test({
  name: "decodeManifest() never throws anything but WireError on random bytes",
  permissions: "none",
  fn() {
    for (let seed = 1; seed < 2000; seed++) {
      const b = bytesOf(seed % 97, seed);
      if (seed % 3 === 0 && b.byteLength >= 4) b.set([0x55, 0x53, 0x4d, 0x31]);
      try {
        decodeManifest(b);
      } catch (e) {
        assert.ok(e instanceof WireError, String(e));
      }
    }
  },
});

Deno.test({
  name: "contentIdOf() is the SHA-256 of the encoding; toHex()/fromHex() round-trip",
  permissions: "none",
  fn() {
    const enc = encodeManifest(manifestOf(bytesOf(1000), 16 * KiB));
    const id = contentIdOf(enc);
    assert.deepEqual(id, sha256(enc));
    const hex = toHex(id);
    assert.match(hex, /^[0-9a-f]{64}$/);
    assert.deepEqual(fromHex(hex), id);
    assert.deepEqual(fromHex(hex.toUpperCase()), id);
  },
});

Deno.test({
  name: "fromHex() returns null for anything but 64 hex digits",
  permissions: "none",
  fn() {
    const ok = "ab".repeat(32);
    assert.notEqual(fromHex(ok), null);
    for (
      const bad of [
        "",
        "ab",
        ok + "a",
        ok.slice(1),
        "g" + ok.slice(1),
        ` ${ok.slice(1)}`,
        ok.slice(0, 63) + "\n",
      ]
    ) {
      assert.equal(fromHex(bad), null, JSON.stringify(bad));
    }
    assert.equal(fromHex(undefined as unknown as string), null);
  },
});

Deno.test({
  name: "minPieceSizeFor() keeps the manifest within MAX_PIECES",
  permissions: "none",
  fn() {
    assert.equal(minPieceSizeFor(1000), 16 * KiB);
    assert.equal(minPieceSizeFor(1000, 256 * KiB), 256 * KiB);
    const size = MAX_PIECES * 256 * KiB + 1;
    assert.equal(minPieceSizeFor(size, 256 * KiB), 512 * KiB);
    assert.throws(() => minPieceSizeFor(2 ** 53 - 1), RangeError);
  },
});

Deno.test({
  name:
    "defaultPieceSizeFor(): 64 KiB up to 64 MiB, about 1024 pieces up to 128 MiB, 256 KiB above",
  permissions: "none",
  fn() {
    const MiB = 1024 * KiB;
    for (const size of [0, 1, 100 * KiB, 8 * MiB, 64 * MiB]) {
      assert.equal(defaultPieceSizeFor(size), 64 * KiB, `${size} bytes`);
    }
    assert.equal(defaultPieceSizeFor(64 * MiB + 1), 128 * KiB);
    assert.equal(defaultPieceSizeFor(128 * MiB), 128 * KiB);
    // From 128 MiB on, the 256 KiB of before (the single-download figures measure 1 GiB)
    for (const size of [128 * MiB + 1, 256 * MiB, 1024 * MiB, MAX_PIECES * DEFAULT_PIECE_SIZE]) {
      assert.equal(defaultPieceSizeFor(size), DEFAULT_PIECE_SIZE, `${size} bytes`);
    }
    // Files too large for 256 KiB pieces get the smallest size whose manifest fits
    assert.equal(defaultPieceSizeFor(MAX_PIECES * DEFAULT_PIECE_SIZE + 1), 2 * DEFAULT_PIECE_SIZE);
    assert.throws(() => defaultPieceSizeFor(2 ** 53 - 1), RangeError);
  },
});

Deno.test("buildManifest() matches an in-memory manifest for edge sizes", async () => {
  await withTempDir("udpswarm-manifest-", async (dir) => {
    const pieceSize = 16 * KiB;
    for (const size of [0, 1, pieceSize - 1, pieceSize, pieceSize + 1, 3 * 1024 * KiB + 77]) {
      const data = bytesOf(size, size + 3);
      const path = `${dir}/f${size}`;
      await Deno.writeFile(path, data);
      const built = await buildManifest(path, { pieceSize });
      const want = manifestOf(data, pieceSize);
      assert.deepEqual(built.manifest, want, `size ${size}`);
      assert.deepEqual(built.encoded, encodeManifest(want));
      assert.deepEqual(built.contentId, sha256(built.encoded));
      assert.equal(built.contentIdHex, toHex(built.contentId));
      assert.equal(built.file.size, size);
    }
  });
});

Deno.test("buildManifest() reports progress and gives the same id for the same bytes", async () => {
  await withTempDir("udpswarm-manifest-", async (dir) => {
    const data = bytesOf(5 * 1024 * KiB + 3, 9);
    await Deno.writeFile(`${dir}/a`, data);
    await Deno.writeFile(`${dir}/b`, data);
    const seen: number[] = [];
    const a = await buildManifest(`${dir}/a`, { onProgress: (done) => seen.push(done) });
    const b = await buildManifest(`${dir}/b`);
    assert.equal(a.contentIdHex, b.contentIdHex);
    assert.equal(a.manifest.pieceSize, 64 * KiB, "default piece size of a 5 MiB file");
    assert.equal(seen.at(-1), data.byteLength);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! >= seen[i - 1]!);
    const other = await buildManifest(`${dir}/a`, { pieceSize: 1024 * KiB });
    assert.notEqual(other.contentIdHex, a.contentIdHex, "piece size is part of the id");
  });
});

Deno.test("buildManifest() explains missing files, directories and bad piece sizes", async () => {
  await withTempDir("udpswarm-manifest-", async (dir) => {
    await assert.rejects(
      buildManifest(`${dir}/missing`),
      (e: unknown) => e instanceof TransferError && e.code === "not_found",
    );
    await assert.rejects(
      buildManifest(dir),
      (e: unknown) =>
        e instanceof TransferError && e.code === "not_found" && /regular file/.test(e.message),
    );
    await Deno.writeFile(`${dir}/f`, new Uint8Array(10));
    await assert.rejects(buildManifest(`${dir}/f`, { pieceSize: 1000 }), RangeError);
  });
});

Deno.test("buildManifest() stops when aborted", async () => {
  await withTempDir("udpswarm-manifest-", async (dir) => {
    await Deno.writeFile(`${dir}/f`, new Uint8Array(1024 * KiB));
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(
      buildManifest(`${dir}/f`, { signal: ac.signal }),
      (e: unknown) => e instanceof TransferError && e.code === "aborted",
    );
  });
});
