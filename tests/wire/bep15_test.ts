import assert from "node:assert/strict";
import {
  BEP15_MAX_SCRAPE_HASHES,
  decodeBep15Reply,
  decodeBep15Request,
  encodeBep15Announce,
  encodeBep15AnnounceRequest,
  encodeBep15ConnectRequest,
  encodeBep15Error,
  encodeBep15Scrape,
  encodeBep15ScrapeRequest,
  writeBep15Connect,
} from "../../lib/wire/bep15.ts";
import { WireError } from "../../lib/wire/wire_error.ts";

const opts = { permissions: "none" } as const;
const hash = (n: number) => new Uint8Array(20).fill(n);

function reason(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof WireError, `expected a WireError, got ${e}`);
    return e.reason;
  }
  assert.fail("expected a WireError");
}

Deno.test("encodeBep15ConnectRequest() matches BEP 15 byte for byte", opts, () => {
  assert.deepEqual(
    [...encodeBep15ConnectRequest(0x01020304)],
    [0, 0, 4, 0x17, 0x27, 0x10, 0x19, 0x80, 0, 0, 0, 0, 1, 2, 3, 4],
  );
  assert.deepEqual(decodeBep15Request(encodeBep15ConnectRequest(7)), {
    action: "connect",
    txid: 7,
  });
});

Deno.test(
  "decodeBep15Request() refuses a connect of every wrong length and protocol id",
  opts,
  () => {
    const ok = encodeBep15ConnectRequest(1);
    for (let n = 0; n < 16; n++) {
      assert.equal(
        reason(() => decodeBep15Request(ok.slice(0, n))),
        "truncated",
      );
    }
    const long = new Uint8Array(17);
    long.set(ok);
    assert.equal(reason(() => decodeBep15Request(long)), "trailing_bytes");
    const bad = ok.slice();
    bad[7] = 0x81;
    assert.equal(reason(() => decodeBep15Request(bad)), "bad_magic");
  },
);

Deno.test(
  "encodeBep15AnnounceRequest() and decodeBep15Request() agree on every field",
  opts,
  () => {
    const bytes = encodeBep15AnnounceRequest({
      connectionId: 0x8877665544332211n,
      txid: 0xfffffffe,
      infoHash: hash(0xab),
      peerId: hash(0xcd),
      downloaded: 2 ** 40 + 3,
      left: 5,
      uploaded: 2 ** 33,
      event: "completed",
      ip: 0x7f000001,
      key: 0xdeadbeef,
      numWant: 30,
      port: 51413,
    });
    assert.equal(bytes.byteLength, 98);
    const r = decodeBep15Request(bytes);
    assert.equal(r.action, "announce");
    if (r.action !== "announce") return;
    assert.equal(r.connectionId, 0x8877665544332211n);
    assert.equal(r.txid, 0xfffffffe);
    assert.deepEqual([...r.infoHash], [...hash(0xab)]);
    assert.deepEqual([...r.peerId], [...hash(0xcd)]);
    assert.equal(r.downloaded, 2 ** 40 + 3);
    assert.equal(r.left, 5);
    assert.equal(r.uploaded, 2 ** 33);
    assert.equal(r.event, "completed");
    assert.equal(r.ip, 0x7f000001);
    assert.equal(r.key, 0xdeadbeef);
    assert.equal(r.numWant, 30);
    assert.equal(r.port, 51413);
    // num_want -1 by default; the event byte sits at offset 80-83.
    const d = decodeBep15Request(
      encodeBep15AnnounceRequest({ connectionId: 1n, txid: 1, infoHash: hash(1), port: 1 }),
    );
    assert.ok(d.action === "announce" && d.numWant === -1 && d.event === "none");
  },
);

Deno.test(
  "decodeBep15Request() refuses an announce of every length below 98 and an unknown event",
  opts,
  () => {
    const ok = encodeBep15AnnounceRequest({
      connectionId: 9n,
      txid: 1,
      infoHash: hash(1),
      port: 1,
    });
    for (let n = 16; n < 98; n++) {
      assert.equal(reason(() => decodeBep15Request(ok.slice(0, n))), "truncated", `length ${n}`);
    }
    const bad = ok.slice();
    bad[83] = 4;
    assert.equal(reason(() => decodeBep15Request(bad)), "bad_value");
  },
);

Deno.test("decodeBep15Request() checks and skips BEP 41 options after an announce", opts, () => {
  const ok = encodeBep15AnnounceRequest({ connectionId: 9n, txid: 1, infoHash: hash(1), port: 1 });
  const withOptions = (...tail: number[]) => {
    const b = new Uint8Array(98 + tail.length);
    b.set(ok);
    b.set(tail, 98);
    return b;
  };
  // URL data "/announce", a NOP, end of options, then ignored bytes.
  const url = [..."/announce"].map((c) => c.charCodeAt(0));
  assert.equal(
    decodeBep15Request(withOptions(2, url.length, ...url, 1, 0, 99, 99)).action,
    "announce",
  );
  assert.equal(decodeBep15Request(withOptions(1, 1, 1)).action, "announce");
  assert.equal(reason(() => decodeBep15Request(withOptions(2))), "truncated"); // no length
  assert.equal(reason(() => decodeBep15Request(withOptions(2, 5, 1, 2))), "truncated"); // short
  assert.equal(reason(() => decodeBep15Request(withOptions(9, 3, 1))), "truncated"); // unknown type
});

Deno.test(
  "decodeBep15Request() takes scrapes of 0 to 74 info hashes and refuses 75 and partial hashes",
  opts,
  () => {
    for (const n of [0, 1, 74]) {
      const hashes = Array.from({ length: n }, (_, i) => hash(i));
      const r = decodeBep15Request(encodeBep15ScrapeRequest(5n, 3, hashes));
      assert.ok(r.action === "scrape");
      assert.equal(r.infoHashes.length, n);
      assert.deepEqual(r.infoHashes.map((h) => h[0]), hashes.map((h) => h[0]));
    }
    const hashes75 = Array.from({ length: BEP15_MAX_SCRAPE_HASHES + 1 }, (_, i) => hash(i));
    assert.equal(
      reason(() => decodeBep15Request(encodeBep15ScrapeRequest(5n, 3, hashes75))),
      "too_many",
    );
    const one = encodeBep15ScrapeRequest(5n, 3, [hash(1)]);
    for (let n = 17; n < 36; n++) {
      assert.equal(reason(() => decodeBep15Request(one.slice(0, n))), "bad_length", `length ${n}`);
    }
  },
);

Deno.test(
  "decodeBep15Request() refuses every action but connect, announce and scrape",
  opts,
  () => {
    const b = encodeBep15ScrapeRequest(5n, 3, []);
    for (const action of [3, 4, 255, 0x100, 0xffffffff]) {
      new DataView(b.buffer).setUint32(8, action);
      assert.equal(reason(() => decodeBep15Request(b)), "unknown_type", `action ${action}`);
    }
  },
);

Deno.test("replies encode and decode: connect, IPv4 and IPv6 announce, scrape, error", opts, () => {
  const c = writeBep15Connect(new Uint8Array(16), 9, 0x0102030405060708n);
  assert.deepEqual(decodeBep15Reply(c, 4), {
    action: "connect",
    txid: 9,
    connectionId: 0x0102030405060708n,
  });

  const v4 = encodeBep15Announce(4, 1800, 3, 2, [
    { address: new Uint8Array([10, 0, 0, 1]), port: 6881 },
    { address: new Uint8Array([10, 0, 0, 2]), port: 6882 },
  ]);
  assert.equal(v4.byteLength, 20 + 12);
  assert.deepEqual([...v4.subarray(20, 26)], [10, 0, 0, 1, 0x1a, 0xe1]);
  const d4 = decodeBep15Reply(v4, 4);
  assert.ok(d4.action === "announce");
  assert.deepEqual(
    [d4.interval, d4.leechers, d4.seeders, d4.peers.length, d4.peers[1]!.port],
    [1800, 3, 2, 2, 6882],
  );

  const a6 = new Uint8Array(16);
  a6[15] = 1;
  const v6 = encodeBep15Announce(5, 60, 0, 1, [{ address: a6, port: 443 }]);
  assert.equal(v6.byteLength, 20 + 18);
  const d6 = decodeBep15Reply(v6, 6);
  assert.ok(
    d6.action === "announce" && d6.peers[0]!.address[15] === 1 && d6.peers[0]!.port === 443,
  );
  assert.equal(reason(() => decodeBep15Reply(v6.subarray(0, 37), 6)), "bad_length");
  assert.equal(reason(() => decodeBep15Reply(v4.subarray(0, 19), 4)), "truncated");
  assert.throws(
    () =>
      encodeBep15Announce(1, 1, 0, 0, [{ address: a6, port: 1 }, {
        address: new Uint8Array(4),
        port: 1,
      }]),
    RangeError,
  );

  const s = encodeBep15Scrape(6, [{ seeders: 1, completed: 2, leechers: 3 }]);
  assert.deepEqual(decodeBep15Reply(s, 4), {
    action: "scrape",
    txid: 6,
    entries: [{ seeders: 1, completed: 2, leechers: 3 }],
  });
  assert.equal(reason(() => decodeBep15Reply(s.subarray(0, 19), 4)), "bad_length");

  const e = encodeBep15Error(7, "Connection id is stale or wrong", 16)!;
  assert.equal(e.byteLength, 16);
  assert.deepEqual(decodeBep15Reply(e, 4), { action: "error", txid: 7, message: "Connecti" });
  assert.equal(encodeBep15Error(7, "x", 7), undefined);
  assert.equal(
    reason(() => decodeBep15Reply(new Uint8Array(8).fill(0, 0, 3).fill(4, 3, 4), 4)),
    "unknown_type",
  );
  for (let n = 0; n < 8; n++) {
    assert.equal(reason(() => decodeBep15Reply(new Uint8Array(n), 4)), "truncated");
  }
});

Deno.test(
  "decodeBep15Request() is total: random datagrams decode or throw a WireError",
  opts,
  () => {
    let seed = 12345;
    const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    for (let i = 0; i < 5000; i++) {
      const b = new Uint8Array(Math.floor(rand() * 200));
      for (let j = 0; j < b.length; j++) b[j] = rand() < 0.5 ? 0 : Math.floor(rand() * 256);
      if (b.length > 11) b[11] = Math.floor(rand() * 4);
      try {
        decodeBep15Request(b);
      } catch (e) {
        assert.ok(e instanceof WireError, String(e));
      }
      try {
        decodeBep15Reply(b, rand() < 0.5 ? 4 : 6);
      } catch (e) {
        assert.ok(e instanceof WireError, String(e));
      }
    }
  },
);
