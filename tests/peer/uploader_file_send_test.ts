import assert from "node:assert/strict";
import { fstatSync, readSync } from "node:fs";
import { decodeMessage } from "../../lib/wire/codec.ts";
import { ErrorCode, type Message } from "../../lib/wire/messages.ts";
import { FILE_SEND_MIN, Uploader } from "../../lib/peer/uploader.ts";
import {
  assertBlocksOf,
  contentOf,
  serveAndClose,
  sharedFile as sharedTestFile,
} from "./_shared_file.ts";
import { blockRequest, errorsOf, type UploadRequest } from "./_upload_requests.ts";

const FROM: Deno.NetAddr = { transport: "udp", hostname: "127.0.0.1", port: 40000 };
const PIECE = 64 * 1024;

/** A shared file of `size` random bytes in 64 KiB pieces. */
function sharedFile(size: number) {
  return sharedTestFile(size, PIECE, 5);
}

/** How the stand-in for the zero-copy send behaves. */
type Mode = "plain" | "zero-copy" | "refused" | "not-accepted" | "capped";

/** The largest datagram the "capped" stand-in takes (a route that refused larger ones). */
const CAPPED = 16 * 1024 + 16;

/**
 * Serves `requests` with an uploader whose zero-copy sender (in `mode`) builds the datagram
 * from the header and the descriptor's bytes, as the kernel would; returns every datagram put
 * on the wire in order, and how many went each way.
 */
async function serveAll(
  mode: Mode,
  requests: UploadRequest[],
  options: { size: number; truncateTo?: number },
) {
  const s = await sharedFile(options.size);
  const wire: Message[] = [];
  const ways = { send: 0, file: 0, refused: 0, sizes: [] as number[], sizeCalls: 0 };
  const up = new Uploader({
    send: (bytes) => {
      ways.send++;
      wire.push(decodeMessage(bytes.slice()));
    },
    ...(mode === "plain" ? {} : {
      sendFile: {
        accepts: (fd, identity) => {
          assert.ok(Number.isInteger(fd) && identity.ino > 0);
          return mode !== "not-accepted";
        },
        size: (fd) => {
          ways.sizeCalls++;
          return fstatSync(fd).size;
        },
        ...(mode === "capped" ? { fits: (bytes: number) => bytes <= CAPPED } : {}),
        send: (header, fd, offset, length) => {
          ways.sizes.push(length);
          if (mode === "refused") {
            ways.refused++;
            return false;
          }
          const datagram = new Uint8Array(header.byteLength + length);
          datagram.set(header);
          // The uploader checked the range against size()
          assert.equal(readSync(fd, datagram, header.byteLength, length, offset), length);
          ways.file++;
          wire.push(decodeMessage(datagram));
          return true;
        },
      },
    }),
  });
  await serveAndClose(up, s, requests, FROM, options.truncateTo);
  return { wire, ways, data: s.data };
}

/**
 * 32 KiB blocks with a short tail, 16 KiB blocks, 8936-byte blocks (the MTU probe's jumbo
 * fallback) with a short tail, and small blocks (never zero-copy).
 */
function requests(content: { contentId: Uint8Array }): UploadRequest[] {
  return [
    blockRequest(content, [{ offset: 0, length: 3 * PIECE + 5000 }], 32 * 1024, 1),
    blockRequest(content, [{ offset: PIECE, length: PIECE }], 16 * 1024, 2),
    blockRequest(content, [{ offset: 100, length: 20_000 }], 1436, 3),
    blockRequest(content, [{ offset: 3 * PIECE, length: 2 * 8936 + 100 }], 8936, 4),
  ];
}

Deno.test("Uploader with zero-copy sends puts the same datagrams on the wire, large blocks only through it", async () => {
  const size = 5 * PIECE + 321;
  const content = await contentOf(size, PIECE, 5);

  const plain = await serveAll("plain", requests(content), { size });
  const zero = await serveAll("zero-copy", requests(content), { size });
  const refused = await serveAll("refused", requests(content), { size });
  const notAccepted = await serveAll("not-accepted", requests(content), { size });
  assert.ok(plain.wire.length > 20);
  assertBlocksOf(plain.wire, plain.data);
  assert.deepEqual(zero.wire, plain.wire);
  assert.deepEqual(refused.wire, plain.wire, "a refused zero-copy send goes out the ordinary way");
  assert.deepEqual(notAccepted.wire, plain.wire);
  // 6 blocks of 32 KiB (the 5000-byte tail is below the minimum), 4 of 16 KiB, 2 of 8936
  assert.equal(zero.ways.file, 12);
  assert.ok(zero.ways.sizes.every((n) => n >= FILE_SEND_MIN));
  assert.equal(zero.ways.send, plain.wire.length - 12);
  assert.equal(refused.ways.refused, 12);
  assert.equal(notAccepted.ways.sizes.length, 0, "a descriptor not accepted is never handed over");
});

Deno.test("Uploader with zero-copy sends: blocks the route refused as too large go the ordinary way, without an fstat", async () => {
  const size = 5 * PIECE + 321;
  const content = await contentOf(size, PIECE, 5);
  const plain = await serveAll("plain", requests(content), { size });
  const zero = await serveAll("zero-copy", requests(content), { size });
  const capped = await serveAll("capped", requests(content), { size });
  assert.deepEqual(capped.wire, plain.wire);
  // 4 blocks of 16 KiB and 2 of 8936 fit; the 32 KiB ones are never handed over
  assert.equal(capped.ways.file, 6);
  assert.ok(capped.ways.sizes.every((n) => n + 16 <= CAPPED));
  // The size is asked once per request with a block that would be tried: not for the first
  assert.equal(zero.ways.sizeCalls, 3);
  assert.equal(capped.ways.sizeCalls, 2);
});

Deno.test("Uploader with zero-copy sends: a file that got shorter sends what it has, then ERROR out_of_range", async () => {
  const size = 4 * PIECE;
  const content = await contentOf(size, PIECE, 5);
  const req = [blockRequest(content, [{ offset: 0, length: 3 * PIECE }], 32 * 1024, 9)];
  const plain = await serveAll("plain", req, { size, truncateTo: PIECE + 5000 });
  const zero = await serveAll("zero-copy", req, { size, truncateTo: PIECE + 5000 });
  assert.deepEqual(zero.wire, plain.wire);
  const codes = errorsOf(zero.wire.map((msg) => ({ msg }))).map((e) => e.code);
  assert.deepEqual(codes, [ErrorCode.out_of_range]);
  assert.equal(zero.ways.file, 2, "the two whole blocks before the cut went out uncopied");
});
