import assert from "node:assert/strict";
import { decodeMessage } from "../../lib/wire/codec.ts";
import { ErrorCode, type Message } from "../../lib/wire/messages.ts";
import { Uploader } from "../../lib/peer/uploader.ts";
import { Prng } from "../../lib/sim/prng.ts";
import {
  assertBlocksOf,
  contentOf,
  serveAndClose,
  sharedFile as sharedTestFile,
} from "./_shared_file.ts";
import { blockRequest, errorsOf, type UploadRequest } from "./_upload_requests.ts";

const FROM: Deno.NetAddr = { transport: "udp", hostname: "127.0.0.1", port: 40000 };
const PIECE = 16 * 1024;

/** A shared file of `size` random bytes in 16 KiB pieces. */
function sharedFile(size: number) {
  return sharedTestFile(size, PIECE, 3);
}

type Mode = "plain" | "gso" | "refused";

/**
 * Serves `requests` with an uploader in `mode` and returns every datagram it put on the wire, in
 * order (a GSO call split at its segment size), and the GSO calls' shapes.
 */
async function serveAll(
  mode: Mode,
  requests: UploadRequest[],
  options: { size: number; truncateTo?: number },
) {
  const s = await sharedFile(options.size);
  const wire: Message[] = [];
  const calls: { segment: number; bytes: number; count: number }[] = [];
  const up = new Uploader({
    send: (bytes) => void wire.push(decodeMessage(bytes.slice())),
    ...(mode === "plain" ? {} : {
      sendSegments: (bytes: Uint8Array, segment: number) => {
        if (mode === "refused") return false;
        calls.push({
          segment,
          bytes: bytes.byteLength,
          count: Math.ceil(bytes.byteLength / segment),
        });
        for (let at = 0; at < bytes.byteLength; at += segment) {
          wire.push(decodeMessage(bytes.slice(at, Math.min(bytes.byteLength, at + segment))));
        }
        return true;
      },
    }),
  });
  await serveAndClose(up, s, requests, FROM, options.truncateTo);
  return { wire, calls, data: s.data };
}

/** The requests both tests send: 1436-byte blocks across pieces, a short tail, two ranges. */
function requests(content: { contentId: Uint8Array }): UploadRequest[] {
  return [
    blockRequest(content, [{ offset: 0, length: 3 * PIECE }], 1436, 1),
    blockRequest(
      content,
      [{ offset: 5 * PIECE + 100, length: 70_000 }, { offset: 40, length: 9 }],
      1436,
      2,
    ),
    // 32 KiB blocks cannot be two to a GSO send: each goes alone
    blockRequest(content, [{ offset: 0, length: 4 * PIECE }], 32 * 1024, 3),
  ];
}

Deno.test("Uploader with GSO sends the same datagrams in the same order as without, batched by size", async () => {
  const size = 12 * PIECE + 777;
  const content = await contentOf(size, PIECE, 3);

  const plain = await serveAll("plain", requests(content), { size });
  const gso = await serveAll("gso", requests(content), { size });
  const refused = await serveAll("refused", requests(content), { size });
  assert.ok(plain.wire.length > 60);
  assertBlocksOf(plain.wire, plain.data);
  assert.deepEqual(gso.wire, plain.wire);
  assert.deepEqual(refused.wire, plain.wire, "a refused GSO send goes out datagram by datagram");
  assert.ok(gso.calls.length > 0);
  for (const c of gso.calls) {
    assert.ok(c.count >= 2 && c.count <= 64, `segments per send: ${c.count}`);
    assert.ok(c.bytes <= 65507);
  }
  // 16 KiB pieces of 1436-byte blocks: 11 full blocks and a 584-byte tail per piece, so a
  // send ends at each piece's tail
  assert.equal(gso.calls[0]!.segment, 1452);
  assert.equal(gso.calls[0]!.count, 12);
});

Deno.test("Uploader with GSO: a short read sends the blocks read before it, then ERROR out_of_range", async () => {
  const size = 6 * PIECE;
  const content = await contentOf(size, PIECE, 3);
  const req = [blockRequest(content, [{ offset: 0, length: 4 * PIECE }], 1436, 9)];
  const plain = await serveAll("plain", req, { size, truncateTo: PIECE + 5000 });
  const gso = await serveAll("gso", req, { size, truncateTo: PIECE + 5000 });
  assert.deepEqual(gso.wire, plain.wire);
  const codes = errorsOf(gso.wire.map((msg) => ({ msg }))).map((e) => e.code);
  assert.deepEqual(codes, [ErrorCode.out_of_range]);
  assert.ok(gso.wire.length > 12, "the blocks before the short read went out");
});

Deno.test("Uploader with GSO: scattered re-requests read the right bytes (the read-ahead never serves stale data)", async () => {
  const size = 40 * PIECE + 123;
  const content = await contentOf(size, PIECE, 3);
  const rnd = new Prng(11);
  const reqs: UploadRequest[] = [];
  for (let i = 0; i < 60; i++) {
    const ranges = [];
    for (let k = 0; k < 1 + (i % 3); k++) {
      const offset = Math.floor(rnd.next() * (size - 5000));
      ranges.push({ offset, length: 1 + Math.floor(rnd.next() * 4000) });
    }
    reqs.push(blockRequest(content, ranges, 1436, 100 + i));
  }
  const plain = await serveAll("plain", reqs, { size });
  const gso = await serveAll("gso", reqs, { size });
  assert.ok(plain.wire.length > 100);
  assert.deepEqual(gso.wire, plain.wire);
});

Deno.test("Uploader with GSO and coalesce: the blocks of one turn's requests to a downloader leave in one send, before any ERROR, split by destination", async () => {
  const s = await sharedFile(8 * PIECE);
  const other: Deno.NetAddr = { transport: "udp", hostname: "127.0.0.2", port: 40001 };
  const wire: { to: number; msg: Message }[] = [];
  const calls: { count: number; to: number }[] = [];
  const up = new Uploader({
    send: (bytes, to) => void wire.push({ to: to.port, msg: decodeMessage(bytes.slice()) }),
    sendSegments: (bytes, segment, to) => {
      calls.push({ count: Math.ceil(bytes.byteLength / segment), to: to.port });
      for (let at = 0; at < bytes.byteLength; at += segment) {
        const one = bytes.slice(at, Math.min(bytes.byteLength, at + segment));
        wire.push({ to: to.port, msg: decodeMessage(one) });
      }
      return true;
    },
    coalesce: true,
  });
  const ask = (from: Deno.NetAddr, offset: number, txid: number, cookie?: bigint) =>
    up.handleRequest(
      {
        ...blockRequest(s, [{ offset, length: 5 * 1436 }], 1436, txid),
        cookie: cookie ?? up.cookieFor(from, 0),
      },
      from,
      0,
    );
  try {
    up.share({ path: s.path, manifest: s.manifest, encoded: s.encoded });
    // Turn 1: two requests from one downloader, then one from another
    ask(FROM, 0, 1);
    ask(FROM, 5 * 1436, 2);
    assert.equal(wire.length, 0, "nothing leaves before the turn ends");
    ask(other, 0, 3);
    await Promise.resolve();
    assert.deepEqual(calls, [{ count: 10, to: FROM.port }, { count: 5, to: other.port }]);
    const txids = wire.map((w) => w.msg.type === "block_data" ? w.msg.txid : -1);
    assert.deepEqual(txids, [1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3]);
    for (const w of wire) {
      if (w.msg.type !== "block_data") continue;
      assert.deepEqual(w.msg.data, s.data.subarray(w.msg.offset, w.msg.offset + 1436));
    }
    // Turn 2: a request, then one with a forged cookie: its ERROR comes after the blocks
    wire.length = 0;
    calls.length = 0;
    ask(FROM, 0, 4);
    ask(FROM, 0, 5, 12345n);
    assert.deepEqual(calls, [{ count: 5, to: FROM.port }], "the ERROR sent the batch first");
    assert.deepEqual(wire.map((w) => w.msg.type), [...Array(5).fill("block_data"), "error"]);
    await Promise.resolve();
    assert.equal(calls.length, 1);
    // Closed with a batch open: it is dropped, not sent
    ask(FROM, 0, 6);
    up.close();
    await Promise.resolve();
    assert.equal(calls.length, 1);
  } finally {
    up.close();
    await Deno.remove(s.dir, { recursive: true });
  }
});
