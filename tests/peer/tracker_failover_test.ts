/**
 * Failover of the tracker session between several trackers, on a virtual clock with the real
 * tracker core (Dispatcher) as each tracker: a dead tracker (every datagram to it lost) makes
 * the session register at the next one, announce its files there again, and send the commands
 * in flight there.
 */
import assert from "node:assert/strict";
import {
  type OwnedFile,
  TrackerSession,
  type TrackerSessionEvent,
} from "../../lib/peer/core/tracker_session.ts";
import { Dispatcher } from "../../lib/tracker/dispatch.ts";
import { TrackerErrorCode } from "../../lib/tracker/tracker_error.ts";
import { decodeMessage, encodeMessage } from "../../lib/wire/codec.ts";
import type { OwnersMessage } from "../../lib/wire/messages.ts";
import { cid, prng, randomBytesFrom } from "../tracker/_registry_harness.ts";

const none = { permissions: "none" } as const;
const PEER = { hostname: "127.0.0.1", port: 5000 };
const A = { hostname: "127.0.0.1", port: 7001 };
const B = { hostname: "127.0.0.1", port: 7002 };
const C = { hostname: "127.0.0.1", port: 7003 };

/** Several trackers (each a real Dispatcher, T = 1000 ms) and one session on one virtual clock. */
class Trackers {
  now = 0;
  readonly cores = new Map<number, Dispatcher>();
  readonly dead = new Set<number>();
  readonly events: TrackerSessionEvent[] = [];
  /** Datagrams the session sent, by tracker port. */
  readonly sentTo = new Map<number, string[]>();
  readonly session: TrackerSession;

  constructor(addresses: { hostname: string; port: number }[], heartbeats = 1, intervalMs = 1000) {
    let seed = 1;
    for (const a of addresses) {
      const random = prng(seed++);
      this.cores.set(
        a.port,
        new Dispatcher({
          now: 0,
          intervalMs,
          grace: 0.5,
          random,
          randomBytes: randomBytesFrom(random),
          events: false,
        }),
      );
    }
    const [first, ...fallbacks] = addresses;
    this.session = new TrackerSession({
      tracker: first!,
      fallbacks,
      nodeId: "me",
      random: () => 0.5,
      failoverAfterHeartbeats: heartbeats,
    });
  }

  core(port: number): Dispatcher {
    return this.cores.get(port)!;
  }

  /** Moves datagrams (to the tracker in use at the time of each send) until none is left. */
  flush(): void {
    for (let b; (b = this.session.pollTransmit()) !== undefined;) {
      const to = this.session.tracker;
      const list = this.sentTo.get(to.port) ?? [];
      list.push(decodeMessage(b).type);
      this.sentTo.set(to.port, list);
      if (this.dead.has(to.port)) continue;
      const reply = this.core(to.port).handleDatagram(b, PEER, this.now);
      if (reply !== undefined) this.session.handleDatagram(reply.slice(), to, this.now);
    }
    for (let e; (e = this.session.pollEvent()) !== undefined;) this.events.push(e);
  }

  /** Runs the session's and every live tracker's timers up to `until`. */
  runUntil(until: number): void {
    for (;;) {
      this.flush();
      let at = this.session.pollTimeout() ?? Infinity;
      for (const [port, core] of this.cores) {
        if (!this.dead.has(port)) at = Math.min(at, core.pollTimeout());
      }
      if (at > until) break;
      this.now = Math.max(this.now, at);
      this.session.handleTimeout(this.now);
      for (const [port, core] of this.cores) if (!this.dead.has(port)) core.handleTimeout(this.now);
    }
    this.now = until;
  }

  /** The `done`/`failed` event of command `id`, once it came. */
  outcome(id: number): TrackerSessionEvent | undefined {
    return this.events.find((e) => (e.type === "done" || e.type === "failed") && e.id === id);
  }

  logs(): string[] {
    return this.events.flatMap((e) => e.type === "log" ? [e.line] : []);
  }
}

function files(n: number): OwnedFile[] {
  return Array.from({ length: n }, (_, i) => ({ name: `f${i}`, size: 10 + i, contentId: cid(i) }));
}

Deno.test("TrackerSession uses the first tracker while it answers", none, () => {
  const w = new Trackers([A, B]);
  w.session.register(0);
  for (const f of files(2)) w.session.own(f, 0);
  w.runUntil(10_000);
  assert.equal(w.session.failovers, 0);
  assert.equal(w.core(A.port).fileCount, 2);
  assert.equal(w.sentTo.get(B.port), undefined, "nothing sent to the fallback");
});

Deno.test(
  "TrackerSession fails over after a lost heartbeat, registers at the next tracker and OWNs every file again before the eviction",
  none,
  () => {
    const w = new Trackers([A, B]);
    w.session.register(0);
    for (const f of files(3)) w.session.own(f, 0);
    w.runUntil(100);
    assert.equal(w.core(A.port).fileCount, 3);
    w.dead.add(A.port); // killed: every datagram to it is lost
    // Heard at 0, heartbeat due at 1000, lost after T/4: registered at B well before the
    // 1500 ms a shared store would evict it.
    w.runUntil(1400);
    assert.equal(w.session.failovers, 1);
    assert.deepEqual(w.session.tracker, B);
    assert.equal(w.session.registered, true);
    assert.equal(w.core(B.port).peerCount, 1);
    assert.equal(w.core(B.port).fileCount, 3, "every shared file OWNed again at B");
    assert.ok(
      w.logs().some((l) =>
        l.includes("127.0.0.1:7001") && l.includes("failing over to 127.0.0.1:7002")
      ),
      w.logs().join("\n"),
    );
    // And it carries on: heartbeats to B keep it registered, nothing more goes to A.
    const toA = w.sentTo.get(A.port)!.length;
    w.runUntil(20_000);
    assert.equal(w.session.failovers, 1);
    assert.equal(w.core(B.port).peerCount, 1);
    assert.equal(w.sentTo.get(A.port)!.length, toA);
  },
);

/** Registers `other` at tracker `port` at `now` with file 0 (it does not heartbeat). */
function otherOwnsFile0(w: Trackers, port: number, now: number): void {
  const to = { hostname: "127.0.0.1", port };
  const other = new TrackerSession({ tracker: to, nodeId: "other", random: () => 0.25 });
  other.own(files(1)[0]!, now);
  for (let i = 0; i < 4; i++) {
    for (let b; (b = other.pollTransmit()) !== undefined;) {
      const reply = w.core(port).handleDatagram(b, { hostname: "127.0.0.1", port: 5001 }, now);
      if (reply !== undefined) other.handleDatagram(reply.slice(), to, now);
    }
  }
}

Deno.test(
  "TrackerSession sends a NEED that timed out to the next tracker, registered there with its files",
  none,
  () => {
    const w = new Trackers([A, B], 1, 30_000); // no heartbeat before the NEED gives up at A
    w.session.register(0);
    w.session.own(files(2)[1]!, 0);
    w.runUntil(100);
    otherOwnsFile0(w, B.port, 100); // the trackers of one swarm would share it
    w.dead.add(A.port);
    const id = w.session.need({ kind: "name", name: "f0" }, 0, 200);
    w.runUntil(7000);
    assert.equal(w.outcome(id), undefined, "still asking A");
    assert.equal(w.session.failovers, 0);
    w.runUntil(20_000);
    const e = w.outcome(id);
    assert.equal(e?.type, "done", JSON.stringify(e));
    const owners = (e as { value: OwnersMessage }).value.owners.map((o) => o.nodeId);
    assert.deepEqual(owners, ["other"]);
    assert.equal(w.session.failovers, 1);
    assert.equal(w.core(B.port).fileCount, 2, "its own file OWNed again at B");
  },
);

Deno.test(
  "TrackerSession sends a NEED in flight at a heartbeat failover to the next tracker",
  none,
  () => {
    const w = new Trackers([A, B]);
    w.session.register(0);
    w.runUntil(100);
    otherOwnsFile0(w, B.port, 100);
    w.dead.add(A.port);
    const id = w.session.need({ kind: "name", name: "f0" }, 0, 200);
    w.runUntil(1400); // the heartbeat due at 1000 is lost after T/4
    assert.equal(w.session.failovers, 1);
    assert.equal(w.outcome(id)?.type, "done");
  },
);

Deno.test(
  "TrackerSession tries every tracker in turn and fails a command only when none answers",
  none,
  () => {
    const w = new Trackers([A, B, C]);
    w.dead.add(A.port);
    w.dead.add(B.port);
    w.dead.add(C.port);
    const id = w.session.own(files(1)[0]!, 0);
    w.runUntil(60_000);
    const e = w.outcome(id);
    assert.equal(e?.type, "failed");
    assert.equal((e as { error: { code: number } }).error.code, TrackerErrorCode.timeout);
    assert.ok(w.sentTo.get(A.port)!.length > 0);
    assert.ok(w.sentTo.get(B.port)!.length > 0);
    assert.ok(w.sentTo.get(C.port)!.length > 0);
  },
);

Deno.test(
  "TrackerSession registers at a fallback when the first tracker is down at start",
  none,
  () => {
    const w = new Trackers([A, B]);
    w.dead.add(A.port);
    const id = w.session.register(0);
    w.runUntil(10_000);
    assert.equal(w.outcome(id)?.type, "done");
    assert.deepEqual(w.session.tracker, B);
    assert.equal(w.core(B.port).peerCount, 1);
  },
);

Deno.test(
  "TrackerSession with failoverAfterHeartbeats 3 stays with its tracker through 2 lost heartbeats",
  none,
  () => {
    const w = new Trackers([A, B], 3);
    w.session.register(0);
    w.runUntil(100);
    w.dead.add(A.port);
    w.runUntil(2000); // lost at 1250 and 1750 (T/4 each, the next a T/4 later)
    assert.equal(w.session.failovers, 0, "two heartbeat cycles lost, still at A");
    assert.equal(w.session.missedHeartbeats, 2);
    w.runUntil(8000);
    assert.equal(w.session.failovers, 1);
    assert.equal(w.core(B.port).peerCount, 1);
  },
);

Deno.test(
  "TrackerSession ignores a late reply from the tracker it failed over from",
  none,
  () => {
    const w = new Trackers([A, B]);
    w.session.register(0);
    w.runUntil(100);
    w.dead.add(A.port);
    w.runUntil(1400);
    assert.deepEqual(w.session.tracker, B);
    // A came back and answers an old heartbeat: consumed (it is a tracker reply), no effect.
    const hello = encodeMessage({ type: "register", txid: 1, cookie: 0n, nodeId: "me" });
    const late = w.core(A.port).handleDatagram(hello, PEER, 1400);
    assert.ok(late !== undefined);
    assert.equal(w.session.handleDatagram(late.slice(), A, 1400), true);
    assert.equal(w.session.registered, true);
    assert.equal(w.session.failovers, 1);
    assert.equal(
      w.session.handleDatagram(new Uint8Array([1, 2, 3]), { hostname: "127.0.0.1", port: 9 }, 1400),
      false,
    );
  },
);
