import assert from "node:assert/strict";
import { ErrorCode } from "../../lib/wire/messages.ts";
import { addressKeys } from "../../lib/tracker/limits.ts";
import { formatEvent } from "../../lib/tracker/tracker_event.ts";
import { cid, Harness, src } from "./_registry_harness.ts";

const none = { permissions: "none" } as const;
const MiB = 1024 * 1024;

Deno.test("addressKeys() counts IPv4 by /24 and IPv6 by /64, IPv4-mapped as IPv4", none, () => {
  assert.deepEqual(addressKeys("10.1.2.3"), {
    address: "10.1.2.3",
    prefix: "10.1.2/24",
    host: "10.1.2.3",
  });
  assert.deepEqual(addressKeys("::ffff:10.1.2.3"), addressKeys("10.1.2.3"));
  const a = addressKeys("2001:db8:1:2::5"), b = addressKeys("2001:db8:1:2:ffff::9");
  assert.equal(a.prefix, b.prefix);
  assert.notEqual(a.address, b.address);
  assert.equal(a.host, a.prefix, "an IPv6 host is its /64");
});

Deno.test(
  "Registry caps the peers of one address and of one prefix; others still get in",
  none,
  () => {
    const h = new Harness({
      limits: { maxPeers: 300, maxPeersPerAddress: 64, maxPeersPerPrefix: 100, burst: 1e9 },
    });
    for (let i = 0; i < 64; i++) h.register(`a${i}`, src(i, "10.0.0.1"));
    assert.throws(() => h.register("a64", src(64, "10.0.0.1")), /address_limit|Too many peers/);
    for (let i = 0; i < 36; i++) h.register(`b${i}`, src(i, "10.0.0.2"));
    // The /24 is full now (100), another network is not.
    const r = h.send({ type: "register", txid: 1, cookie: 0n, nodeId: "c" }, src(1, "10.0.0.3"));
    assert.equal(r?.type, "registered");
    if (r?.type !== "registered") return;
    const refused = h.send(
      { type: "register", txid: 2, cookie: r.cookie, nodeId: "c" },
      src(1, "10.0.0.3"),
    );
    assert.equal(refused?.type, "error");
    if (refused?.type === "error") {
      assert.equal(refused.code, ErrorCode.address_limit);
      assert.match(refused.text, /network/);
    }
    h.register("real", src(1, "192.0.2.7"));
    assert.equal(h.reg.peerCount, 101);
    // Leaving gives the room back.
    h.exit("a0");
    h.register("a64", src(64, "10.0.0.1"));
  },
);

Deno.test("Registry caps the files the peers of one address share", none, () => {
  const h = new Harness({ limits: { maxFilesPerAddress: 10, burst: 1e9 } });
  for (let i = 0; i < 3; i++) h.register(`p${i}`, src(i, "10.0.0.1"));
  for (let f = 0; f < 10; f++) assert.equal(h.own(`p${f % 3}`, `f${f}`, cid(f))?.type, "ack");
  const r = h.own("p0", "f10", cid(10));
  assert.ok(r?.type === "error" && r.code === ErrorCode.address_limit, JSON.stringify(r));
  // Renaming and replacing add nothing: still allowed.
  assert.equal(h.own("p0", "renamed", cid(0))?.type, "ack");
  assert.equal(h.own("p1", "f1", cid(11))?.type, "ack");
  h.register("other", src(1, "10.0.1.1"));
  assert.equal(h.own("other", "f10", cid(10))?.type, "ack");
});

Deno.test("Registry gives the memory of an address back when its peers leave", none, () => {
  const h = new Harness({
    limits: { burst: 1e9, addressBurst: 1e9, addressRequestsPerSecond: 1e9 },
  });
  for (let i = 0; i < 50; i++) {
    h.register(`p${i}`, src(i, "10.0.0.1"));
    for (let f = 0; f < 20; f++) h.own(`p${i}`, `p${i}-f${f}`, cid(i * 100 + f));
  }
  assert.equal(h.reg.fileCount, 1000);
  assert.equal(h.reg.shares.size, 2);
  for (let i = 0; i < 50; i++) h.exit(`p${i}`);
  assert.equal(h.reg.peerCount, 0);
  assert.equal(h.reg.fileCount, 0);
  assert.equal(h.reg.store.keyCount, 0, "the store's address and prefix counts are gone");
  h.advance(60_000); // the request buckets refill; the sweep forgets them
  assert.equal(h.reg.shares.size, 0);
});

Deno.test("Dispatcher limits requests per address, whatever the port", none, () => {
  const h = new Harness({ limits: { addressRequestsPerSecond: 10, addressBurst: 20 } });
  let answered = 0;
  for (let port = 0; port < 100; port++) {
    const r = h.send({ type: "register", txid: port, cookie: 0n, nodeId: "x" }, src(port));
    if (r?.type === "registered") answered++;
  }
  assert.equal(answered, 20, "the address's burst, not 100 ports' worth");
  assert.ok(h.reg.counters.addressLimited >= 80);
  // Another address is not affected.
  const r = h.send({ type: "register", txid: 1, cookie: 0n, nodeId: "y" }, src(1, "10.0.0.9"));
  assert.equal(r?.type, "registered");
  const limited = h.events().filter((e) => e.type === "rate_limited");
  assert.equal(limited.length, 1, "one log line for the address, not one per port");
});

Deno.test(
  "Registry ranks by REPORTs, not by UPDATE claims, and caps what a REPORT credits",
  none,
  () => {
    const h = new Harness({ maxOwners: 4, limits: { reportBytesPerAddress: 10 * MiB } });
    h.register("liar", src(1, "10.0.0.1"));
    h.register("honest", src(1, "10.0.1.1"));
    h.register("sock", src(2, "10.0.0.1")); // a sock puppet on the liar's host
    h.register("d1", src(1, "10.0.2.1"));
    h.register("q", src(1, "10.0.3.1"));
    for (const id of ["liar", "honest"]) h.own(id, "f", cid(1), 4 * MiB);
    h.update("liar", Number.MAX_SAFE_INTEGER);
    h.report("sock", cid(1), [{ nodeId: "liar", bytes: Number.MAX_SAFE_INTEGER }]); // same host
    h.report("liar", cid(1), [{ nodeId: "liar", bytes: 1e9 }]); // itself
    assert.equal(h.reg.peerInfo("liar", h.now)?.rate, 0, "no credit from its own claims");
    // A real downloader: credit capped at the file's size per REPORT…
    h.report("d1", cid(1), [{ nodeId: "honest", bytes: Number.MAX_SAFE_INTEGER }]);
    assert.equal(h.reg.counters.creditedBytes, 4 * MiB);
    // …and at reportBytesPerAddress per τ for all REPORTs of an address.
    for (let i = 0; i < 5; i++) h.report("d1", cid(1), [{ nodeId: "honest", bytes: 4 * MiB }]);
    assert.equal(h.reg.counters.creditedBytes, 10 * MiB);
    const r = h.need("q", "f");
    assert.ok(r?.type === "owners");
    assert.deepEqual(r.owners.map((o) => o.nodeId), ["honest", "liar"]);
    const lines = h.events().filter((e) => e.type === "report").map(formatEvent);
    assert.ok(
      lines.some((l) => /report sock .*credited 0 bytes, 1 entry ignored/.test(l)),
      lines.join("\n"),
    );
  },
);

Deno.test(
  "Registry NEED leaves out excluded owners and mixes random ones into every reply",
  none,
  () => {
    const h = new Harness({ maxOwners: 8, limits: { burst: 1e9 } });
    h.register("r", src(1, "10.9.9.9"));
    for (let i = 0; i < 16; i++) {
      h.register(`liar${i}`, src(i, "10.0.0.1"));
      h.own(`liar${i}`, "f", cid(1), 1e12);
    }
    h.register("honest", src(1, "10.0.1.1"));
    h.own("honest", "f", cid(1), 1e12);
    h.register("q", src(1, "10.0.3.1"));
    // The liars bought the ranking (credit from a host of theirs): each NEED still carries two
    // random owners, so the honest one turns up.
    h.report(
      "r",
      cid(1),
      Array.from({ length: 16 }, (_, i) => ({ nodeId: `liar${i}`, bytes: 1e8 })),
    );
    let seen = 0;
    for (let i = 0; i < 40; i++) {
      const owners = h.ownersOf("q", "f") as string[];
      assert.equal(owners.length, 8);
      assert.ok(owners.slice(0, 6).every((o) => o.startsWith("liar")), "the ranked six");
      if (owners.includes("honest")) seen++;
    }
    assert.ok(seen >= 4, `the honest owner was in ${seen} of 40 replies`);
    // Excluding the liars the asker found dead leaves the honest one first.
    const exclude = Array.from({ length: 16 }, (_, i) => `liar${i}`);
    const r = h.request("q", {
      type: "need",
      want: { kind: "name", name: "f" },
      maxOwners: 0,
      exclude,
    });
    assert.ok(r?.type === "owners");
    assert.deepEqual(r.owners.map((o) => o.nodeId), ["honest"]);
  },
);

Deno.test(
  "Dispatcher refuses names that are paths, reserved or hold invisible characters",
  none,
  () => {
    const h = Harness.withPeer("p");
    for (
      const name of [
        "CON",
        "nul.txt",
        "a\u061cb",
        "line\u2028break",
        "zero\u200bwidth",
        ".udpswarm",
        "forged\n2026-01-01T00:00:00.000Z register evil",
        "../x",
        "..",
      ]
    ) {
      const r = h.own("p", name, cid(1));
      assert.ok(
        r?.type === "error" && r.code === ErrorCode.bad_name,
        `${JSON.stringify(name)}: ${JSON.stringify(r)}`,
      );
      assert.ok(
        r.type === "error" && !/[\n\u2028\u200b\u061c]/.test(r.text),
        "the ERROR text is escaped",
      );
    }
    assert.equal(h.own("p", "fine name.txt", cid(1))?.type, "ack");
    assert.equal(h.reg.fileCount, 1);
  },
);

Deno.test(
  "Dispatcher ERRORs to an unverified source never name the registered address",
  none,
  () => {
    const h = new Harness();
    h.register("victim", src(1, "10.0.0.1"));
    const cookie = h.cookies.get("victim")!;
    for (const type of ["own", "need", "update", "exit"] as const) {
      const body = type === "own"
        ? { type, name: "x", size: 1, contentId: cid(1) }
        : type === "need"
        ? { type, want: { kind: "name" as const, name: "x" }, maxOwners: 0 }
        : type === "update"
        ? { type, uploaded: 1 }
        : { type };
      const r = h.send(
        { ...body, txid: 1, cookie, nodeId: "victim" } as never,
        src(2, "10.0.0.66"),
      );
      assert.ok(r?.type === "error" && r.code === ErrorCode.wrong_address);
      assert.doesNotMatch(r.text, /10\.0\.0\.1/);
    }
    const challenge = h.send(
      { type: "register", txid: 2, cookie: 0n, nodeId: "victim" },
      src(2, "10.0.0.66"),
    );
    assert.ok(challenge?.type === "registered");
    const r = h.send(
      { type: "register", txid: 3, cookie: challenge.cookie, nodeId: "victim" },
      src(2, "10.0.0.66"),
    );
    assert.ok(r?.type === "error" && r.code === ErrorCode.wrong_address);
    assert.doesNotMatch(r.text, /10\.0\.0\.1/);
  },
);
