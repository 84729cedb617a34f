import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { decodeMessage } from "../../lib/wire/codec.ts";
import { BLOCK_DATA_HEADER_SIZE, MANIFEST_DATA_HEADER_SIZE } from "../../lib/wire/limits.ts";
import {
  type BlockRequestMessage,
  type ByteRange,
  ErrorCode,
  type ManifestRequestMessage,
  type Message,
} from "../../lib/wire/messages.ts";
import { contentIdOf, encodeManifest, type Manifest, toHex } from "../../lib/peer/manifest.ts";
import { Bitset } from "../../lib/peer/core/bitset.ts";
import { TransferError } from "../../lib/peer/transfer_error.ts";
import { Uploader, type UploaderOptions } from "../../lib/peer/uploader.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const PIECE = 16 * KiB;
const FROM: Deno.NetAddr = { transport: "udp", hostname: "127.0.0.1", port: 40000 };
const OTHER: Deno.NetAddr = { transport: "udp", hostname: "127.0.0.1", port: 40001 };

interface Shared {
  dir: string;
  path: string;
  data: Uint8Array;
  manifest: Manifest;
  encoded: Uint8Array;
  contentId: Uint8Array;
}

function patterned(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

async function sharedFile(size: number, pieceSize = PIECE, seed = 1): Promise<Shared> {
  const dir = await Deno.makeTempDir({ prefix: "udpswarm-up-" });
  const data = patterned(size, seed);
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

function blockRequest(
  s: Shared,
  ranges: ByteRange[],
  blockSize = 4 * KiB,
  txid = 7,
): BlockRequestMessage {
  return { type: "block_request", txid, cookie: 0n, contentId: s.contentId, blockSize, ranges };
}

type Request = Omit<ManifestRequestMessage, "cookie"> | Omit<BlockRequestMessage, "cookie">;

/**
 * Hands the uploader a request carrying its valid cookie for the source's IP (what a downloader
 * got in the PROBE_ACK).
 */
function serve(up: Uploader, msg: Request, from: Deno.NetAddr, now: number): void {
  up.handleRequest({ ...msg, cookie: up.cookieFor(from.hostname, now) }, from, now);
}

function errorsOf(out: { msg: Message }[]): { code: number; text: string }[] {
  return out.flatMap((
    o,
  ) => (o.msg.type === "error" ? [{ code: o.msg.code, text: o.msg.text }] : []));
}

function blocksOf(out: { msg: Message }[]): { offset: number; data: Uint8Array; txid: number }[] {
  return out.flatMap((o) =>
    o.msg.type === "block_data"
      ? [{ offset: o.msg.offset, data: o.msg.data, txid: o.msg.txid }]
      : []
  );
}

async function cleanup(s: Shared, up: Uploader): Promise<void> {
  up.close();
  await Deno.remove(s.dir, { recursive: true });
}

Deno.test("Uploader answers MANIFEST_REQUEST with one slice sized to maxDatagram", async () => {
  const s = await sharedFile(200 * PIECE); // 200 hashes: 6420-byte manifest
  const { up, out } = recording();
  up.share({ path: s.path, manifest: s.manifest, encoded: s.encoded });
  const total = s.encoded.byteLength;
  const chunk = 1200 - MANIFEST_DATA_HEADER_SIZE;
  const got = new Uint8Array(total);
  for (let off = 0; off < total; off += chunk) {
    out.length = 0;
    serve(
      up,
      { type: "manifest_request", txid: 3, contentId: s.contentId, offset: off, maxDatagram: 1200 },
      FROM,
      0,
    );
    assert.equal(out.length, 1);
    const m = out[0]!.msg;
    assert.ok(m.type === "manifest_data");
    assert.equal(m.txid, 3);
    assert.equal(m.total, total);
    assert.equal(m.offset, off);
    assert.equal(m.data.byteLength, Math.min(chunk, total - off));
    assert.ok(out[0]!.size <= 1200);
    got.set(m.data, off);
  }
  assert.deepEqual(got, s.encoded);
  assert.equal(up.stats.manifestBytesSent, total);
  out.length = 0;
  serve(
    up,
    { type: "manifest_request", txid: 4, contentId: s.contentId, offset: total, maxDatagram: 1200 },
    FROM,
    0,
  );
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
  });
  await cleanup(s, up);
});

Deno.test("Uploader serves only verified pieces of a partial content", async () => {
  const s = await sharedFile(4 * PIECE);
  const { up, out } = recording();
  const have = new Bitset(4);
  have.set(1);
  up.share({ path: s.path, manifest: s.manifest, encoded: s.encoded, have });
  serve(up, blockRequest(s, [{ offset: PIECE, length: PIECE }]), FROM, 0);
  assert.equal(blocksOf(out).length, 4);
  out.length = 0;
  serve(up, blockRequest(s, [{ offset: PIECE + 10, length: PIECE }]), FROM, 0);
  assert.deepEqual(errorsOf(out), [{
    code: ErrorCode.out_of_range,
    text: "piece 2 is not available here yet",
  }]);
  out.length = 0;
  have.set(2); // live: no re-share needed
  serve(up, blockRequest(s, [{ offset: PIECE + 10, length: PIECE }]), FROM, 0);
  assert.deepEqual(errorsOf(out), []);
  assert.equal(blocksOf(out).reduce((n, b) => n + b.data.byteLength, 0), PIECE);
  await cleanup(s, up);
});

Deno.test("Uploader answers busy over the per-request caps", async () => {
  const s = await sharedFile(8 * MiB, 1 * MiB);
  const { up, out } = recording({ maxRequestDatagrams: 100 });
  up.share({ path: s.path, manifest: s.manifest, encoded: s.encoded });
  serve(up, blockRequest(s, [{ offset: 0, length: 4 * MiB + 1 }], 65000), FROM, 0);
  assert.equal(errorsOf(out)[0]?.code, ErrorCode.busy);
  assert.match(errorsOf(out)[0]!.text, /4194305 bytes/);
  out.length = 0;
  serve(up, blockRequest(s, [{ offset: 0, length: 101 }], 1), FROM, 0);
  assert.equal(errorsOf(out)[0]?.code, ErrorCode.busy);
  out.length = 0;
  serve(up, blockRequest(s, [{ offset: 0, length: 100 }], 1), FROM, 0);
  assert.equal(blocksOf(out).length, 100);
  assert.equal(up.stats.errors.busy, 2);
  await cleanup(s, up);
});

Deno.test("Uploader token buckets limit each requester and the total, and refill with time", async () => {
  const s = await sharedFile(8 * MiB, 1 * MiB);
  const { up, out } = recording({
    sourceRate: 1 * MiB,
    sourceBurst: 2 * MiB,
    maxRequestBytes: 1 * MiB,
    totalRate: 2 * MiB,
    totalBurst: 3 * MiB,
  });
  up.share({ path: s.path, manifest: s.manifest, encoded: s.encoded });
  const ask = (from: Deno.NetAddr, now: number) => {
    out.length = 0;
    serve(up, blockRequest(s, [{ offset: 0, length: MiB }], 60000), from, now);
    const e = errorsOf(out);
    return e.length === 0 ? "ok" : e[0]!.text;
  };
  assert.equal(ask(FROM, 0), "ok");
  assert.equal(ask(FROM, 0), "ok");
  assert.equal(ask(FROM, 0), "rate limit: retry in 1000 ms");
  assert.equal(ask(FROM, 500), "rate limit: retry in 500 ms");
  assert.equal(ask(FROM, 1000), "ok");
  // Another requester has its own bucket; the total (3 MiB burst, 2 MiB/s) is shared:
  // 3 MiB at t=0, 3 spent by t=1000 while 2 were refilled (capped at the burst), 2 left.
  assert.equal(ask(OTHER, 1000), "ok");
  assert.equal(ask(OTHER, 1000), "ok");
  const THIRD = { ...OTHER, port: 40002 };
  assert.equal(ask(THIRD, 1000), "rate limit: retry in 500 ms", "its own bucket is full");
  assert.equal(ask(THIRD, 1500), "ok");
  const stats = up.sources();
  assert.deepEqual(stats.map((x) => x.address), [
    "127.0.0.1|40000",
    "127.0.0.1|40001",
    "127.0.0.1|40002",
  ]);
  assert.equal(stats[0]!.bytes, 3 * MiB);
  assert.equal(stats[0]!.busy, 2);
  assert.equal(stats[1]!.bytes, 2 * MiB);
  assert.equal(stats[2]!.busy, 1);
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

Deno.test("Uploader forgets the least recently seen requesters beyond maxSources", async () => {
  const s = await sharedFile(PIECE);
  const { up } = recording({ maxSources: 2 });
  up.share({ path: s.path, manifest: s.manifest, encoded: s.encoded });
  for (const port of [1, 2, 1, 3]) {
    serve(up, blockRequest(s, [{ offset: 0, length: 1 }]), { ...FROM, port }, port);
  }
  assert.deepEqual(up.sources().map((x) => x.address), ["127.0.0.1|1", "127.0.0.1|3"]);
  assert.equal(up.sources()[0]!.requests, 2);
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

Deno.test("Uploader refuses a request with an absent, forged, foreign or expired cookie: a small ERROR bad_cookie, no data", async () => {
  const s = await sharedFile(4 * PIECE);
  const { up, out } = recording({ cookieEpochMs: 1000 });
  up.share({ path: s.path, manifest: s.manifest, encoded: s.encoded });
  const valid = up.cookieFor(FROM.hostname, 0);
  const manifest: ManifestRequestMessage = {
    type: "manifest_request",
    txid: 5,
    cookie: 0n,
    contentId: s.contentId,
    offset: 0,
    maxDatagram: 1200,
  };
  const attempts: [string, bigint, Deno.NetAddr, number][] = [
    ["absent", 0n, FROM, 0],
    ["forged", valid ^ 0x10n, FROM, 0],
    ["guessed", 0x0123456789abcdefn, FROM, 0],
    ["for another IP", up.cookieFor("192.0.2.1", 0), FROM, 0],
    ["used from another IP", valid, { ...FROM, hostname: "192.0.2.1" }, 0],
    ["two epochs old", valid, FROM, 2000],
  ];
  for (const [what, cookie, from, now] of attempts) {
    for (
      const msg of [{ ...blockRequest(s, [{ offset: 0, length: 4 * PIECE }]), cookie }, {
        ...manifest,
        cookie,
      }]
    ) {
      out.length = 0;
      up.handleRequest(msg, from, now);
      const size = msg.type === "manifest_request" ? 56 : 65;
      assert.equal(out.length, 1, `${what} ${msg.type}: one reply`);
      assert.deepEqual(errorsOf(out).map((e) => e.code), [ErrorCode.bad_cookie], what);
      assert.ok(out[0]!.size <= size, `${what} ${msg.type}: ${out[0]!.size} > ${size} bytes`);
      assert.equal(out[0]!.msg.txid, msg.txid);
    }
  }
  assert.equal(up.stats.errors.bad_cookie, 2 * attempts.length);
  assert.equal(up.stats.bytesSent + up.stats.manifestBytesSent, 0);
  assert.deepEqual(up.sources(), [], "unproven sources leave no per-requester state");
  // The same request with a current cookie is served, from any port of that IP.
  out.length = 0;
  const fresh = up.cookieFor(FROM.hostname, 2000);
  up.handleRequest({ ...blockRequest(s, [{ offset: 0, length: PIECE }]), cookie: fresh }, {
    ...FROM,
    port: 1,
  }, 2000);
  assert.equal(blocksOf(out).length, 4);
  await cleanup(s, up);
});

Deno.test("Uploader.handleProbe() answers with a PROBE_ACK of the probe's size carrying the cookie", () => {
  const { up, out } = recording();
  up.handleProbe({ type: "probe", txid: 9, size: 1200 }, FROM, 0);
  up.handleProbe({ type: "probe", txid: 9, size: 20 }, OTHER, 0);
  up.handleProbe({ type: "probe", txid: 9, size: 19 }, FROM, 0); // no room for a cookie
  assert.deepEqual(out.map((o) => o.size), [1200, 20]);
  const cookie = up.cookieFor("127.0.0.1", 0);
  for (const o of out) assert.deepEqual(o.msg, { ...o.msg, type: "probe_ack", txid: 9, cookie });
  assert.notEqual(cookie, 0n);
  assert.equal(up.stats.probes, 2);
  up.close();
});

Deno.test("Uploader accepts a cookie in its epoch and the next, and hands out a new one after a rotation", async () => {
  const s = await sharedFile(PIECE);
  const { up, out } = recording({ cookieEpochMs: 1000 });
  up.share({ path: s.path, manifest: s.manifest, encoded: s.encoded });
  const first = up.cookieFor(FROM.hostname, 10);
  const ask = (cookie: bigint, now: number) => {
    out.length = 0;
    up.handleRequest({ ...blockRequest(s, [{ offset: 0, length: 1 }]), cookie }, FROM, now);
    return out[0]?.msg.type;
  };
  assert.equal(ask(first, 999), "block_data");
  assert.equal(ask(first, 1500), "block_data", "previous epoch: still valid");
  const second = up.cookieFor(FROM.hostname, 1500);
  assert.notEqual(second, first);
  assert.equal(ask(second, 1500), "block_data");
  assert.equal(ask(first, 2000), "error", "two rotations later: expired");
  assert.equal(ask(second, 2000), "block_data");
  assert.equal(ask(second, 60_000), "error", "after a long idle time both keys changed");
  await cleanup(s, up);
});
