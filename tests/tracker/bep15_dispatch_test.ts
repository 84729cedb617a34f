import assert from "node:assert/strict";
import {
  Bep15Dispatch,
  formatBep15Event,
  isBep15Datagram,
} from "../../lib/tracker/bep15_dispatch.ts";
import {
  decodeBep15Reply,
  encodeBep15AnnounceRequest,
  encodeBep15ConnectRequest,
  encodeBep15ScrapeRequest,
} from "../../lib/wire/bep15.ts";

const opts = { permissions: "none" } as const;
const hash = (n: number) => new Uint8Array(20).fill(n);
const A = { hostname: "10.0.0.1", port: 4000 };
const B = { hostname: "10.0.0.2", port: 5000 };
let keySeed = 0;
const randomBytes = (n: number) => new Uint8Array(n).fill(++keySeed);

/** A memory-store dispatcher's reply, which is never a Promise. */
function answer(
  d: Bep15Dispatch,
  bytes: Uint8Array,
  from: { hostname: string; port: number },
  now: number,
): Uint8Array | undefined {
  const r = d.handleDatagram(bytes, from, now);
  assert.ok(!(r instanceof Promise));
  return r;
}

function dispatch(extra: Partial<ConstructorParameters<typeof Bep15Dispatch>[0]> = {}) {
  return new Bep15Dispatch({ now: 0, randomBytes, random: () => 0, ...extra });
}

function connect(d: Bep15Dispatch, from: typeof A, now = 0): bigint {
  const req = encodeBep15ConnectRequest(0xabcdef01);
  const reply = answer(d, req, from, now)!;
  assert.equal(reply.byteLength, req.byteLength); // 16 for 16: no amplification
  const r = decodeBep15Reply(reply, 4);
  assert.ok(r.action === "connect" && r.txid === 0xabcdef01);
  return r.connectionId;
}

function announce(
  d: Bep15Dispatch,
  from: typeof A,
  connectionId: bigint,
  now: number,
  extra: Partial<Parameters<typeof encodeBep15AnnounceRequest>[0]> = {},
) {
  const req = encodeBep15AnnounceRequest({
    connectionId,
    txid: 77,
    infoHash: hash(1),
    port: from.port,
    left: 10,
    ...extra,
  });
  const reply = answer(d, req, from, now);
  return reply === undefined
    ? undefined
    : decodeBep15Reply(reply, from.hostname.includes(":") ? 6 : 4);
}

Deno.test("Bep15Dispatch answers connect, then announce with the connection id", opts, () => {
  const d = dispatch();
  const idA = connect(d, A), idB = connect(d, B);
  assert.equal(announce(d, A, idA, 1)?.action, "announce");
  const r = announce(d, B, idB, 2, { left: 0, event: "started" });
  assert.ok(r?.action === "announce");
  assert.deepEqual([r.txid, r.interval, r.leechers, r.seeders], [77, 30, 1, 1]);
  assert.deepEqual(r.peers.map((p) => `${p.address.join(".")}:${p.port}`), ["10.0.0.1:4000"]);
  assert.equal(d.counters.announces, 2);
  const lines = [];
  for (let e = d.pollEvent(); e; e = d.pollEvent()) lines.push(formatBep15Event(e));
  assert.deepEqual(lines, [
    `bep15 announce ${"01".repeat(20)} from 10.0.0.1:4000: joined as leecher`,
    `bep15 announce ${"01".repeat(20)} from 10.0.0.2:5000: joined as seeder`,
  ]);
});

Deno.test(
  "Bep15Dispatch connection ids are bound to the address and port, and never start with US",
  opts,
  () => {
    const d = dispatch();
    const id = connect(d, A);
    for (const other of [B, { hostname: A.hostname, port: A.port + 1 }]) {
      const r = announce(d, other, id, 1);
      assert.ok(r?.action === "error");
      assert.match(r.message, /^Connection id is stale or wrong/);
    }
    assert.equal(d.counters.badConnectionIds, 2);
    // Every id's first byte has bit 1 set ("session" kind), so "US" (0x55) is impossible.
    for (let i = 0; i < 2000; i++) {
      const c = connect(d, { hostname: `10.${i >> 8}.${i & 255}.1`, port: 1 + i });
      assert.ok(((c >> 56n) & 2n) === 2n);
      const announceBytes = encodeBep15AnnounceRequest({
        connectionId: c,
        txid: 1,
        infoHash: hash(1),
        port: 1,
      });
      assert.ok(isBep15Datagram(announceBytes));
    }
  },
);

Deno.test(
  "Bep15Dispatch accepts the previous period's id and refuses an expired one with a small error",
  opts,
  () => {
    const d = dispatch({ connectionEpochMs: 120_000 });
    const id = connect(d, A, 100_000);
    assert.equal(announce(d, A, id, 119_999)?.action, "announce");
    assert.equal(announce(d, A, id, 200_000)?.action, "announce"); // previous key, still valid
    assert.equal(d.epoch, 1);
    // Two rotations later the id is stale, even though its source is in the verified cache.
    const req = encodeBep15AnnounceRequest({
      connectionId: id,
      txid: 5,
      infoHash: hash(1),
      port: 1,
    });
    const reply = answer(d, req, A, 240_001)!;
    assert.ok(reply.byteLength <= req.byteLength);
    assert.deepEqual(decodeBep15Reply(reply, 4), {
      action: "error",
      txid: 5,
      message: "Connection id is stale or wrong: connect again",
    });
    // A fresh connect works again; a forged id for a scrape of no hashes gets an error cut to 16 bytes.
    assert.equal(announce(d, A, connect(d, A, 240_002), 240_003)?.action, "announce");
    const forged = encodeBep15ScrapeRequest((0x02n << 56n) | 0x1234n, 9, []);
    const small = answer(d, forged, B, 240_004)!;
    assert.equal(small.byteLength, 16);
    assert.equal(decodeBep15Reply(small, 4).action, "error");
  },
);

Deno.test("Bep15Dispatch scrapes 0 and 74 info hashes, and refuses 75 with an error", opts, () => {
  const d = dispatch();
  const id = connect(d, A);
  announce(d, A, id, 1, { left: 0, event: "completed" });
  announce(d, B, connect(d, B), 1, { left: 5 });
  const zero = decodeBep15Reply(answer(d, encodeBep15ScrapeRequest(id, 3, []), A, 2)!, 4);
  assert.deepEqual(zero, { action: "scrape", txid: 3, entries: [] });
  const hashes = Array.from({ length: 74 }, (_, i) => hash(i + 1));
  const full = decodeBep15Reply(
    answer(d, encodeBep15ScrapeRequest(id, 4, hashes), A, 2)!,
    4,
  );
  assert.ok(full.action === "scrape");
  assert.equal(full.entries.length, 74);
  assert.deepEqual(full.entries[0], { seeders: 1, completed: 1, leechers: 1 });
  assert.deepEqual(full.entries[1], { seeders: 0, completed: 0, leechers: 0 });
  const req75 = encodeBep15ScrapeRequest(id, 5, [...hashes, hash(99)]);
  const r75 = decodeBep15Reply(answer(d, req75, A, 2)!, 4);
  assert.ok(r75.action === "error" && r75.txid === 5);
  assert.match(r75.message, /75 info hashes, at most 74/);
  const partial = answer(d, encodeBep15ScrapeRequest(id, 6, [hash(1)]).subarray(0, 30), A, 2)!;
  assert.equal(decodeBep15Reply(partial, 4).action, "error");
});

Deno.test(
  "Bep15Dispatch drops malformed connects and answers malformed announces with an error",
  opts,
  () => {
    const d = dispatch();
    const bad = encodeBep15ConnectRequest(1);
    bad[3] = 9; // wrong protocol id
    assert.equal(answer(d, bad, A, 0), undefined);
    const long = new Uint8Array(17);
    long.set(encodeBep15ConnectRequest(1));
    assert.equal(answer(d, long, A, 0), undefined);
    assert.equal(answer(d, new Uint8Array(15), A, 0), undefined);
    assert.equal(d.counters.malformed, 3);
    const id = connect(d, A);
    const short = encodeBep15AnnounceRequest({
      connectionId: id,
      txid: 8,
      infoHash: hash(1),
      port: 1,
    }).subarray(0, 60);
    const r = decodeBep15Reply(answer(d, short, A, 1)!, 4);
    assert.ok(r.action === "error" && r.txid === 8);
    assert.equal(d.counters.announces, 0);
  },
);

Deno.test("Bep15Dispatch rate-limits each source with the native limits", opts, () => {
  const d = dispatch({ limits: { requestsPerSecond: 10, burst: 3 } });
  const req = encodeBep15ConnectRequest(1);
  for (let i = 0; i < 3; i++) assert.equal(answer(d, req, A, 0)?.byteLength, 16);
  // The first drop gets one small error; later ones get nothing.
  const first = answer(d, req, A, 0)!;
  assert.equal(decodeBep15Reply(first, 4).action, "error");
  assert.ok(first.byteLength <= 16);
  assert.equal(answer(d, req, A, 0), undefined);
  assert.equal(answer(d, req, B, 0)?.byteLength, 16); // other sources are unaffected
  assert.equal(answer(d, req, A, 100)?.byteLength, 16); // refilled: 10/s
  assert.equal(d.counters.rateLimited, 2);
});

Deno.test(
  "Bep15Dispatch serves IPv6 sources with 18-byte peers and IPv4-mapped sources as IPv4",
  opts,
  () => {
    const d = dispatch();
    const six1 = { hostname: "2001:db8::1", port: 6881 },
      six2 = { hostname: "2001:db8::2", port: 6882 };
    const mapped = { hostname: "::ffff:10.0.0.9", port: 7000 };
    announce(d, six1, connect(d, six1), 1);
    announce(d, A, connect(d, A), 1);
    const r6 = announce(d, six2, connect(d, six2), 2);
    assert.ok(r6?.action === "announce");
    assert.equal(r6.leechers, 3);
    assert.equal(r6.peers.length, 1);
    assert.equal(r6.peers[0]!.address.byteLength, 16);
    assert.equal(r6.peers[0]!.port, 6881);
    const idm = connect(d, mapped);
    const rm = decodeBep15Reply(
      answer(
        d,
        encodeBep15AnnounceRequest({
          connectionId: idm,
          txid: 1,
          infoHash: hash(1),
          port: 7000,
          left: 1,
        }),
        mapped,
        3,
      )!,
      4,
    );
    assert.ok(rm.action === "announce");
    assert.deepEqual(rm.peers.map((p) => `${p.address.join(".")}:${p.port}`), ["10.0.0.1:4000"]);
  },
);

Deno.test(
  "Bep15Dispatch.handleTimeout() expires silent peers and reports its next deadline",
  opts,
  () => {
    const d = dispatch({ intervalMs: 10_000, grace: 0.5, connectionEpochMs: 1_000_000 });
    announce(d, A, connect(d, A), 0);
    assert.equal(d.pollTimeout(), 10_000); // the limiter sweep comes first
    d.handleTimeout(10_000);
    assert.equal(d.pollTimeout(), 15_001);
    d.handleTimeout(15_001);
    assert.equal(d.swarms.peerCount, 0);
    const types = [];
    for (let e = d.pollEvent(); e; e = d.pollEvent()) types.push(e.type);
    assert.deepEqual(types, ["bep15_join", "bep15_expired"]);
  },
);

Deno.test(
  "isBep15Datagram() routes on the length, the action field and the first bytes",
  opts,
  () => {
    const announceWith = (connectionId: bigint) =>
      encodeBep15AnnounceRequest({ connectionId, txid: 1, infoHash: hash(1), port: 1 });
    assert.ok(isBep15Datagram(encodeBep15ConnectRequest(1)));
    assert.ok(isBep15Datagram(encodeBep15ScrapeRequest(0x02n << 56n, 1, [])));
    assert.ok(isBep15Datagram(announceWith(0xffn << 56n)));
    assert.ok(!isBep15Datagram(encodeBep15ConnectRequest(1).subarray(0, 15)));
    // A connect needs the protocol id; an announce or scrape an id with bit 1 of its first byte.
    const wrongId = encodeBep15ConnectRequest(1);
    wrongId[7] = 0x81;
    assert.ok(!isBep15Datagram(wrongId));
    assert.ok(!isBep15Datagram(announceWith(0x01n << 56n)));
    // Anything starting with "US" (0x55: bit 1 clear) is udpswarm's.
    assert.ok(!isBep15Datagram(encodeBep15ScrapeRequest(0x5553000000000000n, 1, [])));
    for (const [offset, value] of [[11, 3], [11, 255], [10, 1], [9, 1], [8, 1]] as const) {
      const b = encodeBep15ScrapeRequest(0x02n << 56n, 1, []);
      b[offset] = value;
      assert.ok(!isBep15Datagram(b), `byte ${offset} = ${value}`);
    }
  },
);
