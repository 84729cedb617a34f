/**
 * The uploader on real loopback sockets: a requester endpoint gets its address cookie with a
 * PROBE, fetches the manifest and block ranges from an uploader endpoint and checks every byte,
 * including offsets beyond 4 GiB.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { UdpEndpoint } from "../../lib/net/udp_endpoint.ts";
import { decodeMessage, encodeMessage } from "../../lib/wire/codec.ts";
import { MANIFEST_DATA_HEADER_SIZE } from "../../lib/wire/limits.ts";
import type { ByteRange, Message } from "../../lib/wire/messages.ts";
import {
  buildManifest,
  contentIdOf,
  decodeManifest,
  encodeManifest,
  type Manifest,
  pieceLength,
  pieceOffset,
  verifyPiece,
} from "../../lib/peer/manifest.ts";
import { Uploader } from "../../lib/peer/uploader.ts";
import { Prng } from "../../lib/sim/prng.ts";
import { withTimeout } from "../_harness/wait.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

/** An uploader on its own socket, sending with the socket's promise so buffers are safe. */
function serve(
  uploader: (send: (b: Uint8Array, to: Deno.NetAddr) => Promise<boolean>) => Uploader,
) {
  const ep = UdpEndpoint.open();
  const up = uploader((b, to) => ep.sendAndWait(b, to));
  ep.onDatagram((bytes, from) => {
    let msg: Message;
    try {
      msg = decodeMessage(bytes);
    } catch {
      return;
    }
    if (msg.type === "manifest_request" || msg.type === "block_request") {
      up.handleRequest(msg, from, performance.now());
    } else if (msg.type === "probe") {
      up.handleProbe(msg, from, performance.now());
    }
  });
  return {
    ep,
    up,
    async [Symbol.asyncDispose]() {
      up.close();
      await ep.close();
    },
  };
}

/** A minimal requester: one request at a time, retried after a timeout. */
class Requester implements AsyncDisposable {
  readonly ep = UdpEndpoint.open();
  readonly #to: Deno.NetAddr;
  #txid = 1;
  #onMessage: (m: Message) => void = () => {};
  retries = 0;
  /** The uploader's address cookie, from its PROBE_ACK. */
  cookie = 0n;

  constructor(to: Deno.NetAddr) {
    this.#to = to;
    this.ep.onDatagram((bytes) => {
      try {
        this.#onMessage(decodeMessage(bytes));
      } catch {
        // not for us
      }
    });
  }

  /** Sends `request(txid)` until `accept` says done, or fails after `attempts`. */
  async #exchange(
    request: (txid: number) => Message,
    accept: (m: Message) => boolean,
    attempts = 6,
  ): Promise<void> {
    for (let a = 0; a < attempts; a++) {
      const txid = this.#txid++;
      const done = Promise.withResolvers<void>();
      this.#onMessage = (m) => {
        if (m.txid === txid && accept(m)) done.resolve();
      };
      this.ep.send(encodeMessage(request(txid)), this.#to);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 300)));
      const ok = await Promise.race([done.promise.then(() => true), timeout]);
      clearTimeout(timer);
      this.#onMessage = () => {};
      if (ok) return;
      this.retries++;
    }
    throw new Error("Timed out: no complete answer after retries");
  }

  /** Gets the uploader's address cookie (once). */
  async #probe(): Promise<bigint> {
    if (this.cookie === 0n) {
      await this.#exchange((txid) => ({ type: "probe", txid, size: 1200 }), (m) => {
        if (m.type !== "probe_ack" || m.size !== 1200) return false;
        this.cookie = m.cookie;
        return true;
      });
    }
    return this.cookie;
  }

  async manifest(contentId: Uint8Array, maxDatagram: number): Promise<Uint8Array> {
    const cookie = await this.#probe();
    let total = -1;
    let got: Uint8Array | undefined;
    for (let offset = 0; total < 0 || offset < total;) {
      await this.#exchange(
        (txid) => ({ type: "manifest_request", txid, cookie, contentId, offset, maxDatagram }),
        (m) => {
          if (m.type !== "manifest_data" || m.offset !== offset) return false;
          if (total < 0) {
            total = m.total;
            got = new Uint8Array(total);
          }
          got!.set(m.data, offset);
          offset += m.data.byteLength;
          return true;
        },
      );
    }
    return got!;
  }

  /**
   * Fetches `[offset, offset+length)` (clamped by the uploader to `expectLength`) in
   * `blockSize` blocks, at most 96 KiB per request: the requester shares one thread with the
   * uploader here, so a larger burst would overflow its 208 KiB socket buffer.
   */
  async range(
    contentId: Uint8Array,
    range: ByteRange,
    blockSize: number,
    expectLength = range.length,
  ): Promise<Uint8Array> {
    const out = new Uint8Array(expectLength);
    const step = 96 * KiB;
    for (let at = 0; at < expectLength; at += step) {
      const len = Math.min(step, expectLength - at);
      const part = await this.#range(
        contentId,
        { offset: range.offset + at, length: at + step >= expectLength ? range.length - at : len },
        blockSize,
        len,
      );
      out.set(part, at);
    }
    return out;
  }

  async #range(
    contentId: Uint8Array,
    range: ByteRange,
    blockSize: number,
    expectLength: number,
  ): Promise<Uint8Array> {
    const cookie = await this.#probe();
    const out = new Uint8Array(expectLength);
    let have = 0;
    const seen = new Set<number>();
    await this.#exchange(
      (txid) => ({ type: "block_request", txid, cookie, contentId, blockSize, ranges: [range] }),
      (m) => {
        if (m.type === "error") throw new Error(`ERROR ${m.code}: ${m.text}`);
        if (m.type !== "block_data" || seen.has(m.offset)) return false;
        seen.add(m.offset);
        out.set(m.data, m.offset - range.offset);
        have += m.data.byteLength;
        return have === expectLength;
      },
    );
    return out;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.ep.close();
  }
}

Deno.test("Uploader over loopback: manifest and block ranges arrive byte-exact", async () => {
  const dir = await Deno.makeTempDir({ prefix: "udpswarm-uploop-" });
  try {
    const data = patterned(3 * MiB + 12345, 11);
    const path = `${dir}/f.bin`;
    await Deno.writeFile(path, data);
    const built = await buildManifest(path, { pieceSize: 256 * KiB });
    await using server = serve((send) => new Uploader({ send }));
    server.up.share({ path, manifest: built.manifest, encoded: built.encoded });
    await using req = new Requester(server.ep.localAddr);

    await withTimeout(
      (async () => {
        // The manifest in 1200-byte datagrams, checked against the content id.
        const encoded = await req.manifest(built.contentId, 1200);
        assert.deepEqual(contentIdOf(encoded), built.contentId);
        const m = decodeManifest(encoded);
        assert.deepEqual(m, built.manifest);

        // Several different blocks in a row, from pooled send buffers: all intact.
        for (
          const [offset, length, bs] of [
            [0, 128 * KiB, 32 * KiB],
            [256 * KiB - 1000, 2000, 700], // across a piece boundary
            [1 * MiB + 5, 100 * KiB, 1452 - 16],
            [3 * MiB, 64 * KiB, 32 * KiB], // clamped at EOF
          ] as const
        ) {
          const expect = Math.min(length, data.byteLength - offset);
          const got = await req.range(built.contentId, { offset, length }, bs, expect);
          assert.deepEqual(
            got,
            data.subarray(offset, offset + expect),
            `range ${offset}+${length}`,
          );
        }
        // A whole piece, verified against the manifest.
        const p = await req.range(built.contentId, {
          offset: pieceOffset(m, 5),
          length: pieceLength(m, 5),
        }, 32 * KiB);
        assert.equal(verifyPiece(m, 5, p), true);
      })(),
      20_000,
      "loopback manifest and ranges",
    );
    assert.ok(server.up.stats.bytesSent >= 128 * KiB + 2000 + 100 * KiB + 12345 + 256 * KiB);
    assert.equal(server.up.pendingSends, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Uploader over loopback: blocks beyond 4 GiB of a sparse file round-trip", async () => {
  const dir = await Deno.makeTempDir({ prefix: "udpswarm-uploop4g-" });
  try {
    const pieceSize = 1 * MiB;
    const size = 4 * 2 ** 30 + 3 * MiB + 123;
    const path = `${dir}/sparse.bin`;
    await Deno.writeFile(path, new Uint8Array(0));
    await Deno.truncate(path, size);
    // Real bytes from 100 KiB below 4 GiB to the end; the rest stays a hole.
    const from = 4 * 2 ** 30 - 100 * KiB;
    const tail = patterned(size - from, 12);
    const f = await Deno.open(path, { write: true });
    await f.seek(from, Deno.SeekMode.Start);
    let written = 0;
    while (written < tail.byteLength) written += await f.write(tail.subarray(written));
    f.close();
    // A manifest with real hashes for the pieces beyond 4 GiB (hashing 4 GiB of holes would be
    // slow and proves nothing here).
    const count = Math.ceil(size / pieceSize);
    const hashes = patterned(32 * count, 13);
    const manifest: Manifest = { size, pieceSize, pieceHashes: hashes };
    for (let i = 4096; i < count; i++) {
      const start = i * pieceSize - from;
      const bytes = tail.subarray(start, start + pieceLength(manifest, i));
      hashes.set(createHash("sha256").update(bytes).digest(), 32 * i);
    }
    const encoded = encodeManifest(manifest);
    const contentId = contentIdOf(encoded);

    await using server = serve((send) => new Uploader({ send }));
    server.up.share({ path, manifest, encoded });
    await using req = new Requester(server.ep.localAddr);
    await withTimeout(
      (async () => {
        const got = await req.manifest(contentId, 32 * KiB + MANIFEST_DATA_HEADER_SIZE);
        assert.deepEqual(got, encoded);
        // Across the 4 GiB line.
        const across = await req.range(contentId, {
          offset: 4 * 2 ** 30 - 50 * KiB,
          length: 100 * KiB,
        }, 32 * KiB);
        assert.deepEqual(across, tail.subarray(50 * KiB, 150 * KiB));
        // The last pieces, verified against the manifest; the final range clamps at EOF.
        for (const i of [4097, count - 1]) {
          const bytes = await req.range(
            contentId,
            { offset: pieceOffset(manifest, i), length: pieceSize },
            32 * KiB,
            pieceLength(manifest, i),
          );
          assert.equal(verifyPiece(manifest, i, bytes), true, `piece ${i}`);
        }
        // A block at an offset whose low 32 bits are small: the header's high word matters.
        const odd = await req.range(contentId, { offset: 4 * 2 ** 30 + 7, length: 5 }, 32 * KiB);
        assert.deepEqual(odd, tail.subarray(100 * KiB + 7, 100 * KiB + 12));
      })(),
      20_000,
      "loopback beyond 4 GiB",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** `n` seeded pseudo-random bytes. */
function patterned(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  new Prng(seed).fill(out);
  return out;
}
