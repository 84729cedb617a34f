/**
 * Scenario: hostile sources that are not the registered address of a node.
 *
 * - Spoofing: another socket tries EXIT, OWN, UPDATE and REGISTER as a registered node, with no
 *   cookie, with the node's own (stolen) cookie, and with a valid cookie of its own. Every attempt
 *   is refused; the node stays registered, its files stay, its rate is untouched.
 * - Amplification: many request kinds, each from a fresh socket (an address that never proved it
 *   receives), at the tracker and at a peer. A reply to such a source is never larger than its
 *   request; the byte ratio in/out is measured per kind. At a peer that includes MANIFEST_REQUEST
 *   and BLOCK_REQUEST for a shared content with no cookie, a guessed one, and a real cookie of
 *   another IP address or of another port of the same IP: no data, an ERROR bad_cookie no larger
 *   than the request.
 * - Reflection at a port (issue 11, item 3): an attacker probes from one port and sends 4 MiB
 *   BLOCK_REQUESTs whose source is another port of its IP: that port gets small ERRORs, no data.
 * @module
 */
import assert from "node:assert/strict";
import { startTracker } from "../../../lib/tracker/server.ts";
import { TrackerClient } from "../../../lib/peer/tracker_client.ts";
import { UdpEndpoint } from "../../../lib/net/udp_endpoint.ts";
import { decodeMessage, encodeMessage } from "../../../lib/wire/codec.ts";
import { ErrorCode, type Message } from "../../../lib/wire/messages.ts";
import { fromHex } from "../../../lib/wire/hex.ts";
import { Prng } from "../../../lib/sim/prng.ts";
import { tempDir } from "../../_harness/processes.ts";
import { delay, waitUntil } from "../../_harness/wait.ts";
import { makeFile, report, startLoggedPeer } from "./_scenario.ts";

function cid(n: number): Uint8Array {
  const b = new Uint8Array(32);
  new DataView(b.buffer).setUint32(0, n);
  b[31] = 0x5a;
  return b;
}

/**
 * Sends one datagram from `socket` and collects its replies: waits (up to `ms`, a deadline, not a
 * guess at how fast the answer is) for the first, then 20 ms for any more.
 */
async function exchange(
  socket: UdpEndpoint,
  bytes: Uint8Array,
  to: Deno.NetAddr,
  ms = 10_000,
): Promise<Uint8Array[]> {
  const replies: Uint8Array[] = [];
  socket.onDatagram((b) => void replies.push(b.slice()));
  socket.send(bytes, to);
  await waitUntil(() => replies.length > 0, ms, "a reply").catch(() => {});
  await delay(20); // anything more than one reply
  return replies;
}

function decoded(bytes: Uint8Array): Message | undefined {
  try {
    return decodeMessage(bytes);
  } catch {
    return undefined;
  }
}

/** A tracker and one in-process owner sharing `size` random bytes as `name`, for `fn`. */
async function withOwner(
  name: string,
  size: number,
  seed: number,
  fn: (owner: { to: Deno.NetAddr; contentId: Uint8Array }) => Promise<void>,
): Promise<void> {
  await using dir = await tempDir("udpswarm-owner-");
  await using tracker = await startTracker({ port: 0, intervalMs: 2000 });
  const file = await makeFile(dir.path, name, size, seed);
  const { peer } = await startLoggedPeer({
    tracker: `127.0.0.1:${tracker.localAddr.port}`,
    nodeId: "owner",
    dir: dir.path,
  });
  try {
    const shared = await peer.share(file.name);
    const to: Deno.NetAddr = {
      transport: "udp",
      hostname: peer.address.host,
      port: peer.address.port,
    };
    await fn({ to, contentId: fromHex(shared.contentId)! });
  } finally {
    await peer.close();
  }
}

/** The cookie the owner at `to` hands `socket` (one PROBE from it, the ACK read back). */
async function cookieOf(socket: UdpEndpoint, to: Deno.NetAddr): Promise<bigint> {
  const probe = encodeMessage({ type: "probe", txid: 1, size: 1200 }).slice();
  const ack = (await exchange(socket, probe, to)).map(decoded)[0];
  assert.ok(ack?.type === "probe_ack" && ack.cookie !== 0n, "the owner hands out cookies");
  return ack.cookie;
}

Deno.test("spoofed EXIT, OWN, UPDATE and REGISTER from another address are refused", async () => {
  await using tracker = await startTracker({ port: 0, intervalMs: 2000 });
  const to = tracker.localAddr;
  await using victim = await TrackerClient.connect({ tracker: to, nodeId: "victim" });
  const info = await victim.start();
  await victim.own({ name: "victim.bin", size: 1000, contentId: cid(1) });
  await using observer = await TrackerClient.connect({ tracker: to, nodeId: "observer" });
  await observer.start();
  await using attacker = UdpEndpoint.open();
  await using own = await TrackerClient.connect({ tracker: to, nodeId: "attacker" });
  const attackerCookie = (await own.start()).cookie;

  const attempts: { what: string; msg: Message }[] = [];
  const cookies: [string, bigint][] = [
    ["no cookie", 0n],
    ["a made-up cookie", 0xdeadbeefn],
    ["the victim's stolen cookie", info.cookie],
    ["the attacker's own valid cookie", attackerCookie],
  ];
  for (const [label, cookie] of cookies) {
    attempts.push(
      { what: `EXIT with ${label}`, msg: { type: "exit", txid: 1, cookie, nodeId: "victim" } },
      {
        what: `OWN with ${label}`,
        msg: {
          type: "own",
          txid: 2,
          cookie,
          nodeId: "victim",
          name: "evil.bin",
          size: 666,
          contentId: cid(2),
        },
      },
      {
        what: `OWN of the victim's own file with ${label}`,
        msg: {
          type: "own",
          txid: 3,
          cookie,
          nodeId: "victim",
          name: "renamed.bin",
          size: 1000,
          contentId: cid(1),
        },
      },
      {
        what: `UPDATE with ${label}`,
        msg: { type: "update", txid: 4, cookie, nodeId: "victim", uploaded: 1e12 },
      },
      {
        what: `REGISTER with ${label}`,
        msg: { type: "register", txid: 5, cookie, nodeId: "victim" },
      },
    );
  }
  // The attacker's own socket (`attacker`, not the one its client uses) and a fresh one each.
  const outcomes: string[] = [];
  for (const { what, msg } of attempts) {
    for (const socket of [attacker, UdpEndpoint.open()]) {
      try {
        const request = encodeMessage(msg).slice();
        const replies = await exchange(socket, request, to);
        // A REGISTER with no valid cookie gets a challenge; answer it as a real client would,
        // so the refusal comes from the address check and not only from the missing proof.
        let reply = replies.map(decoded)[0];
        if (reply?.type === "registered" && reply.evictAfterMs === 0) {
          const again = await exchange(
            socket,
            encodeMessage({ ...msg, cookie: reply.cookie } as Message).slice(),
            to,
          );
          reply = again.map(decoded)[0];
        }
        assert.ok(reply !== undefined, `${what}: an answer`);
        assert.equal(reply.type, "error", `${what}: refused, got ${JSON.stringify(reply)}`);
        if (reply.type === "error") {
          assert.ok(
            [ErrorCode.wrong_address, ErrorCode.bad_cookie].includes(reply.code as 3 | 4),
            `${what}: ${reply.code} ${reply.text}`,
          );
          outcomes.push(`${what}: ${reply.code} ${reply.text}`);
        }
      } finally {
        if (socket !== attacker) await socket.close();
      }
    }
  }

  // The victim is untouched: registered, its file listed under its name, rate 0, no evil file.
  const r = await observer.need({ kind: "name", name: "victim.bin" });
  assert.deepEqual(r.owners.map((o) => o.nodeId), ["victim"]);
  assert.equal(r.owners[0]!.rate, 0, "the spoofed UPDATE did not count");
  assert.equal(r.owners[0]!.address.port, victim.localAddr!.port);
  await assert.rejects(observer.need({ kind: "name", name: "evil.bin" }), /Nobody shares/);
  await assert.rejects(observer.need({ kind: "name", name: "renamed.bin" }), /Nobody shares/);
  await victim.update(10); // its own session still works
  assert.equal(tracker.counters.exits, 0);
  const byCode: Record<string, number> = {};
  for (const o of outcomes) {
    const code = o.split(": ")[1]!.split(" ")[0]!;
    byCode[code] = (byCode[code] ?? 0) + 1;
  }
  report("spoofing", { attempts: outcomes.length, refusedByCode: byCode, sample: outcomes[0] });
});

interface Tally {
  requests: number;
  bytesIn: number;
  replies: number;
  bytesOut: number;
  largestRatio: number;
  replyTypes: Set<string>;
}

/** Fires `requests` at `to`, each from a fresh socket, all at once; tallies per kind. */
async function fireFresh(
  to: Deno.NetAddr,
  requests: { kind: string; bytes: Uint8Array }[],
): Promise<Map<string, Tally>> {
  const sockets = requests.map(() => UdpEndpoint.open());
  const got: Uint8Array[][] = sockets.map(() => []);
  try {
    sockets.forEach((s, i) => s.onDatagram((b) => void got[i]!.push(b.slice())));
    for (const [i, s] of sockets.entries()) {
      s.send(requests[i]!.bytes, to);
      if (i % 50 === 49) await delay(2);
    }
    // Until the replies stop coming (none for 300 ms), rather than for a fixed time that a busy
    // machine may not answer within.
    const count = () => got.reduce((n, g) => n + g.length, 0);
    let seen = -1;
    let quietSince = 0;
    await waitUntil(
      () => {
        const now = performance.now();
        if (count() !== seen) [seen, quietSince] = [count(), now];
        return now - quietSince >= 300;
      },
      30_000,
      "the replies to stop coming",
      { intervalMs: 20 },
    );
  } finally {
    await Promise.all(sockets.map((s) => s.close()));
  }
  const tallies = new Map<string, Tally>();
  for (const [i, r] of requests.entries()) {
    let t = tallies.get(r.kind);
    if (!t) {
      t = {
        requests: 0,
        bytesIn: 0,
        replies: 0,
        bytesOut: 0,
        largestRatio: 0,
        replyTypes: new Set(),
      };
      tallies.set(r.kind, t);
    }
    const out = got[i]!.reduce((s, b) => s + b.length, 0);
    t.requests++;
    t.bytesIn += r.bytes.length;
    t.replies += got[i]!.length;
    t.bytesOut += out;
    t.largestRatio = Math.max(t.largestRatio, out / r.bytes.length);
    for (const b of got[i]!) t.replyTypes.add(decoded(b)?.type ?? "undecodable");
  }
  return tallies;
}

/**
 * Sends `repeat` requests of each kind, each from a fresh socket, and checks what no unverified
 * source may get: a reply larger than its request, or a reply of a `forbidden` type.
 *
 * @returns the tallies by kind and the bytes in and out over all of them
 */
async function fireUnverified(
  to: Deno.NetAddr,
  kinds: [string, () => Uint8Array][],
  repeat: number,
  forbidden: string[],
): Promise<{ tallies: Map<string, Tally>; inAll: number; outAll: number }> {
  const requests = kinds.flatMap(([kind, make]) =>
    Array.from({ length: repeat }, () => ({ kind, bytes: make().slice() }))
  );
  const tallies = await fireFresh(to, requests);
  const s = summary(tallies);
  let inAll = 0, outAll = 0;
  for (const [kind, x] of tallies) {
    inAll += x.bytesIn;
    outAll += x.bytesOut;
    assert.ok(
      x.largestRatio <= 1,
      `${kind}: a reply larger than its request: ${JSON.stringify(s[kind])}`,
    );
    for (const type of forbidden) {
      assert.ok(!x.replyTypes.has(type), `${kind}: ${type} to an unverified source`);
    }
  }
  return { tallies, inAll, outAll };
}

function summary(tallies: Map<string, Tally>) {
  return Object.fromEntries(
    [...tallies].map(([k, t]) => [k, {
      requests: t.requests,
      bytesIn: t.bytesIn,
      bytesOut: t.bytesOut,
      ratio: Math.round((t.bytesOut / t.bytesIn) * 1000) / 1000,
      largestRatio: Math.round(t.largestRatio * 1000) / 1000,
      replies: [...t.replyTypes].join("/"),
    }]),
  );
}

Deno.test("replies to unverified sources are never larger than their requests", async (t) => {
  const prng = new Prng(31337);
  const rand = (n: number) => {
    const b = new Uint8Array(n);
    prng.fill(b);
    return b;
  };
  const cookie = () => BigInt(prng.nextUint32()) << 32n | BigInt(prng.nextUint32());

  await t.step("at the tracker", async () => {
    await using tracker = await startTracker({ port: 0, intervalMs: 2000 });
    await using victim = await TrackerClient.connect({ tracker: tracker.localAddr, nodeId: "v" });
    await victim.start();
    await victim.own({ name: "v.bin", size: 1000, contentId: cid(7) });
    const longName = "n".repeat(255);
    const longId = "i".repeat(24);
    const kinds: [string, () => Uint8Array][] = [
      [
        "REGISTER, first contact",
        () => encodeMessage({ type: "register", txid: 1, cookie: 0n, nodeId: longId }),
      ],
      [
        "REGISTER, made-up cookie",
        () => encodeMessage({ type: "register", txid: 1, cookie: cookie(), nodeId: "v" }),
      ],
      [
        "REGISTER, 63 bytes (too short)",
        () => encodeMessage({ type: "register", txid: 1, cookie: 0n, nodeId: "x" }).slice(0, 63),
      ],
      ["OWN, made-up cookie", () =>
        encodeMessage({
          type: "own",
          txid: 2,
          cookie: cookie(),
          nodeId: "v",
          name: "a",
          size: 1,
          contentId: cid(3),
        })],
      ["NEED by name, registered id, made-up cookie", () =>
        encodeMessage({
          type: "need",
          txid: 3,
          cookie: cookie(),
          nodeId: "v",
          want: { kind: "name", name: "v.bin" },
          maxOwners: 16,
        })],
      ["NEED by content, unknown id", () =>
        encodeMessage({
          type: "need",
          txid: 3,
          cookie: cookie(),
          nodeId: longId,
          want: { kind: "content", contentId: cid(7) },
          maxOwners: 16,
        })],
      ["NEED by 255-byte name, unknown id", () =>
        encodeMessage({
          type: "need",
          txid: 3,
          cookie: 0n,
          nodeId: "q",
          want: { kind: "name", name: longName },
          maxOwners: 16,
        })],
      [
        "UPDATE, made-up cookie",
        () =>
          encodeMessage({ type: "update", txid: 4, cookie: cookie(), nodeId: "v", uploaded: 5 }),
      ],
      [
        "EXIT, registered id",
        () => encodeMessage({ type: "exit", txid: 5, cookie: cookie(), nodeId: "v" }),
      ],
      ["EXIT, unknown id", () => encodeMessage({ type: "exit", txid: 5, cookie: 0n, nodeId: "z" })],
      ["peer-protocol PROBE", () => encodeMessage({ type: "probe", txid: 6, size: 1200 })],
      ["random bytes", () => rand(1 + prng.below(100))],
    ];
    const { tallies, inAll, outAll } = await fireUnverified(tracker.localAddr, kinds, 20, [
      "owners",
    ]);
    assert.ok(tallies.get("REGISTER, first contact")!.replies > 0, "first contact is answered");
    assert.equal(tracker.counters.exits, 0, "the victim did not leave");
    assert.equal(tracker.peerCount, 1);
    report("amplification_tracker", {
      ratio: Math.round((outAll / inAll) * 1000) / 1000,
      kinds: summary(tallies),
    });
  });

  await t.step(
    "at a peer",
    () =>
      withOwner("amp.bin", 1 << 20, 3, async ({ to, contentId: known }) => {
        // A cookie the owner really hands out, but for another IP: the attacker probes from
        // 127.0.0.2, then sends with a forged source (here: from 127.0.0.1, where it cannot be
        // valid). Every other fresh socket is on 127.0.0.1 and never probed.
        const foreign = await (async () => {
          await using other = UdpEndpoint.open({ hostname: "127.0.0.2", port: 0 });
          return await cookieOf(other, to);
        })();
        // A cookie for another port of the same IP: what an attacker who can receive at one port
        // of an address (a neighbour behind the same NAT) holds, sent with a forged source port.
        const otherPort = await (async () => {
          await using other = UdpEndpoint.open({ hostname: "127.0.0.1", port: 0 });
          return await cookieOf(other, to);
        })();
        const cookies: [string, () => bigint][] = [
          ["no cookie", () => 0n],
          ["guessed cookie", cookie],
          ["another IP's cookie", () => foreign],
          ["another port's cookie", () => otherPort],
        ];
        const unverified: [string, () => Uint8Array][] = [
          ["PROBE 1200", () => encodeMessage({ type: "probe", txid: 1, size: 1200 })],
          ["PROBE 12", () => encodeMessage({ type: "probe", txid: 1, size: 12 })],
          ["MANIFEST_REQUEST, unknown content", () =>
            encodeMessage({
              type: "manifest_request",
              txid: 2,
              cookie: cookie(),
              contentId: cid(9),
              offset: 0,
              maxDatagram: 65507,
            })],
          ["BLOCK_REQUEST, unknown content", () =>
            encodeMessage({
              type: "block_request",
              txid: 3,
              cookie: cookie(),
              contentId: cid(9),
              blockSize: 65491,
              ranges: [{ offset: 0, length: 1 << 20 }],
            })],
          ["MANIFEST_REQUEST, offset past the end", () =>
            encodeMessage({
              type: "manifest_request",
              txid: 2,
              cookie: cookie(),
              contentId: known,
              offset: 1 << 30,
              maxDatagram: 1200,
            })],
          ["BLOCK_REQUEST, range past the end", () =>
            encodeMessage({
              type: "block_request",
              txid: 3,
              cookie: cookie(),
              contentId: known,
              blockSize: 1200,
              ranges: [{ offset: 1 << 30, length: 1 }],
            })],
          ...cookies.flatMap(([label, c]): [string, () => Uint8Array][] => [
            [`MANIFEST_REQUEST, shared content, ${label}`, () =>
              encodeMessage({
                type: "manifest_request",
                txid: 2,
                cookie: c(),
                contentId: known,
                offset: 0,
                maxDatagram: 65507,
              })],
            [`BLOCK_REQUEST for 1 MiB, shared content, ${label}`, () =>
              encodeMessage({
                type: "block_request",
                txid: 3,
                cookie: c(),
                contentId: known,
                blockSize: 65491,
                ranges: [{ offset: 0, length: 1 << 20 }],
              })],
          ]),
          ["HAVE", () =>
            encodeMessage({
              type: "have",
              txid: 4,
              contentId: known,
              pieceCount: 4,
              firstPiece: 0,
              bits: new Uint8Array(1),
            })],
          ["random bytes", () => rand(1 + prng.below(100))],
        ];
        const { tallies, inAll, outAll } = await fireUnverified(to, unverified, 10, [
          "block_data",
          "manifest_data",
        ]);
        assert.ok(outAll <= inAll, `peer reply/request bytes ${outAll}/${inAll}`);
        for (const [label] of cookies) {
          const x = tallies.get(`BLOCK_REQUEST for 1 MiB, shared content, ${label}`)!;
          assert.equal(x.replies, x.requests, `${label}: every request answered`);
          assert.deepEqual(
            [...x.replyTypes],
            ["error"],
            `${label}: answered with ERROR bad_cookie`,
          );
        }
        assert.ok(tallies.get("PROBE 1200")!.replies > 0, "PROBEs are answered");

        // A source that proves its address (it received the PROBE_ACK) is served as before.
        const served = await (async () => {
          await using socket = UdpEndpoint.open();
          const ack = (await exchange(
            socket,
            encodeMessage({ type: "probe", txid: 5, size: 1200 }).slice(),
            to,
          )).map(decoded)[0];
          assert.ok(ack?.type === "probe_ack");
          const request = encodeMessage({
            type: "block_request",
            txid: 6,
            cookie: ack.cookie,
            contentId: known,
            blockSize: 16384,
            ranges: [{ offset: 0, length: 65536 }],
          }).slice();
          const replies = (await exchange(socket, request, to)).map(decoded);
          assert.ok(replies.every((m) => m?.type === "block_data"), JSON.stringify(replies[0]));
          assert.ok(replies.length > 0, "a verified requester gets its blocks");
          return { request: request.length, blocks: replies.length };
        })();
        report("amplification_peer", {
          ratio: Math.round((outAll / inAll) * 1000) / 1000,
          unverified: summary(tallies),
          verified: served,
        });
      }),
  );
});

Deno.test("a cookie from one port does not make an owner send data to another port of that IP", () =>
  withOwner("reflect.bin", 8 << 20, 5, async ({ to, contentId }) => {
    // The attacker receives at one port and gets a real cookie there …
    await using attacker = UdpEndpoint.open({ hostname: "127.0.0.1", port: 0 });
    const ack = { cookie: await cookieOf(attacker, to) };
    // … and sends 5 BLOCK_REQUESTs for 4 MiB each with it, from the victim's port (a spoofed
    // source port looks exactly like this to the owner).
    await using victim = UdpEndpoint.open({ hostname: "127.0.0.1", port: 0 });
    const got: Uint8Array[] = [];
    victim.onDatagram((b) => void got.push(b.slice()));
    let sent = 0;
    for (let i = 0; i < 5; i++) {
      const request = encodeMessage({
        type: "block_request",
        txid: 10 + i,
        cookie: ack.cookie,
        contentId,
        blockSize: 32768,
        ranges: [{ offset: i * (4 << 20) % (8 << 20), length: 4 << 20 }],
      }).slice();
      sent += request.length;
      victim.send(request, to);
    }
    await waitUntil(() => got.length >= 5, 10_000, "the 5 replies").catch(() => {});
    await delay(200); // any data would follow at once
    const received = got.reduce((n, b) => n + b.length, 0);
    const types = [...new Set(got.map((b) => decoded(b)?.type ?? "undecodable"))];
    assert.deepEqual(types, ["error"], `only ERRORs reach the victim's port: ${types}`);
    for (const b of got) {
      const m = decoded(b);
      assert.ok(m?.type === "error" && m.code === ErrorCode.bad_cookie);
    }
    assert.ok(received <= sent, `${received} bytes out for ${sent} in`);
    // The port that proved itself is still served
    const request = encodeMessage({
      type: "block_request",
      txid: 20,
      cookie: ack.cookie,
      contentId,
      blockSize: 16384,
      ranges: [{ offset: 0, length: 65536 }],
    }).slice();
    const served = (await exchange(attacker, request, to)).map(decoded);
    assert.ok(served.length > 0 && served.every((m) => m?.type === "block_data"));
    report("reflection_port", {
      requests: 5,
      bytesIn: sent,
      bytesOutAtVictimPort: received,
      ratio: Math.round((received / sent) * 1000) / 1000,
      replies: types.join("/"),
    });
  }));
