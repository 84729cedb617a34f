import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { decodeMessage } from "../../lib/wire/codec.ts";
import { BLOCK_DATA_HEADER_SIZE, MANIFEST_DATA_HEADER_SIZE } from "../../lib/wire/limits.ts";
import { ErrorCode, type Message } from "../../lib/wire/messages.ts";
import { contentIdOf, encodeManifest, type Manifest } from "../../lib/peer/manifest.ts";
import { toHex } from "../../lib/wire/hex.ts";
import { TransferError } from "../../lib/peer/transfer_error.ts";
import { Uploader, type UploaderOptions } from "../../lib/peer/uploader.ts";
import { Prng } from "../../lib/sim/prng.ts";
import {
  blockRequest,
  blocksOf,
  errorsOf,
  manifestRequest,
  type UploadRequest,
} from "./_upload_requests.ts";

const KiB = 1024;
const PIECE = 16 * KiB;
const FROM: Deno.NetAddr = { transport: "udp", hostname: "127.0.0.1", port: 40000 };

interface Shared {
  dir: string;
  path: string;
  data: Uint8Array;
  manifest: Manifest;
  encoded: Uint8Array;
  contentId: Uint8Array;
}

async function sharedFile(size: number, pieceSize = PIECE, seed = 1): Promise<Shared> {
  const dir = await Deno.makeTempDir({ prefix: "udpswarm-up-" });
  const data = new Uint8Array(size);
  new Prng(seed).fill(data);
  const path = `${dir}/f.bin`;
  await Deno.writeFile(path, data);
  const n = Math.ceil(size / pieceSize);
  const hashes = new Uint8Array(32 * n);
  for (let i = 0; i < n; i++) {
    hashes.set(
      createHash("sha256").update(data.subarray(i * pieceSize, (i + 1) * pieceSize)).digest(),
      32 * i,
    );
  }
  const manifest = { size, pieceSize, pieceHashes: hashes };
  const encoded = encodeManifest(manifest);
  return { dir, path, data, manifest, encoded, contentId: contentIdOf(encoded) };
}

/** An uploader whose sends are recorded as decoded messages (copied at send time). */
function recording(options: Partial<UploaderOptions> = {}) {
  const out: { msg: Message; to: Deno.NetAddr; size: number }[] = [];
  const up = new Uploader({
    send: (bytes, to) =>
      void out.push({ msg: decodeMessage(bytes.slice()), to, size: bytes.byteLength }),
    ...options,
  });
  return { up, out };
}

/**
 * Hands the uploader a request carrying its valid cookie for the source's IP (what a downloader
 * got in the PROBE_ACK).
 */
function serve(
  up: Uploader,
  msg: UploadRequest,
  from: Deno.NetAddr,
  now: number,
): void {
  up.handleRequest({ ...msg, cookie: up.cookieFor(from, now) }, from, now);
}

async function cleanup(s: Shared, up: Uploader): Promise<void> {
  up.close();
  await Deno.remove(s.dir, { recursive: true });
}

Deno.test("Uploader sends the MANIFEST_DATA and ERROR replies its rules decide", async () => {
  const s = await sharedFile(200 * PIECE); // 200 hashes: 6420-byte manifest
  const { up, out } = recording();
  up.share({ path: s.path, manifest: s.manifest, encoded: s.encoded });
  const total = s.encoded.byteLength;
  serve(up, manifestRequest(s, 1200), FROM, 0);
  assert.equal(out.length, 1);
  const m = out[0]!.msg;
  assert.ok(m.type === "manifest_data" && m.txid === 3 && m.total === total);
  assert.deepEqual(m.data, s.encoded.subarray(1200, 2400 - MANIFEST_DATA_HEADER_SIZE));
  assert.equal(out[0]!.size, 1200);
  assert.deepEqual(out[0]!.to, FROM);
  out.length = 0;
  serve(up, manifestRequest(s, total), FROM, 0);
  assert.deepEqual(errorsOf(out).map((e) => e.code), [ErrorCode.out_of_range]);
  await cleanup(s, up);
});

Deno.test("Uploader cuts ranges into blocks that never cross a range end, a piece or EOF", async () => {
  const s = await sharedFile(3 * PIECE + 1000);
  const { up, out } = recording();
  up.share({ path: s.path, manifest: s.manifest, encoded: s.encoded });
  const bs = 5000; // not a divisor of the piece size
  serve(
    up,
    blockRequest(
      s,
      [
        { offset: 100, length: 2 * PIECE }, // crosses the piece 0/1 boundary
        { offset: 3 * PIECE, length: 64 * KiB }, // clamped to the file end
      ],
      bs,
      99,
    ),
    FROM,
    0,
  );
  const blocks = blocksOf(out);
  assert.deepEqual(errorsOf(out), []);
  const expect: [number, number][] = [];
  const cut = (start: number, end: number) => {
    for (let off = start; off < end;) {
      const stop = Math.min(off + bs, end, (Math.floor(off / PIECE) + 1) * PIECE);
      expect.push([off, stop - off]);
      off = stop;
    }
  };
  cut(100, 100 + 2 * PIECE);
  cut(3 * PIECE, 3 * PIECE + 1000);
  assert.deepEqual(blocks.map((b) => [b.offset, b.data.byteLength]), expect);
  for (const b of blocks) {
    assert.equal(b.txid, 99);
    assert.deepEqual(b.data, s.data.subarray(b.offset, b.offset + b.data.byteLength));
    assert.equal(
      Math.floor(b.offset / PIECE),
      Math.floor((b.offset + b.data.byteLength - 1) / PIECE),
    );
  }
  assert.equal(up.stats.bytesSent, 2 * PIECE + 1000);
  assert.equal(up.stats.blocksSent, expect.length);
  assert.equal(up.takeUploaded(), 2 * PIECE + 1000);
  assert.equal(up.takeUploaded(), 0);
  await cleanup(s, up);
});

Deno.test("Uploader refuses unknown content, unshared content and ranges past EOF", async () => {
  const s = await sharedFile(2 * PIECE);
  const { up, out } = recording();
  serve(up, blockRequest(s, [{ offset: 0, length: 10 }]), FROM, 0);
  assert.deepEqual(errorsOf(out).map((e) => e.code), [ErrorCode.unknown_content]);
  assert.equal(out[0]!.msg.txid, 7);
  out.length = 0;

  up.share({ path: s.path, manifest: s.manifest, encoded: s.encoded });
  assert.equal(up.has(toHex(s.contentId)), true);
  serve(
    up,
    blockRequest(s, [{ offset: 0, length: 10 }, { offset: 2 * PIECE, length: 1 }]),
    FROM,
    0,
  );
  assert.deepEqual(errorsOf(out).map((e) => e.code), [ErrorCode.out_of_range]);
  assert.match(errorsOf(out)[0]!.text, /past the end/);
  assert.equal(blocksOf(out).length, 0, "nothing is sent for a request with a bad range");
  out.length = 0;

  assert.equal(up.unshare(toHex(s.contentId)), true);
  assert.equal(up.unshare(toHex(s.contentId)), false);
  serve(up, blockRequest(s, [{ offset: 0, length: 10 }]), FROM, 0);
  assert.deepEqual(errorsOf(out).map((e) => e.code), [ErrorCode.unknown_content]);
  assert.deepEqual(up.stats.errors, {
    unknown_content: 2,
    out_of_range: 1,
    busy: 0,
    bad_cookie: 0,
    choked: 0,
  });
  await cleanup(s, up);
});

Deno.test("Uploader never reuses a send buffer before its send settles", async () => {
  const s = await sharedFile(64 * KiB, PIECE, 5);
  const held: { bytes: Uint8Array; copy: Uint8Array; settle: () => void }[] = [];
  const up = new Uploader({
    send: (bytes) => {
      let settle!: () => void;
      const p = new Promise<void>((r) => (settle = r));
      held.push({ bytes, copy: bytes.slice(), settle });
      return p;
    },
    maxPendingSends: 8,
  });
  up.share({ path: s.path, manifest: s.manifest, encoded: s.encoded });
  serve(up, blockRequest(s, [{ offset: 0, length: 32 * KiB }], 4 * KiB), FROM, 0);
  assert.equal(held.length, 8);
  assert.equal(up.pendingSends, 8);
  // Over the pending cap: busy, and no buffer is touched.
  serve(up, blockRequest(s, [{ offset: 32 * KiB, length: 4 * KiB }], 4 * KiB), FROM, 0);
  assert.equal(held.length, 9);
  assert.equal(decodeMessage(held[8]!.copy).type, "error");
  for (const h of held.slice(0, 8)) assert.deepEqual(h.bytes, h.copy, "held bytes unchanged");
  const buffers = new Set(held.slice(0, 8).map((h) => h.bytes.buffer));
  assert.equal(buffers.size, 8, "eight blocks in flight, eight buffers");
  for (const h of held) h.settle();
  await Promise.resolve();
  await Promise.resolve();
  assert.equal(up.pendingSends, 0);
  // Settled buffers are reused: the next request allocates nothing new.
  held.length = 0;
  serve(up, blockRequest(s, [{ offset: 32 * KiB, length: 32 * KiB }], 4 * KiB), FROM, 0);
  assert.equal(held.length, 8);
  for (const h of held) assert.ok(buffers.has(h.bytes.buffer as ArrayBuffer));
  for (const h of held) {
    const m = decodeMessage(h.copy);
    assert.ok(m.type === "block_data");
    assert.deepEqual(m.data, s.data.subarray(m.offset, m.offset + m.data.byteLength));
    h.settle();
  }
  await Promise.resolve();
  await cleanup(s, up);
});

Deno.test("Uploader reuses one buffer when send copies synchronously", async () => {
  const s = await sharedFile(64 * KiB, PIECE, 6);
  const buffers = new Set<ArrayBufferLike>();
  const copies: Uint8Array[] = [];
  const up = new Uploader({
    send: (bytes) => {
      buffers.add(bytes.buffer);
      copies.push(bytes.slice());
    },
  });
  up.share({ path: s.path, manifest: s.manifest, encoded: s.encoded });
  serve(up, blockRequest(s, [{ offset: 0, length: 64 * KiB }], 8 * KiB), FROM, 0);
  assert.equal(copies.length, 8);
  assert.equal(buffers.size, 1);
  for (const c of copies) {
    const m = decodeMessage(c);
    assert.ok(m.type === "block_data");
    assert.deepEqual(m.data, s.data.subarray(m.offset, m.offset + 8 * KiB));
  }
  await cleanup(s, up);
});

Deno.test("Uploader survives a send that throws or rejects", async () => {
  const s = await sharedFile(16 * KiB);
  let n = 0;
  const up = new Uploader({
    send: () => {
      if (n++ % 2 === 0) throw new Error("ENOBUFS");
      return Promise.reject(new Error("unreachable"));
    },
  });
  up.share({ path: s.path, manifest: s.manifest, encoded: s.encoded });
  serve(up, blockRequest(s, [{ offset: 0, length: 16 * KiB }], 4 * KiB), FROM, 0);
  await Promise.resolve();
  await Promise.resolve();
  assert.equal(up.stats.sendFailures, 4);
  assert.equal(up.pendingSends, 0);
  await cleanup(s, up);
});

Deno.test("Uploader.share() checks the file against its manifest", async () => {
  const s = await sharedFile(2 * PIECE);
  const { up } = recording();
  assert.throws(
    () => up.share({ path: `${s.dir}/missing`, manifest: s.manifest, encoded: s.encoded }),
    (e: unknown) => e instanceof TransferError && e.code === "not_found",
  );
  await Deno.truncate(s.path, PIECE);
  assert.throws(
    () => up.share({ path: s.path, manifest: s.manifest, encoded: s.encoded }),
    (e: unknown) => e instanceof TransferError && e.code === "changed",
  );
  assert.deepEqual(up.contents(), []);
  await cleanup(s, up);
});

Deno.test("Uploader stops a request when the shared file got shorter", async () => {
  const s = await sharedFile(4 * PIECE);
  const { up, out } = recording();
  up.share({ path: s.path, manifest: s.manifest, encoded: s.encoded });
  await Deno.truncate(s.path, PIECE + 100);
  serve(up, blockRequest(s, [{ offset: 0, length: 4 * PIECE }], PIECE), FROM, 0);
  assert.equal(blocksOf(out).length, 1);
  assert.deepEqual(errorsOf(out).map((e) => e.code), [ErrorCode.out_of_range]);
  assert.match(errorsOf(out)[0]!.text, /file changed on disk/);
  assert.equal(up.stats.shortReads, 1);
  assert.equal(up.stats.bytesSent, PIECE);
  await cleanup(s, up);
});

Deno.test("Uploader.close() closes files and ignores later requests", async () => {
  const s = await sharedFile(PIECE);
  const { up, out } = recording();
  up.share({ path: s.path, manifest: s.manifest, encoded: s.encoded });
  up.close();
  up.close();
  serve(up, blockRequest(s, [{ offset: 0, length: 1 }]), FROM, 0);
  assert.equal(out.length, 0);
  assert.throws(
    () => up.share({ path: s.path, manifest: s.manifest, encoded: s.encoded }),
    /closed/,
  );
  assert.equal(BLOCK_DATA_HEADER_SIZE, 16);
  await Deno.remove(s.dir, { recursive: true });
});
