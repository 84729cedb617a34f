import assert from "node:assert/strict";
import { ErrorCode } from "../../lib/wire/messages.ts";
import { REGISTER_MIN_SIZE } from "../../lib/wire/limits.ts";
import { Dispatcher } from "../../lib/tracker/dispatch.ts";
import { cid, Harness, src, UNLIMITED } from "./_registry_harness.ts";

const none = { permissions: "none" } as const;

Deno.test("Registry REGISTER answers a first contact with a stateless challenge", none, () => {
  const h = new Harness();
  const r = h.send({ type: "register", txid: 7, cookie: 0n, nodeId: "a" }, src(1));
  assert.equal(r?.type, "registered");
  if (r?.type !== "registered") return;
  assert.equal(r.txid, 7);
  assert.equal(r.evictAfterMs, 0);
  assert.notEqual(r.cookie, 0n);
  assert.equal(h.reg.peerCount, 0);
  assert.ok(h.lastReplySize <= h.lastRequestSize);
  assert.equal(h.lastRequestSize, REGISTER_MIN_SIZE);
});

Deno.test("Registry REGISTER with the challenge cookie registers the peer", none, () => {
  const h = new Harness({ intervalMs: 2000, grace: 0.5 });
  const cookie = h.register("a", src(1));
  assert.notEqual(cookie, 0n);
  assert.equal(h.reg.peerCount, 1);
  const info = h.reg.peerInfo("a", h.now);
  assert.deepEqual(info?.address, { family: 4, host: "127.0.0.1", port: 10001 });
  const hb = h.heartbeat("a");
  assert.equal(hb?.type, "registered");
  if (hb?.type === "registered") {
    assert.equal(hb.intervalMs, 2000);
    assert.equal(hb.evictAfterMs, 3000);
  }
  assert.deepEqual(h.events().map((e) => e.type), ["register"]);
  assert.equal(h.reg.counters.registrations, 1);
  assert.equal(h.reg.counters.heartbeats, 1);
});

Deno.test(
  "Registry evicts a peer silent for longer than T × (1 + grace), not earlier",
  none,
  () => {
    const h = Harness.withPeer("a", "f.txt", { intervalMs: 1000, grace: 0.5 });
    h.advance(1500);
    assert.ok(h.reg.hasPeer("a", h.now), "exactly at the boundary it is still registered");
    assert.equal(h.core.pollTimeout(), h.now + 1);
    h.advance(1);
    assert.ok(!h.reg.hasPeer("a", h.now), "1 ms past the boundary it is gone");
    assert.equal(h.reg.fileCount, 0);
    const evict = h.events().find((e) => e.type === "evict");
    assert.deepEqual(evict, {
      type: "evict",
      nodeId: "a",
      address: "127.0.0.1:10001",
      files: 1,
      silentMs: 1501,
    });
  },
);

Deno.test("Registry heartbeats and requests keep a peer alive", none, () => {
  const h = Harness.withPeer("a", undefined, { intervalMs: 1000, grace: 0.5 });
  h.register("b", src(2));
  for (let i = 0; i < 10; i++) {
    h.advance(1000);
    h.heartbeat("a");
    h.update("b", 0);
  }
  assert.ok(h.reg.hasPeer("a", h.now));
  assert.ok(h.reg.hasPeer("b", h.now));
  h.advance(1501);
  assert.equal(h.reg.peerCount, 0);
  assert.equal(h.reg.counters.evictions, 2);
});

Deno.test("Registry evicts lazily when a request arrives before the timer", none, () => {
  const h = Harness.withPeer("a", undefined, { intervalMs: 1000, grace: 0 });
  h.now += 1001; // no handleTimeout
  const r = h.heartbeat("a");
  assert.equal(r?.type, "error");
  if (r?.type === "error") assert.equal(r.code, ErrorCode.unknown_node);
});

Deno.test("Registry OWN replaces and never duplicates", none, () => {
  const h = Harness.withPeer("a");
  h.register("b", src(2));
  assert.equal(h.own("a", "f.txt", cid(1))?.type, "ack");
  assert.equal(h.own("a", "f.txt", cid(1))?.type, "ack");
  assert.deepEqual(h.ownersOf("b", "f.txt"), ["a"]);
  assert.deepEqual(h.reg.peerInfo("a", h.now)?.files.length, 1);
  // Same name, new content: the file changed; the old content is no longer owned by a.
  assert.equal(h.own("a", "f.txt", cid(2))?.type, "ack");
  assert.deepEqual(h.reg.peerInfo("a", h.now)?.files.length, 1);
  assert.equal(h.ownersOf("b", { kind: "content", contentId: cid(1) }), ErrorCode.not_found);
  assert.deepEqual(h.ownersOf("b", { kind: "content", contentId: cid(2) }), ["a"]);
  assert.equal(h.reg.fileCount, 1);
  const own = h.events().filter((e) => e.type === "own");
  assert.equal(own.length, 3);
  assert.ok(own[2]?.type === "own" && own[2].replaced !== undefined);
});

Deno.test("Registry OWN of a known content id with another size is refused", none, () => {
  const h = Harness.withPeer("a");
  h.register("b", src(2));
  h.own("a", "f", cid(1), 100);
  const r = h.own("b", "f", cid(1), 200);
  assert.equal(r?.type, "error");
  if (r?.type === "error") assert.equal(r.code, ErrorCode.malformed);
});

/** A downloader on another host than the owners (127.0.0.1): its REPORTs are credited. */
const REPORTER = src(1, "10.9.9.9");
const BIG = 1e12;

Deno.test(
  "Registry NEED ranks owners by reported upload, highest first, never the asker",
  none,
  () => {
    const h = new Harness({ maxOwners: 3 });
    for (const id of ["a", "b", "c", "d", "asker"]) {
      h.register(id, src(id.charCodeAt(0)));
      h.own(id, "f", cid(1), BIG);
    }
    h.register("r", REPORTER);
    h.report("r", cid(1), [
      { nodeId: "a", bytes: 100_000 },
      { nodeId: "b", bytes: 900_000 },
      { nodeId: "c", bytes: 500_000 },
      { nodeId: "asker", bytes: 9_000_000 },
    ]);
    const r = h.need("asker", "f");
    assert.equal(r?.type, "owners");
    if (r?.type !== "owners") return;
    assert.deepEqual(r.owners.map((o) => o.nodeId), ["b", "c", "a"]);
    // τ = 60 s: each byte adds 1/60 B/s.
    assert.deepEqual(r.owners.map((o) => o.rate), [15000, 8333, 1666]);
    assert.equal(r.size, BIG);
    assert.equal(r.name, "f");
    assert.equal(r.alternatives, 0);
    assert.deepEqual(r.owners[0]!.address, { family: 4, host: "127.0.0.1", port: 10098 });
  },
);

Deno.test("Registry NEED caps owners at N and at the asker's maxOwners", none, () => {
  const h = new Harness({ maxOwners: 4 });
  h.swarm(10, "f", cid(1));
  assert.equal((h.ownersOf("q", "f") as string[]).length, 4);
  assert.equal((h.ownersOf("q", "f", 2) as string[]).length, 2);
  assert.equal((h.ownersOf("q", "f", 16) as string[]).length, 4);
});

Deno.test("Registry NEED spreads load among owners of equal rate", none, () => {
  const h = new Harness({ maxOwners: 2 });
  h.swarm(6, "f", cid(1));
  const seen: string[] = [];
  for (let i = 0; i < 3; i++) seen.push(...(h.ownersOf("q", "f") as string[]));
  assert.equal(new Set(seen).size, 6, `three NEEDs hand out all six idle owners: ${seen}`);
  // Round robin: the next three NEEDs repeat the same order.
  const again: string[] = [];
  for (let i = 0; i < 3; i++) again.push(...(h.ownersOf("q", "f") as string[]));
  assert.deepEqual(again, seen);
});

Deno.test("Registry NEED spreads load among rated owners with the same rate", none, () => {
  const h = new Harness({ maxOwners: 1 });
  h.register("r", REPORTER);
  for (let i = 0; i < 3; i++) {
    h.register(`p${i}`, src(i));
    h.own(`p${i}`, "f", cid(1), BIG);
    h.report("r", cid(1), [{ nodeId: `p${i}`, bytes: 60_000 }]); // same instant, same bytes
  }
  h.register("fast", src(50));
  h.own("fast", "f", cid(1), BIG);
  h.report("r", cid(1), [{ nodeId: "fast", bytes: 600_000 }]);
  h.register("q", src(99));
  assert.deepEqual(h.ownersOf("q", "f", 1), ["fast"]);
  h.exit("fast");
  const seen = [0, 1, 2].map(() => (h.ownersOf("q", "f") as string[])[0]);
  assert.equal(new Set(seen).size, 3, `equal rates take turns: ${seen}`);
});

Deno.test(
  "Registry tie-breaks among never-assigned owners are random, not by join order",
  none,
  () => {
    const firsts = new Set<string>();
    for (let seed = 1; seed <= 12; seed++) {
      const h = new Harness({ maxOwners: 1 }, seed);
      h.swarm(4, "f", cid(1));
      firsts.add((h.ownersOf("q", "f") as string[])[0]!);
    }
    assert.ok(firsts.size >= 3, `first pick varies with the seed: ${[...firsts]}`);
  },
);

Deno.test("Registry upload rate decays while idle and the ranking follows", none, () => {
  const h = new Harness({ maxOwners: 2, intervalMs: 100_000_000 });
  for (const id of ["old", "new", "q"]) {
    h.register(id, src(id.length + id.charCodeAt(0)));
    h.own(id, "f", cid(1), BIG);
  }
  h.register("r", REPORTER);
  h.report("r", cid(1), [{ nodeId: "old", bytes: 6_000_000 }]); // 100 kB/s
  h.advance(60_000); // one τ: 100k · e^-1 ≈ 36.8k
  let r = h.need("q", "f");
  assert.ok(r?.type === "owners");
  assert.deepEqual(r.owners.map((o) => [o.nodeId, o.rate]), [["old", 36787], ["new", 0]]);
  h.heartbeat("r");
  h.report("r", cid(1), [{ nodeId: "new", bytes: 3_000_000 }]); // 50 kB/s now
  r = h.need("q", "f");
  assert.ok(r?.type === "owners");
  assert.deepEqual(r.owners.map((o) => o.nodeId), ["new", "old"]);
  h.advance(60_000 * 30); // both decay below 1 B/s: they tie at 0 and take turns
  const a = h.ownersOf("q", "f", 1), b = h.ownersOf("q", "f", 1);
  assert.notDeepEqual(a, b);
  r = h.need("q", "f");
  assert.ok(r?.type === "owners");
  assert.deepEqual(r.owners.map((o) => o.rate), [0, 0]);
});

Deno.test("Registry EXIT forgets the peer and its files and is idempotent", none, () => {
  const h = Harness.withPeer("a");
  h.register("b", src(2));
  h.own("a", "f", cid(1));
  h.own("a", "g", cid(2));
  assert.equal(h.exit("a")?.type, "ack");
  assert.equal(h.exit("a")?.type, "ack");
  assert.equal(h.reg.peerCount, 1);
  assert.equal(h.reg.fileCount, 0);
  assert.equal(h.ownersOf("b", "f"), ErrorCode.not_found);
  assert.equal(h.reg.counters.exits, 1);
  assert.deepEqual(h.events().filter((e) => e.type === "exit"), [
    { type: "exit", nodeId: "a", address: "127.0.0.1:10001", files: 2 },
  ]);
});

Deno.test("Registry accepts cookies of the previous epoch and rejects older ones", none, () => {
  const h = Harness.withPeer("a", undefined, { intervalMs: 1000, grace: 0.5, cookieEpochMs: 2000 });
  const first = h.cookies.get("a")!;
  const ownWith = (cookie: bigint, n: number) =>
    h.send(
      { type: "own", txid: n, cookie, nodeId: "a", name: `f${n}`, size: 1, contentId: cid(n) },
      src(1),
    );
  h.advance(1000);
  h.heartbeat("a");
  h.advance(1000); // epoch 1
  assert.equal(h.reg.cookieEpoch, 1);
  const hb = h.heartbeat("a");
  assert.ok(hb?.type === "registered");
  assert.notEqual(hb.cookie, first, "a heartbeat in a new epoch hands out a new cookie");
  assert.equal(ownWith(first, 1)?.type, "ack", "the previous epoch's cookie still works");
  h.advance(1000);
  h.heartbeat("a");
  h.advance(1000); // epoch 2: `first` is two epochs old
  assert.equal(h.reg.cookieEpoch, 2);
  const r = ownWith(first, 2);
  assert.ok(r?.type === "error" && r.code === ErrorCode.bad_cookie);
  assert.equal(ownWith(h.cookies.get("a")!, 3)?.type, "ack");
});

Deno.test(
  "Registry answers unknown_node to a heartbeat after eviction, then re-registers",
  none,
  () => {
    const h = Harness.withPeer("a", undefined, {
      intervalMs: 1000,
      grace: 0.5,
      cookieEpochMs: 10_000,
    });
    h.advance(1600);
    const r = h.heartbeat("a");
    assert.ok(r?.type === "error" && r.code === ErrorCode.unknown_node);
    assert.ok(h.lastReplySize <= h.lastRequestSize);
    h.register("a", src(1));
    assert.ok(h.reg.hasPeer("a", h.now));
  },
);

Deno.test("Registry treats a cookie from another tracker instance as no proof", none, () => {
  const h = new Harness({}, 1);
  const other = new Harness({}, 2);
  other.register("a", src(1));
  const r = h.send(
    { type: "register", txid: 1, cookie: other.cookies.get("a")!, nodeId: "a" },
    src(1),
  );
  assert.ok(r?.type === "registered" && r.evictAfterMs === 0, "a restarted tracker challenges");
  assert.equal(h.reg.peerCount, 0);
});

Deno.test("Registry limits the number of peers", none, () => {
  const h = Harness.withPeer("a", undefined, { limits: { maxPeers: 2 } });
  h.register("b", src(2));
  const ch = h.send({ type: "register", txid: 1, cookie: 0n, nodeId: "c" }, src(3));
  assert.ok(ch?.type === "registered");
  const r = h.send({ type: "register", txid: 2, cookie: ch.cookie, nodeId: "c" }, src(3));
  assert.ok(r?.type === "error" && r.code === ErrorCode.too_many_peers);
  assert.ok(h.lastReplySize <= h.lastRequestSize);
  h.exit("a");
  h.register("c", src(3));
  assert.equal(h.reg.peerCount, 2);
});

Deno.test("Registry limits files per peer", none, () => {
  const h = Harness.withPeer("a", undefined, { limits: { maxFilesPerPeer: 2 } });
  assert.equal(h.own("a", "f1", cid(1))?.type, "ack");
  assert.equal(h.own("a", "f2", cid(2))?.type, "ack");
  const r = h.own("a", "f3", cid(3));
  assert.ok(r?.type === "error" && r.code === ErrorCode.too_many_files);
  assert.equal(h.own("a", "f2", cid(4))?.type, "ack", "replacing a file is not a new file");
  assert.equal(h.own("a", "f1", cid(1))?.type, "ack", "re-OWN is not a new file");
});

Deno.test("Registry limits name length", none, () => {
  const h = Harness.withPeer("a", undefined, { limits: { maxNameBytes: 8 } });
  assert.equal(h.own("a", "12345678", cid(1))?.type, "ack");
  const r = h.own("a", "123456789", cid(2));
  assert.ok(r?.type === "error" && r.code === ErrorCode.out_of_range);
  const r2 = h.own("a", "ééééé", cid(3)); // 10 bytes of UTF-8
  assert.ok(r2?.type === "error" && r2.code === ErrorCode.out_of_range);
});

Deno.test("Registry answers a name shared by two contents with the most-owned one", none, () => {
  const h = new Harness();
  for (const id of ["a", "b", "c", "q"]) h.register(id, src(id.charCodeAt(0)));
  h.own("a", "song.mp3", cid(1));
  h.own("b", "song.mp3", cid(2));
  h.own("c", "song.mp3", cid(2));
  let r = h.need("q", "song.mp3");
  assert.ok(r?.type === "owners");
  assert.deepEqual(r.contentId, cid(2));
  assert.equal(r.alternatives, 1);
  assert.deepEqual(r.owners.map((o) => o.nodeId).sort(), ["b", "c"]);
  // Asking by content id reaches the other one.
  r = h.need("q", { kind: "content", contentId: cid(1) });
  assert.ok(r?.type === "owners");
  assert.equal(r.name, "song.mp3");
  assert.equal(r.alternatives, 0);
  assert.deepEqual(r.owners.map((o) => o.nodeId), ["a"]);
  // The asker's own copy does not count: b asks and sees c (cid 2) vs a (cid 1): a tie at one
  // owner each, broken by the smaller content id.
  r = h.need("b", "song.mp3");
  assert.ok(r?.type === "owners");
  assert.deepEqual(r.contentId, cid(1));
  assert.deepEqual(r.owners.map((o) => o.nodeId), ["a"]);
});

Deno.test(
  "Registry NEED for a file only the asker shares is not_found with a clear text",
  none,
  () => {
    const h = Harness.withPeer("a", "mine");
    const r = h.need("a", "mine");
    assert.ok(r?.type === "error" && r.code === ErrorCode.not_found);
    assert.match(r.text, /Nobody but you shares "mine"/);
    const r2 = h.need("a", "nothing");
    assert.ok(r2?.type === "error" && r2.code === ErrorCode.not_found);
    assert.match(r2.text, /Nobody shares "nothing"/);
  },
);

Deno.test("Registry reports a source on a dual-stack socket as IPv4", none, () => {
  const h = new Harness();
  h.register("a", { hostname: "::ffff:127.0.0.1", port: 4000 });
  h.register("v6", { hostname: "::1", port: 4001 });
  h.register("q", src(1));
  h.own("a", "f", cid(1));
  h.own("v6", "f", cid(1));
  const r = h.need("q", "f");
  assert.ok(r?.type === "owners");
  const addrs = r.owners.map((o) => o.address).sort((x, y) => x.family - y.family);
  assert.deepEqual(addrs, [
    { family: 4, host: "127.0.0.1", port: 4000 },
    { family: 6, host: "::1", port: 4001 },
  ]);
});

Deno.test("Registry validates its options", none, () => {
  assert.throws(() => new Dispatcher({ now: 0, maxOwners: 17 }), RangeError);
  assert.throws(() => new Dispatcher({ now: 0, intervalMs: 0 }), RangeError);
  assert.throws(() => new Dispatcher({ now: 0, grace: -1 }), RangeError);
  assert.throws(() => new Dispatcher({ now: 0, limits: { maxNameBytes: 300 } }), RangeError);
  assert.throws(
    () => new Dispatcher({ now: 0, intervalMs: 1000, cookieEpochMs: 1000 }),
    /cookieEpochMs/,
  );
});

Deno.test("Registry scales: NEED on a file with 20,000 owners stays cheap", none, () => {
  const h = new Harness({ limits: { ...UNLIMITED, maxPeers: 30_000 } });
  h.register("r", REPORTER);
  for (let i = 0; i < 20_000; i++) {
    const host = `127.0.${i >> 8}.${i & 0xff}`;
    h.register(`p${i}`, { hostname: host, port: 7000 });
    h.own(`p${i}`, "big", cid(1), BIG);
    if (i % 10 === 0) h.report("r", cid(1), [{ nodeId: `p${i}`, bytes: 1000 + i }]);
  }
  h.register("q", src(1));
  const t0 = performance.now();
  for (let i = 0; i < 2000; i++) h.need("q", "big");
  const perNeed = (performance.now() - t0) / 2000;
  const r = h.need("q", "big");
  assert.ok(r?.type === "owners");
  assert.equal(r.owners[0]!.nodeId, "p19990", "the highest rate first");
  // Generous bound (an O(M) scan would take ~1 ms here): catches a regression to full scans.
  assert.ok(perNeed < 0.5, `${perNeed.toFixed(3)} ms per NEED`);
});
