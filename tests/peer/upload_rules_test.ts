/**
 * The uploader's rules without files or sockets: admission by address cookie, replies no larger
 * than the request for unproven sources, per-request, send-queue and rate caps, fairness between
 * requesters, unsharing mid-request and the counters, on a virtual clock.
 */
import assert from "node:assert/strict";
import { decodeMessage } from "../../lib/wire/codec.ts";
import { type ByteRange, ErrorCode, type Message } from "../../lib/wire/messages.ts";
import { contentIdOf, encodeManifest } from "../../lib/peer/manifest.ts";
import { toHex } from "../../lib/wire/hex.ts";
import { Bitset } from "../../lib/peer/core/bitset.ts";
import { MANIFEST_CROWD_SERVED } from "../../lib/peer/core/manifest_repeats.ts";
import type { BlockPlan } from "../../lib/peer/core/block_plan.ts";
import {
  PROBE_PAD_RATE,
  UploadRules,
  type UploadRulesOptions,
} from "../../lib/peer/core/upload_rules.ts";
import {
  blockRequest,
  manifestRequest,
  requestSize,
  type UploadRequest,
} from "./_upload_requests.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const PIECE = 16 * KiB;
const A: Deno.NetAddr = { transport: "udp", hostname: "192.0.2.1", port: 40000 };
const B: Deno.NetAddr = { transport: "udp", hostname: "192.0.2.2", port: 40000 };

/** A content the rules can share: only its manifest matters to them. */
function content(size: number, pieceSize = PIECE, salt = 0) {
  const hashes = new Uint8Array(32 * Math.ceil(size / pieceSize)).fill(salt);
  const manifest = { size, pieceSize, pieceHashes: hashes };
  const encoded = encodeManifest(manifest);
  return { manifest, encoded, contentId: contentIdOf(encoded), path: `c${salt}` };
}

type Content = ReturnType<typeof content>;

function rulesWith(options: UploadRulesOptions = {}): UploadRules {
  let k = 0;
  return new UploadRules({
    randomBytes: (n) => new Uint8Array(n).map(() => k++),
    ...options,
  });
}

/** Rules that share `c`. */
function sharing(c: Content, options: UploadRulesOptions = {}) {
  const rules = rulesWith(options);
  rules.share(c);
  return { rules, c };
}

/** A test of the pure core: no permissions, so a stray file or socket fails it. */
function test(name: string, fn: () => void): void {
  Deno.test({ name, permissions: "none", fn });
}

/** The request with the cookie the rules hand `from` now (what its PROBE_ACK carried). */
function proven<M extends { cookie: bigint }>(rules: UploadRules, m: M, from: Deno.NetAddr): M {
  return { ...m, cookie: rules.cookieFor(from, 0) };
}

/** Every queued datagram, decoded, with its size. */
function drain(rules: UploadRules): { msg: Message; size: number; to: Deno.NetAddr }[] {
  const out = [];
  for (let t = rules.pollTransmit(); t; t = rules.pollTransmit()) {
    out.push({ msg: decodeMessage(t.bytes), size: t.bytes.byteLength, to: t.to });
  }
  return out;
}

/** The one queued reply: an ERROR's code and text, or the message type. */
function reply(rules: UploadRules): string {
  const out = drain(rules);
  assert.equal(out.length, 1, `one reply, got ${out.length}`);
  const m = out[0]!.msg;
  return m.type === "error" ? `error ${m.code}: ${m.text}` : m.type;
}

/** Walks a plan to its end. */
function walk(plan: BlockPlan | undefined): [number, number][] {
  assert.ok(plan, "a plan of blocks");
  const blocks: [number, number][] = [];
  while (plan.next()) blocks.push([plan.offset, plan.length]);
  return blocks;
}

/** Asks for `ranges` as `from` at `now`: "ok" when admitted (the plan walked), else the reply. */
function ask(
  rules: UploadRules,
  c: Content,
  options: { from: Deno.NetAddr; now: number; ranges?: ByteRange[]; blockSize?: number },
): string {
  const ranges = options.ranges ?? [{ offset: 0, length: MiB }];
  const msg = proven(rules, blockRequest(c, ranges, options.blockSize ?? 60_000), options.from);
  const plan = rules.handleRequest(msg, options.from, options.now);
  if (plan) {
    walk(plan);
    assert.equal(drain(rules).length, 0);
    return "ok";
  }
  return reply(rules);
}

test("UploadRules.handleRequest() refuses an unproven source with one ERROR no larger than its request", () => {
  const { rules, c } = sharing(content(4 * PIECE), { cookieEpochMs: 1000 });
  const valid = rules.cookieFor(A, 0);
  const attempts: [string, bigint, Deno.NetAddr, number][] = [
    ["absent", 0n, A, 0],
    ["forged", valid ^ 0x10n, A, 0],
    ["for another IP", rules.cookieFor(B, 0), A, 0],
    ["used from another IP", valid, B, 0],
    ["used from another port of its IP (a spoofed source port)", valid, { ...A, port: 40001 }, 0],
    ["two epochs old", valid, A, 2000],
  ];
  const requests = [
    manifestRequest(c), // 56 bytes
    blockRequest(c, [{ offset: 0, length: PIECE }]), // 65 bytes
    blockRequest(c, [{ offset: 0, length: 1 }, { offset: PIECE, length: 1 }]), // 77 bytes
  ];
  for (const [what, cookie, from, now] of attempts) {
    for (const m of requests) {
      const size = requestSize(m);
      assert.equal(rules.handleRequest({ ...m, cookie }, from, now), undefined, what);
      const out = drain(rules);
      assert.equal(out.length, 1, `${what}: one reply`);
      const e = out[0]!.msg;
      assert.ok(e.type === "error" && e.code === ErrorCode.bad_cookie, what);
      assert.equal(e.txid, m.txid);
      assert.ok(out[0]!.size <= size, `${what}: ${out[0]!.size} > ${size} bytes`);
    }
  }
  assert.equal(rules.stats.errors.bad_cookie, attempts.length * requests.length);
  assert.equal(rules.stats.bytesSent + rules.stats.manifestBytesSent, 0);
  assert.deepEqual(rules.sources(), [], "unproven sources leave no per-requester state");
  assert.equal(rules.get(toHex(c.contentId))!.requests, 0);
});

test("UploadRules.handleRequest() admits a valid cookie from its address and port, for its epoch and the next", () => {
  const { rules, c } = sharing(content(PIECE), { cookieEpochMs: 1000 });
  const first = rules.cookieFor(A, 10);
  const tryCookie = (cookie: bigint, now: number, from = A) => {
    const plan = rules.handleRequest(
      { ...blockRequest(c, [{ offset: 0, length: 1 }]), cookie },
      from,
      now,
    );
    if (plan) return walk(plan).length === 1 ? "served" : "?";
    return reply(rules);
  };
  assert.equal(tryCookie(first, 999), "served");
  assert.match(tryCookie(first, 999, { ...A, port: 1 }), /^error 3:/, "another port of its IP");
  assert.equal(tryCookie(first, 1500), "served", "previous epoch: still valid");
  const second = rules.cookieFor(A, 1500);
  assert.notEqual(second, first);
  assert.match(tryCookie(first, 2000), /^error 3:/, "two rotations later: expired");
  assert.equal(tryCookie(second, 2000), "served");
  assert.match(tryCookie(second, 60_000), /^error 3:/, "after a long idle time: expired");
});

test("UploadRules.handleRequest() keeps every ERROR within the request's size", () => {
  const rules = rulesWith({ maxRequestDatagrams: 4 });
  const c = content(4 * PIECE);
  const have = new Bitset(4);
  have.set(0);
  const partial = content(4 * PIECE, PIECE, 1);
  rules.share(c);
  rules.share({ ...partial, have });
  const one = (m: UploadRequest) => proven(rules, m, A);
  const cases: [string, UploadRequest][] = [
    ["unknown content", one(blockRequest(content(PIECE, PIECE, 9), [{ offset: 0, length: 1 }]))],
    ["past the end", one(blockRequest(c, [{ offset: 4 * PIECE, length: 1 }]))],
    ["manifest past its end", proven(rules, manifestRequest(c, c.encoded.byteLength), A)],
    ["piece not verified", one(blockRequest(partial, [{ offset: PIECE, length: 1 }]))],
    ["too many datagrams", one(blockRequest(c, [{ offset: 0, length: 4 * PIECE }], 1000))],
  ];
  for (const [what, m] of cases) {
    const size = requestSize(m);
    assert.equal(rules.handleRequest(m, A, 0), undefined, what);
    const out = drain(rules);
    assert.equal(out.length, 1, what);
    assert.equal(out[0]!.msg.type, "error", what);
    assert.ok(out[0]!.size <= size, `${what}: ${out[0]!.size} > ${size} bytes`);
  }
  assert.deepEqual(rules.stats.errors, {
    unknown_content: 1,
    out_of_range: 3,
    busy: 1,
    bad_cookie: 0,
    choked: 0,
  });
});

test("UploadRules.handleRequest() plans blocks that never cross a range end, a piece or EOF", () => {
  const { rules, c } = sharing(content(3 * PIECE + 1000));
  const bs = 5000; // not a divisor of the piece size
  const ranges = [
    { offset: 100, length: 2 * PIECE }, // crosses the piece 0/1 boundary
    { offset: 3 * PIECE, length: 64 * KiB }, // clamped to the file end
  ];
  const plan = rules.handleRequest(proven(rules, blockRequest(c, ranges, bs), A), A, 0);
  assert.equal(plan?.txid, 7);
  assert.equal(plan?.to, A);
  assert.equal(plan?.contentIdHex, toHex(c.contentId));
  const expect: [number, number][] = [];
  for (const [start, end] of [[100, 100 + 2 * PIECE], [3 * PIECE, 3 * PIECE + 1000]]) {
    for (let off = start!; off < end!;) {
      const stop = Math.min(off + bs, end!, (Math.floor(off / PIECE) + 1) * PIECE);
      expect.push([off, stop - off]);
      off = stop;
    }
  }
  assert.deepEqual(walk(plan), expect);
  assert.equal(plan!.next(), false, "a finished plan stays finished");
  assert.equal(rules.stats.blocksSent, expect.length);
  assert.equal(rules.stats.bytesSent, 2 * PIECE + 1000);
});

test("UploadRules serves only the verified pieces of a partial content, read at every request", () => {
  const rules = rulesWith();
  const c = content(4 * PIECE);
  const have = new Bitset(4);
  have.set(1);
  rules.share({ ...c, have });
  assert.equal(
    ask(rules, c, { from: A, now: 0, ranges: [{ offset: PIECE, length: PIECE }] }),
    "ok",
  );
  const ranges = [{ offset: PIECE + 10, length: PIECE }];
  assert.equal(
    ask(rules, c, { from: A, now: 0, ranges }),
    `error ${ErrorCode.out_of_range}: piece 2 is not available here yet`,
  );
  have.set(2);
  assert.equal(ask(rules, c, { from: A, now: 0, ranges }), "ok");
});

test("UploadRules answers busy over the per-request caps", () => {
  const { rules, c } = sharing(content(8 * MiB, MiB), { maxRequestDatagrams: 100 });
  assert.match(
    ask(rules, c, { from: A, now: 0, ranges: [{ offset: 0, length: 4 * MiB + 1 }] }),
    /^error 10: request asks 4194305 bytes/,
  );
  const small = (length: number) =>
    ask(rules, c, { from: A, now: 0, ranges: [{ offset: 0, length }], blockSize: 1 });
  assert.match(small(101), /^error 10: request asks 101 bytes in 101 datagrams/);
  assert.equal(small(100), "ok");
  assert.equal(rules.stats.errors.busy, 2);
  assert.equal(rules.sources()[0]!.busy, 2);
});

test("UploadRules answers busy while the send queue is full, and admits again as sends settle", () => {
  const { rules, c } = sharing(content(64 * KiB), { maxPendingSends: 8 });
  const ranges = [{ offset: 0, length: 32 * KiB }];
  assert.equal(ask(rules, c, { from: A, now: 0, ranges, blockSize: 4 * KiB }), "ok");
  for (let i = 0; i < 8; i++) rules.handleSendQueued();
  assert.equal(rules.pendingSends, 8);
  const one = [{ offset: 0, length: 4 * KiB }];
  assert.equal(
    ask(rules, c, { from: B, now: 0, ranges: one, blockSize: 4 * KiB }),
    `error ${ErrorCode.busy}: send queue full (8 datagrams pending)`,
  );
  rules.handleSendSettled();
  assert.equal(ask(rules, c, { from: B, now: 0, ranges: one, blockSize: 4 * KiB }), "ok");
  // With nothing pending, even a request larger than the queue is admitted (never stuck)
  for (let i = 0; i < 7; i++) rules.handleSendSettled();
  const big = [{ offset: 0, length: 64 * KiB }];
  assert.equal(ask(rules, c, { from: B, now: 0, ranges: big, blockSize: 4 * KiB }), "ok");
});

test("UploadRules token buckets: a greedy requester is held to its own rate while another is served", () => {
  const { rules, c } = sharing(content(8 * MiB, MiB), {
    sourceRate: 1 * MiB,
    sourceBurst: 2 * MiB,
    maxRequestBytes: 1 * MiB,
    totalRate: 2 * MiB,
    totalBurst: 3 * MiB,
  });
  const at = (from: Deno.NetAddr, now: number) => ask(rules, c, { from, now });
  assert.equal(at(A, 0), "ok");
  assert.equal(at(A, 0), "ok");
  assert.equal(at(A, 0), `error ${ErrorCode.busy}: rate limit: retry in 1000 ms`);
  // A spent its burst, not the total's: B is served at once
  assert.equal(at(B, 0), "ok");
  assert.equal(at(A, 500), `error ${ErrorCode.busy}: rate limit: retry in 500 ms`);
  // The total (3 MiB burst, 2 MiB/s) is shared: 3 spent at t=0, 2 refilled by t=1000
  assert.equal(at(A, 1000), "ok");
  assert.equal(at(B, 1000), "ok");
  const C = { ...B, port: 40002 };
  assert.equal(at(C, 1000), `error ${ErrorCode.busy}: rate limit: retry in 500 ms`);
  assert.equal(at(C, 1500), "ok");
  const stats = rules.sources();
  assert.deepEqual(stats.map((s) => [s.address, s.bytes, s.busy]), [
    ["192.0.2.1|40000", 3 * MiB, 2],
    ["192.0.2.2|40000", 2 * MiB, 0],
    ["192.0.2.2|40002", 1 * MiB, 1],
  ]);
});

test("UploadRules.unshare() mid-request ends the plan; what was walked counts, later requests get unknown_content", () => {
  const rules = rulesWith();
  const c = content(4 * PIECE);
  const info = rules.share(c);
  const plan = rules.handleRequest(
    proven(rules, blockRequest(c, [{ offset: 0, length: 4 * PIECE }], PIECE), A),
    A,
    0,
  )!;
  assert.ok(plan.next());
  assert.ok(plan.next());
  assert.equal(rules.unshare(toHex(c.contentId).toUpperCase()), true);
  assert.equal(plan.next(), false);
  assert.equal(plan.active, false);
  assert.equal(rules.stats.bytesSent, PIECE, "the first block was walked past; the second not");
  assert.equal(info.bytesServed, PIECE);
  assert.equal(rules.has(toHex(c.contentId)), false);
  assert.equal(rules.unshare(toHex(c.contentId)), false);
  assert.equal(
    ask(rules, c, { from: A, now: 0, ranges: [{ offset: 0, length: 1 }] }),
    `error ${ErrorCode.unknown_content}: content is not shared here`,
  );
});

test("UploadRules counts bytes per content, per requester and for UPDATE; a short read ends the plan uncounted", () => {
  const rules = rulesWith();
  const c = content(4 * PIECE);
  const d = content(2 * PIECE, PIECE, 2);
  rules.share(c);
  rules.share(d);
  assert.equal(
    ask(rules, c, { from: A, now: 0, ranges: [{ offset: 0, length: 2 * PIECE }] }),
    "ok",
  );
  assert.equal(ask(rules, d, { from: B, now: 5, ranges: [{ offset: 0, length: 100 }] }), "ok");
  assert.equal(rules.takeUploaded(), 2 * PIECE + 100);
  assert.equal(rules.takeUploaded(), 0);

  // The driver's read of the third block comes back short: two blocks count, an ERROR follows
  const plan = rules.handleRequest(
    proven(rules, blockRequest(c, [{ offset: 0, length: 4 * PIECE }], PIECE), A),
    A,
    9,
  )!;
  for (let i = 0; i < 3; i++) assert.ok(plan.next());
  rules.handleShortRead(plan);
  assert.equal(plan.next(), false);
  assert.equal(
    reply(rules),
    `error ${ErrorCode.out_of_range}: file changed on disk at offset ${2 * PIECE}`,
  );
  assert.equal(rules.takeUploaded(), 2 * PIECE);
  assert.equal(rules.stats.shortReads, 1);

  // A plan the driver left unfinished counts the blocks it walked past when the next request
  // comes (not the current one: its send may not have happened)
  const left = rules.handleRequest(
    proven(rules, blockRequest(d, [{ offset: 0, length: 2 * PIECE }], PIECE), B),
    B,
    10,
  )!;
  assert.ok(left.next());
  assert.ok(left.next());
  rules.handleRequest(proven(rules, manifestRequest(d), B), B, 11);
  assert.equal(reply(rules), "manifest_data");
  assert.equal(rules.takeUploaded(), PIECE, "manifest bytes are not file bytes");

  assert.equal(rules.get(toHex(c.contentId))!.bytesServed, 4 * PIECE);
  assert.equal(rules.get(toHex(d.contentId))!.bytesServed, PIECE + 100);
  assert.deepEqual(
    rules.sources().map((s) => [s.address, s.requests, s.blocks, s.bytes, s.errors, s.lastSeen]),
    [
      ["192.0.2.1|40000", 2, 4, 4 * PIECE, 1, 9],
      ["192.0.2.2|40000", 3, 2, PIECE + 100, 0, 11],
    ],
  );
  assert.equal(rules.stats.manifestBytesSent, d.encoded.byteLength);
  assert.equal(rules.stats.requests, 5);
});

test("UploadRules answers MANIFEST_REQUEST with one slice sized to maxDatagram", () => {
  const rules = rulesWith();
  const c = content(200 * PIECE); // 200 hashes: a 6420-byte manifest
  rules.share(c);
  const total = c.encoded.byteLength;
  const got = new Uint8Array(total);
  for (let off = 0; off < total;) {
    assert.equal(rules.handleRequest(proven(rules, manifestRequest(c, off), A), A, 0), undefined);
    const [out] = drain(rules);
    const m = out!.msg;
    assert.ok(m.type === "manifest_data" && m.offset === off && m.total === total);
    assert.ok(out!.size <= 1200);
    got.set(m.data, off);
    off += m.data.byteLength;
  }
  assert.deepEqual(got, c.encoded);
  assert.equal(rules.stats.manifestBytesSent, total);
});

test("UploadRules in a manifest crowd: busy to new requesters; a refused slice is answered on the retry", () => {
  const { rules, c } = sharing(content(200 * PIECE), { maxPendingSends: 4 });
  const from = (i: number): Deno.NetAddr => ({ ...A, hostname: `192.0.2.${i + 10}` });
  const manifestAt = (who: Deno.NetAddr, now: number, offset = 0) => {
    rules.handleRequest(proven(rules, manifestRequest(c, offset), who), who, now);
    return drain(rules).map((o) =>
      o.msg.type === "error" ? `error ${o.msg.code}: ${o.msg.text}` : o.msg.type
    );
  };
  // MANIFEST_CROWD_SERVED requesters within a second (more than MANIFEST_CROWD), each answered
  for (let i = 0; i < MANIFEST_CROWD_SERVED; i++) {
    assert.deepEqual(manifestAt(from(i), 0), ["manifest_data"], `requester ${i}`);
  }
  // One more makes a crowd: it is told busy, to fetch from the others (or retry)
  assert.deepEqual(manifestAt(A, 1), [
    `error ${ErrorCode.busy}: manifest crowd: ask another owner`,
  ]);
  // A requester being served whose next slice meets a full send queue is refused (busy)…
  const next = 1200 - 48;
  for (let i = 0; i < 4; i++) rules.handleSendQueued();
  assert.match(manifestAt(from(0), 2, next)[0]!, /^error 10: send queue full/);
  for (let i = 0; i < 4; i++) rules.handleSendSettled();
  // …and as nothing of it is on its way, its retry 12 ms later is answered, not held back
  assert.deepEqual(manifestAt(from(0), 14, next), ["manifest_data"]);
  // A repeat of a slice actually sent is held back in the crowd (no reply)
  assert.deepEqual(manifestAt(from(0), 30, next), []);
});

test("UploadRules.handleProbe() answers with a PROBE_ACK of the probe's size carrying the cookie", () => {
  const rules = rulesWith();
  rules.handleProbe({ type: "probe", txid: 9, size: 1200 }, A, 0);
  rules.handleProbe({ type: "probe", txid: 9, size: 20 }, B, 0);
  rules.handleProbe({ type: "probe", txid: 9, size: 19 }, A, 0); // no room for a cookie
  const out = drain(rules);
  assert.deepEqual(out.map((o) => [o.size, o.to]), [[1200, A], [20, B]]);
  assert.deepEqual(out.map((o) => o.msg.type === "probe_ack" && o.msg.cookie), [
    rules.cookieFor(A, 0),
    rules.cookieFor(B, 0),
  ]);
  assert.notEqual(rules.cookieFor(A, 0), 0n);
  assert.equal(rules.stats.probes, 2);
});

test("UploadRules forgets the least recently seen requesters beyond maxSources", () => {
  const { rules, c } = sharing(content(PIECE), { maxSources: 2 });
  for (const port of [1, 2, 1, 3]) {
    assert.equal(
      ask(rules, c, { from: { ...A, port }, now: port, ranges: [{ offset: 0, length: 1 }] }),
      "ok",
    );
  }
  assert.deepEqual(rules.sources().map((s) => [s.address, s.requests]), [
    ["192.0.2.1|1", 2],
    ["192.0.2.1|3", 1],
  ]);
});

test("UploadRules() rejects a limit that is not positive", () => {
  for (const key of ["maxRequestBytes", "sourceRate", "maxPendingSends", "cookieEpochMs"]) {
    assert.throws(() => new UploadRules({ [key]: 0 }), RangeError, key);
  }
});

test("UploadRules answers large PROBEs from a budget, then one small ERROR probe_refused", () => {
  const rules = rulesWith();
  // 40 probers at once, each with two copies of the largest size and an Ethernet-sized one
  let largeAcks = 0, refusals = 0, smallAcks = 0;
  for (let i = 0; i < 40; i++) {
    const from = { ...A, port: 40000 + i };
    rules.handleProbe({ type: "probe", txid: i, size: 32784 }, from, 0);
    rules.handleProbe({ type: "probe", txid: i, size: 32784 }, from, 0);
    rules.handleProbe({ type: "probe", txid: i, size: 1472 }, from, 0);
    const out = drain(rules);
    const errors = out.filter((o) => o.msg.type === "error");
    assert.ok(errors.length <= 1, "one refusal per prober and second at most");
    for (const o of out) {
      assert.ok(o.size <= 32784, "no reply larger than its probe");
      if (o.msg.type === "error") {
        assert.equal(o.msg.code, 19);
        refusals++;
      } else if (o.size === 32784) largeAcks++;
      else smallAcks++;
    }
  }
  assert.equal(smallAcks, 40, "Ethernet-sized probes are always answered");
  assert.equal(largeAcks, Math.floor(PROBE_PAD_RATE / 32784), "large acks up to the burst");
  assert.equal(refusals, 40 - Math.floor(largeAcks / 2));
  // A second later the budget has refilled
  const late = { ...A, port: 50000 };
  rules.handleProbe({ type: "probe", txid: 99, size: 32784 }, late, 1000);
  assert.deepEqual(drain(rules).map((o) => o.size), [32784]);
});

test("UploadRules.checkSharer() passes on a SHARER only with a valid cookie for shared content", () => {
  const { rules, c } = sharing(content(4 * PIECE));
  const sharer = {
    type: "sharer" as const,
    txid: 1,
    contentId: c.contentId,
    port: 7000,
    nodeId: "p1",
  };
  assert.equal(rules.checkSharer({ ...sharer, cookie: 0n }, A, 0), false, "no cookie");
  assert.equal(rules.checkSharer({ ...sharer, cookie: rules.cookieFor(B, 0) }, A, 0), false);
  assert.ok(rules.checkSharer({ ...sharer, cookie: rules.cookieFor(A, 0) }, A, 0));
  const other = content(4 * PIECE, PIECE, 9).contentId;
  assert.equal(
    rules.checkSharer({ ...sharer, contentId: other, cookie: rules.cookieFor(A, 0) }, A, 0),
    false,
    "a content not shared here",
  );
  assert.equal(drain(rules).length, 0, "never answered");
});

test("UploadRules answers ERROR choked beyond its upload slots, within the request's size", () => {
  const { rules, c } = sharing(content(64 * PIECE), { slots: { slots: 1 } });
  const from = (i: number) => ({ ...A, hostname: `192.0.2.${10 + i}` });
  assert.equal(
    ask(rules, c, { from: from(0), now: 0, ranges: [{ offset: 0, length: PIECE }] }),
    "ok",
  );
  assert.equal(
    ask(rules, c, { from: from(1), now: 0, ranges: [{ offset: 0, length: PIECE }] }),
    "ok",
  );
  const third = ask(rules, c, { from: from(2), now: 0, ranges: [{ offset: 0, length: PIECE }] });
  assert.match(third, /^error 18: upload slots full: retry in 250 ms$/);
  assert.equal(rules.stats.errors.choked, 1);
});
