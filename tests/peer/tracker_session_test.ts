import assert from "node:assert/strict";
import {
  type OwnedFile,
  TrackerSession,
  type TrackerSessionEvent,
  type TrackerSessionOptions,
} from "../../lib/peer/core/tracker_session.ts";
import { Dispatcher } from "../../lib/tracker/dispatch.ts";
import { TrackerError, TrackerErrorCode } from "../../lib/tracker/tracker_error.ts";
import { decodeHeader, decodeMessage, encodeMessage } from "../../lib/wire/codec.ts";
import { ErrorCode, type Message, type OwnersMessage } from "../../lib/wire/messages.ts";
import { cid, prng, randomBytesFrom } from "../tracker/_registry_harness.ts";

const none = { permissions: "none" } as const;
const TRACKER = { hostname: "127.0.0.1", port: 6969 };
const PEER = { hostname: "127.0.0.1", port: 5000 };

function session(options: Partial<TrackerSessionOptions> = {}): TrackerSession {
  return new TrackerSession({ tracker: TRACKER, nodeId: "me", random: () => 0.5, ...options });
}

function drainEvents(s: TrackerSession): TrackerSessionEvent[] {
  const out: TrackerSessionEvent[] = [];
  for (let e; (e = s.pollEvent()) !== undefined;) out.push(e);
  return out;
}

function drainSent(s: TrackerSession): Message[] {
  const out: Message[] = [];
  for (let b; (b = s.pollTransmit()) !== undefined;) out.push(decodeMessage(b));
  return out;
}

/** The error of a `failed` event (for command `id` when given). */
function failure(e: TrackerSessionEvent | undefined, id?: number): TrackerError {
  assert.ok(e?.type === "failed", `expected a failed event, got ${e?.type}`);
  if (id !== undefined) assert.equal(e.id, id);
  return e.error;
}

/** The value of a `done` event for command `id`. */
function success(e: TrackerSessionEvent | undefined, id: number): unknown {
  assert.ok(e?.type === "done", `expected a done event, got ${e?.type}`);
  assert.equal(e.id, id);
  return e.value;
}

/** Answers a REGISTER handshake by hand: a challenge, then T = 1000 ms. */
function handshake(s: TrackerSession, now: number, cookie = 77n): void {
  for (const evictAfterMs of [0, 1500]) {
    const [reg] = drainSent(s);
    assert.equal(reg?.type, "register");
    const reply = { type: "registered", txid: reg.txid, cookie, intervalMs: 1000, evictAfterMs };
    assert.ok(s.handleDatagram(encodeMessage(reply as Message), TRACKER, now));
  }
}

/** A session registered by hand (cookie 77, T = 1000 ms) at time 0, its events drained. */
function registeredSession(): TrackerSession {
  const s = session();
  s.register(0);
  handshake(s, 0);
  drainEvents(s);
  return s;
}

/** A rule test (no permissions) on a fresh session, or on one already registered. */
function sessionTest(
  name: string,
  fn: (s: TrackerSession) => void,
  start: "fresh" | "registered" = "fresh",
): void {
  Deno.test(name, none, () => fn(start === "registered" ? registeredSession() : session()));
}

/** Steps the session's own deadlines on a virtual clock until `until`, dropping every send. */
function silence(s: TrackerSession, from: number, until: number): number[] {
  const sends: number[] = [];
  let now = from;
  for (;;) {
    while (s.pollTransmit() !== undefined) sends.push(now);
    const at = s.pollTimeout();
    if (at === undefined || at > until) return sends;
    now = at;
    s.handleTimeout(now);
  }
}

/**
 * A session and the real tracker core on one virtual clock, with zero latency. `drop`
 * loses datagrams in either direction; `restart()` replaces the tracker by a fresh one.
 */
class World {
  now = 0;
  tracker: Dispatcher;
  readonly sent: { type: string; at: number; msg: Message }[] = [];
  drop: (direction: "up" | "down", bytes: Uint8Array) => boolean = () => false;
  #seed = 1;

  /**
   * A world where a fresh session has registered and owns `files(fileCount)`, run until
   * `until` ms.
   */
  static joined(fileCount: number, until: number): World {
    const w = new World(session());
    w.session.register(0);
    for (const f of files(fileCount)) w.session.own(f, 0);
    w.runUntil(until);
    return w;
  }

  constructor(readonly session: TrackerSession) {
    this.tracker = this.#newTracker();
  }

  #newTracker(): Dispatcher {
    const random = prng(this.#seed++);
    return new Dispatcher({
      now: this.now,
      intervalMs: 1000,
      grace: 0.5,
      random,
      randomBytes: randomBytesFrom(random),
      events: false,
    });
  }

  restart(): void {
    this.tracker = this.#newTracker();
  }

  /** Moves datagrams until none is left to move. */
  flush(): void {
    for (let b; (b = this.session.pollTransmit()) !== undefined;) {
      const msg = decodeMessage(b);
      this.sent.push({ type: msg.type, at: this.now, msg });
      if (this.drop("up", b)) continue;
      const reply = this.tracker.handleDatagram(b, PEER, this.now);
      if (reply !== undefined && !this.drop("down", reply)) {
        this.session.handleDatagram(reply, TRACKER, this.now);
      }
    }
  }

  /** Runs both cores' timers up to `until`. */
  runUntil(until: number): void {
    for (;;) {
      this.flush();
      const at = Math.min(this.session.pollTimeout() ?? Infinity, this.tracker.pollTimeout());
      if (at > until) break;
      this.now = Math.max(this.now, at);
      this.session.handleTimeout(this.now);
      this.tracker.handleTimeout(this.now);
    }
    this.now = until;
  }

  sentOf(type: string, since = 0): number[] {
    return this.sent.filter((s) => s.type === type && s.at >= since).map((s) => s.at);
  }
}

function files(n: number): OwnedFile[] {
  return Array.from({ length: n }, (_, i) => ({ name: `f${i}`, size: 10 + i, contentId: cid(i) }));
}

sessionTest(
  "TrackerSession.register() answers the challenge with its cookie, then reports T",
  (s) => {
    const id = s.register(0);
    const [first] = drainSent(s);
    assert.deepEqual(first, { type: "register", txid: first!.txid, cookie: 0n, nodeId: "me" });
    const challenge = {
      type: "registered",
      txid: first!.txid,
      cookie: 5n,
      intervalMs: 0,
      evictAfterMs: 0,
    };
    s.handleDatagram(encodeMessage(challenge as Message), TRACKER, 3);
    const [second] = drainSent(s);
    assert.equal(second?.type, "register");
    assert.equal(
      (second as { cookie: bigint }).cookie,
      5n,
      "the challenge cookie proves the address",
    );
    assert.notEqual(second!.txid, first!.txid);
    assert.equal(s.registered, false);
    const done = {
      type: "registered",
      txid: second!.txid,
      cookie: 6n,
      intervalMs: 1000,
      evictAfterMs: 1500,
    };
    s.handleDatagram(encodeMessage(done as Message), TRACKER, 7);
    const info = { cookie: 6n, intervalMs: 1000, evictAfterMs: 1500 };
    assert.deepEqual(drainEvents(s), [
      { type: "registered", info, again: false, files: 0 },
      { type: "done", id, value: info },
    ]);
    assert.equal(s.registered, true);
    assert.equal(s.pollTimeout(), 1007, "the first heartbeat one T after the reply");
    const again = s.register(8);
    assert.deepEqual(drainEvents(s), [{ type: "done", id: again, value: info }], "idempotent");
    assert.equal(s.pollTransmit(), undefined);
  },
);

sessionTest("TrackerSession retransmits with exponential backoff, then fails with timeout", (s) => {
  const id = s.register(1000);
  const sends = silence(s, 1000, 100_000);
  assert.deepEqual(
    sends,
    [1000, 1000, 1250, 1250, 1750, 1750, 2750, 2750, 4750, 4750],
    "twice each, 250, 500, 1000, 2000 ms apart",
  );
  const [event] = drainEvents(s);
  const error = failure(event, id);
  assert.ok(error instanceof TrackerError);
  assert.equal(error.code, TrackerErrorCode.timeout);
  assert.equal(error.request, "register");
  assert.match(error.message, /did not answer REGISTER \(5 attempts over 7\.8 s\)/);
  assert.equal(s.retransmits, 4);
  assert.equal(s.pollTimeout(), undefined, "nothing left to do");
});

Deno.test("TrackerSession caps each wait at maxDelayMs and the total at totalMs", none, () => {
  const s = session({
    retry: { initialMs: 100, factor: 3, maxDelayMs: 500, attempts: 10, totalMs: 1200 },
  });
  const id = s.need({ kind: "name", name: "x" }, 0, 0);
  assert.deepEqual(
    silence(s, 0, 1199),
    [0, 0, 100, 100, 400, 400, 900, 900],
    "each REGISTER twice",
  );
  assert.deepEqual(drainEvents(s), []);
  assert.equal(s.pollTimeout(), 1200);
  s.handleTimeout(1200);
  const [event] = drainEvents(s);
  assert.equal(failure(event, id).request, "register", "NEED waited for REGISTER");
});

Deno.test("TrackerSession jitters each wait by at most ±10 %", none, () => {
  for (const [r, first] of [[0, 225], [0.999, 250 * (0.9 + 0.2 * 0.999)]] as const) {
    const s = session({ random: () => r });
    s.register(0);
    s.pollTransmit();
    assert.equal(s.pollTimeout(), first);
  }
});

sessionTest(
  "TrackerSession matches replies by txid and ignores late, duplicate and unknown ones",
  (s) => {
    const id = s.need({ kind: "name", name: "song" }, 3, 10);
    const [need] = drainSent(s);
    assert.equal(need?.type, "need");
    assert.equal((need as { maxOwners: number }).maxOwners, 3);
    assert.equal((need as { cookie: bigint }).cookie, 77n);
    const owners: Omit<OwnersMessage, "txid"> = {
      type: "owners",
      contentId: cid(1),
      name: "song",
      size: 9,
      alternatives: 0,
      owners: [{ nodeId: "o", address: { family: 4, host: "127.0.0.2", port: 1 }, rate: 0 }],
    };
    // A reply with another txid is consumed (it is the tracker's) but settles nothing.
    assert.ok(s.handleDatagram(encodeMessage({ ...owners, txid: need!.txid + 1 }), TRACKER, 20));
    assert.deepEqual(drainEvents(s), []);
    // The retransmission carries the same txid; a reply to either send settles it.
    s.handleTimeout(s.pollTimeout()!);
    const [resent] = drainSent(s);
    assert.equal(resent!.txid, need!.txid);
    const reply = encodeMessage({ ...owners, txid: need!.txid });
    s.handleDatagram(reply, TRACKER, 300);
    const [done] = drainEvents(s);
    assert.equal((success(done, id) as { name: string }).name, "song");
    s.handleDatagram(reply, TRACKER, 301);
    assert.deepEqual(drainEvents(s), [], "a duplicate reply is ignored");
    // A reply from another address is not the tracker's.
    assert.equal(s.handleDatagram(reply, { hostname: "127.0.0.1", port: 6970 }, 302), false);
    assert.equal(s.handleDatagram(reply, { hostname: "127.0.0.9", port: 6969 }, 302), false);
  },
  "registered",
);

Deno.test("TrackerSession ignores a reply that arrives after the request gave up", none, () => {
  const s = session({ retry: { initialMs: 10, attempts: 2 } });
  s.register(0);
  const [reg] = drainSent(s);
  silence(s, 0, 1000);
  assert.equal(drainEvents(s)[0]?.type, "failed");
  const late = {
    type: "registered",
    txid: reg!.txid,
    cookie: 1n,
    intervalMs: 1000,
    evictAfterMs: 1500,
  };
  assert.ok(s.handleDatagram(encodeMessage(late as Message), TRACKER, 1001));
  assert.deepEqual(drainEvents(s), []);
  assert.equal(s.registered, false);
});

sessionTest(
  "TrackerSession counts a malformed tracker reply and does not consume other traffic",
  (s) => {
    const garbage = encodeMessage({ type: "ack", txid: 1 });
    const truncatedError = new Uint8Array(
      [...encodeMessage({ type: "error", txid: 1, code: 1, text: "abc" })].slice(0, 13),
    );
    assert.ok(s.handleDatagram(truncatedError, TRACKER, 0));
    assert.equal(s.malformed, 1);
    assert.equal(drainEvents(s)[0]?.type, "log");
    const request = encodeMessage({ type: "exit", txid: 1, cookie: 1n, nodeId: "x" });
    assert.equal(
      s.handleDatagram(request, TRACKER, 0),
      false,
      "a request, not a reply: not for the session",
    );
    assert.equal(s.handleDatagram(new Uint8Array(3), TRACKER, 0), false);
    assert.ok(s.handleDatagram(garbage, TRACKER, 0), "an ACK nobody waits for: consumed, ignored");
  },
);

Deno.test("TrackerSession queues commands behind the registration they need", none, () => {
  const w = new World(session());
  const ids = [w.session.need({ kind: "name", name: "nothing" }, 0, 0), w.session.update(5, 0)];
  assert.deepEqual(
    drainSent(w.session).map((m) => m.type),
    ["register", "register"],
    "REGISTER first, twice",
  );
  w.session.register(0); // joins the registration in progress, sends nothing more
  assert.equal(w.session.pollTransmit(), undefined);
  w.session.handleTimeout(w.session.pollTimeout()!); // retransmit the lost first REGISTER
  w.flush();
  // Both copies of the resent REGISTER reach the tracker; the second copy's challenge is late.
  assert.deepEqual(w.sent.map((s) => s.type), [
    "register",
    "register",
    "register",
    "need",
    "update",
  ]);
  const events = drainEvents(w.session).filter((e) => e.type === "done" || e.type === "failed");
  assert.equal(events.length, 3);
  const need = failure(events.find((e) => e.type === "failed"), ids[0]);
  assert.equal(need.code, ErrorCode.not_found);
  assert.match(need.message, /^Tracker refused NEED: /);
  assert.ok(events.some((e) => e.type === "done" && e.id === ids[1]));
});

Deno.test("TrackerSession: a lost REGISTER costs no blind 250 ms wait", none, async (t) => {
  /** Registers in a world that loses the `lost`-th datagram up; when the session registered. */
  function registeredAt(lost: number): number | undefined {
    const w = new World(session());
    let up = 0;
    w.drop = (direction) => direction === "up" && ++up === lost;
    w.session.register(0);
    for (let at = 0; at <= 300; at += 5) {
      w.runUntil(at);
      if (drainEvents(w.session).some((e) => e.type === "registered")) return at;
    }
    return undefined;
  }
  await t.step("the first REGISTER goes out twice: losing one copy costs nothing", () => {
    assert.equal(registeredAt(1), 0);
  });
  await t.step("the cookie REGISTER is resent after the measured round trip", () => {
    // Copy 1 is answered, copy 2's late challenge is ignored, the cookie REGISTER is lost: it
    // goes again after NEED_RETRY_MIN_MS (the round trip here is 0), not after 250 ms.
    assert.equal(registeredAt(3), 20);
  });
});

Deno.test("TrackerSession heartbeats every T and the tracker never evicts it", none, () => {
  const w = World.joined(0, 10_500);
  const beats = w.sentOf("register").slice(3); // two copies of the first, then the cookie's
  assert.deepEqual(beats, [1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10_000]);
  assert.equal(w.tracker.counters.heartbeats, 10);
  assert.equal(w.tracker.peerCount, 1);
  assert.equal(w.session.missedHeartbeats, 0);
});

Deno.test(
  "TrackerSession retransmits a lost heartbeat within its cycle (T/20) and stays registered",
  none,
  () => {
    const w = World.joined(0, 10);
    let lost = 0;
    w.drop = (dir, b) => dir === "up" && decodeHeader(b).type === "register" && lost++ % 2 === 0;
    w.runUntil(5_500);
    assert.deepEqual(w.sentOf("register", 500), [
      1000,
      1050,
      2050,
      2100,
      3100,
      3150,
      4150,
      4200,
      5200,
      5250,
    ]);
    assert.equal(w.tracker.counters.evictions, 0);
    assert.equal(w.session.missedHeartbeats, 0);
    assert.equal(w.session.retransmits, 5);
  },
);

Deno.test("TrackerSession retries a heartbeat the tracker never answered after T/4", none, () => {
  const w = World.joined(0, 10);
  w.drop = () => true;
  // Heartbeat at 1000, retransmitted until the cycle's budget (T/2 past the eviction time).
  w.runUntil(2_100);
  assert.equal(w.session.missedHeartbeats, 1);
  const beats = w.sentOf("register", 500);
  assert.equal(beats[0], 1000);
  assert.ok(beats.at(-1)! < 2000, `${beats}`);
  const retryAt = w.session.pollTimeout()!;
  assert.equal(retryAt, 2000 + 250, "next try a quarter of T after giving up");
  assert.equal(w.session.registered, true, "still registered as far as it knows");
});

Deno.test(
  "TrackerSession registers again after an eviction and announces its files again",
  none,
  async (t) => {
    const w = new World(session());
    const lines: string[] = [];
    w.session.register(0);
    for (const f of files(10)) w.session.own(f, 0);
    w.runUntil(100);
    assert.equal(w.tracker.fileCount, 10);
    await t.step("evicted while silent", () => {
      w.drop = () => true;
      w.runUntil(3_000);
      assert.equal(w.tracker.counters.evictions, 1);
      assert.equal(w.tracker.peerCount, 0);
      for (const e of drainEvents(w.session)) if (e.type === "log") lines.push(e.line);
    });
    await t.step("back: the next heartbeat learns it, registers and re-OWNs every file", () => {
      w.drop = () => false;
      const since = w.now;
      w.runUntil(since + 1_000);
      const events = drainEvents(w.session);
      assert.ok(
        events.some((e) => e.type === "registered" && e.again && e.files === 10),
        JSON.stringify(events, (_, v) => typeof v === "bigint" ? String(v) : v),
      );
      assert.equal(w.session.reregistrations, 1);
      assert.equal(w.tracker.peerCount, 1);
      assert.equal(w.tracker.fileCount, 10);
      assert.equal(w.sentOf("own", since).length, 10);
      assert.ok(
        events.some((e) =>
          e.type === "log" && /no longer knows me: registering again/.test(e.line)
        ),
      );
    });
  },
);

Deno.test(
  "TrackerSession answered unknown_node registers again, re-OWNs, then retries the command",
  none,
  () => {
    const w = World.joined(1, 100);
    // The tracker restarts between two heartbeats; the next command learns it first.
    w.restart();
    const id = w.session.update(42, 200);
    const since = w.sent.length;
    w.flush();
    const order = w.sent.slice(since).map((s) => s.type);
    assert.deepEqual(order, ["update", "register", "register", "own", "update"]);
    const events = drainEvents(w.session);
    assert.ok(events.some((e) => e.type === "done" && e.id === id));
    assert.ok(events.some((e) => e.type === "registered" && e.again));
    assert.equal(w.tracker.fileCount, 1);
    assert.equal(w.tracker.counters.updates, 1);
  },
);

sessionTest("TrackerSession fails a command the tracker refuses twice with unknown_node", (s) => {
  const id = s.update(1, 10);
  for (let round = 0; round < 2; round++) {
    const sent = drainSent(s);
    const last = sent.at(-1)!;
    assert.equal(last.type, "update");
    s.handleDatagram(
      encodeMessage({
        type: "error",
        txid: last.txid,
        code: ErrorCode.unknown_node,
        text: "who?",
      }),
      TRACKER,
      20,
    );
    if (round === 0) handshake(s, 20, 99n);
  }
  const failed = failure(drainEvents(s).find((e) => e.type === "failed"), id);
  assert.equal(failed.code, ErrorCode.unknown_node);
  assert.equal(s.reregistrations, 1);
}, "registered");

Deno.test("TrackerSession re-registers with its files within 2T of a tracker restart", none, () => {
  const w = World.joined(3, 500);
  w.restart();
  w.runUntil(500 + 2 * 1000);
  assert.equal(w.tracker.peerCount, 1);
  assert.equal(w.tracker.fileCount, 3);
  assert.equal(w.session.reregistrations, 1);
  assert.equal(w.session.registered, true);
});

sessionTest(
  "TrackerSession heartbeat refused for another reason tries again after T/4, not at once",
  (s) => {
    s.handleTimeout(1000);
    const [beat] = drainSent(s);
    s.handleDatagram(
      encodeMessage({
        type: "error",
        txid: beat!.txid,
        code: ErrorCode.rate_limited,
        text: "slow",
      }),
      TRACKER,
      1001,
    );
    assert.match(
      (drainEvents(s).find((e) => e.type === "log") as { line: string }).line,
      /heartbeat refused: slow/,
    );
    assert.equal(s.pollTimeout(), 1001 + 250);
  },
  "registered",
);

sessionTest("TrackerSession.register() gives up after 4 challenge rounds or on a refusal", (s) => {
  const id = s.register(0);
  for (let i = 0; i < 4; i++) {
    const [reg] = drainSent(s);
    s.handleDatagram(
      encodeMessage({
        type: "registered",
        txid: reg!.txid,
        cookie: 1n,
        intervalMs: 0,
        evictAfterMs: 0,
      }),
      TRACKER,
      i,
    );
  }
  const [failed] = drainEvents(s);
  assert.match(
    failure(failed, id).message,
    /kept challenging REGISTER; giving up after 4 rounds/,
  );
  const t = session();
  t.register(0);
  const [reg] = drainSent(t);
  t.handleDatagram(
    encodeMessage({
      type: "error",
      txid: reg!.txid,
      code: ErrorCode.wrong_address,
      text: "registered from 127.0.0.1:1",
    }),
    TRACKER,
    1,
  );
  const refused = failure(drainEvents(t)[0]);
  assert.equal(refused.code, ErrorCode.wrong_address);
  assert.match(
    refused.message,
    /Tracker refused REGISTER: registered from 127\.0\.0\.1:1 \(another peer/,
  );
});

Deno.test(
  "TrackerSession.exit() tells the tracker, stops the heartbeat and refuses later commands",
  none,
  () => {
    const w = World.joined(1, 100);
    const id = w.session.exit(100);
    assert.equal(w.session.exit(100), id, "an EXIT in flight is one handle");
    w.flush();
    assert.equal(w.tracker.peerCount, 0);
    assert.equal(w.tracker.fileCount, 0);
    const events = drainEvents(w.session);
    assert.ok(events.some((e) => e.type === "done" && e.id === id));
    assert.equal(w.session.pollTimeout(), undefined, "no heartbeat after EXIT");
    const need = w.session.need({ kind: "name", name: "f0" }, 0, 200);
    const [failed] = drainEvents(w.session);
    assert.match(failure(failed, need).message, /left the tracker/);
    const again = w.session.exit(300);
    assert.deepEqual(drainEvents(w.session), [{ type: "done", id: again, value: undefined }]);
    // register() joins again, and announces the files it still shares.
    w.session.register(400);
    w.runUntil(500);
    assert.equal(w.tracker.peerCount, 1);
    assert.equal(w.tracker.fileCount, 1);
  },
);

Deno.test(
  "TrackerSession.exit() resends EXIT on the tracker's round trip, then fails with timeout",
  none,
  () => {
    const s = registeredSession(); // the handshake was answered at once: a round trip of 0 ms
    const id = s.exit(100);
    const sends = silence(s, 100, 100_000);
    // 20 ms (the floor), doubling, for as long as 3 blind sends (250, 500, 1000 ms) would wait
    assert.deepEqual(sends, [100, 120, 160, 240, 400, 720, 1360]);
    const [failed] = drainEvents(s);
    assert.equal(failure(failed, id).code, TrackerErrorCode.timeout);
    assert.equal(s.info, undefined);
  },
);

sessionTest("TrackerSession.close() fails every outstanding command with closed", (s) => {
  const ids = [s.register(0), s.need({ kind: "name", name: "x" }, 0, 0)];
  s.close(1);
  const events = drainEvents(s);
  assert.deepEqual(events.map((e) => e.type === "failed" && e.id), ids);
  assert.ok(events.every((e) => e.type === "failed" && e.error.code === TrackerErrorCode.closed));
  assert.equal(s.pollTimeout(), undefined);
  s.update(1, 2);
  assert.equal(drainEvents(s)[0]?.type, "failed");
});

sessionTest(
  "TrackerSession.own() validates fields at once and forgets a file the tracker refused",
  (s) => {
    assert.throws(() => s.own({ name: "", size: 1, contentId: cid(1) }, 0));
    assert.throws(() => s.update(-1, 0), RangeError);
    s.own({ name: "a", size: 1, contentId: cid(1) }, 1);
    assert.equal(s.ownedFiles.size, 1);
    const [own] = drainSent(s);
    s.handleDatagram(
      encodeMessage({
        type: "error",
        txid: own!.txid,
        code: ErrorCode.too_many_files,
        text: "full",
      }),
      TRACKER,
      2,
    );
    assert.equal(s.ownedFiles.size, 0);
    s.own({ name: "b", size: 1, contentId: cid(2) }, 3);
    s.own({ name: "b", size: 2, contentId: cid(3) }, 3);
    assert.deepEqual(
      [...s.ownedFiles.values()].map((f) => f.size),
      [2],
      "a new content replaces the name",
    );
    assert.ok(s.disown(cid(3)));
    assert.equal(s.ownedFiles.size, 0);
  },
  "registered",
);

Deno.test(
  "TrackerSession.exitAcknowledged is true only once the tracker acknowledged EXIT",
  none,
  () => {
    const never = session();
    never.exit(0);
    assert.equal(drainEvents(never)[0]?.type, "done", "nothing to tell: done at once");
    assert.equal(never.exitAcknowledged, false, "but nobody acknowledged anything");

    const w = World.joined(0, 100);
    assert.equal(w.session.exitAcknowledged, false);
    w.session.exit(100);
    w.flush();
    assert.equal(w.session.exitAcknowledged, true);

    const silent = registeredSession();
    silent.exit(100);
    silence(silent, 100, 100_000);
    assert.equal(silent.exitAcknowledged, false, "three EXITs, no answer");
  },
);

Deno.test(
  "TrackerSession.list() registers first, then pages through LISTINGs; a wrong reply fails it",
  none,
  () => {
    const w = new World(session());
    w.session.own({ name: "b.iso", size: 2, contentId: new Uint8Array(32).fill(2) }, 0);
    w.session.own({ name: "a.iso", size: 1, contentId: new Uint8Array(32).fill(1) }, 0);
    const id = w.session.list({ pattern: "*.ISO", match: "glob", maxEntries: 1 }, 0);
    w.flush();
    const events = drainEvents(w.session);
    const page = success(events.find((e) => e.type === "done" && e.id === id), id);
    assert.ok((page as Message).type === "listing");
    const listing = page as Extract<Message, { type: "listing" }>;
    assert.deepEqual(listing.entries.map((e) => e.name), ["a.iso"]);
    assert.equal(listing.total, 2);
    const next = w.session.list({ pattern: "*.ISO", match: "glob", cursor: listing.nextCursor }, 0);
    w.flush();
    const second = success(drainEvents(w.session).find((e) => e.type === "done"), next) as Extract<
      Message,
      { type: "listing" }
    >;
    assert.deepEqual(second.entries.map((e) => e.name), ["b.iso"]);
    assert.equal(second.nextCursor, 0);
    assert.throws(
      () => w.session.list({ pattern: "p".repeat(256), match: "substring" }, 0),
      RangeError,
    );

    // A tracker that answers LIST with something else: a protocol error, not a hang.
    const s = registeredSession();
    const bad = s.list({ pattern: "", match: "substring" }, 0);
    const sent = drainSent(s).find((m) => m.type === "list")!;
    s.handleDatagram(encodeMessage({ type: "ack", txid: sent.txid }), TRACKER, 1);
    assert.match(
      failure(drainEvents(s).find((e) => e.type === "failed"), bad).message,
      /answered LIST with ack/,
    );
  },
);
