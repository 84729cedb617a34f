/**
 * The tracker's rules at the request level, one scenario run against the default tracker
 * (Dispatcher: the core on its memory store, synchronous) and StoreDispatcher on both stores
 * (the same core, answering with Promises): the same requests get the same replies.
 * @module
 */
import assert from "node:assert/strict";
import { decodeMessage, encodeMessage } from "../../lib/wire/codec.ts";
import type { Message } from "../../lib/wire/messages.ts";
import { Dispatcher } from "../../lib/tracker/dispatch.ts";
import { StoreDispatcher } from "../../lib/tracker/store_dispatch.ts";
import { MemoryStore } from "../../lib/tracker/store/memory_store.ts";
import { RedisStore } from "../../lib/tracker/store/redis_store.ts";
import type { SwarmStore } from "../../lib/tracker/store/swarm_store.ts";
import { redisTest, startRedis } from "../_harness/redis_server.ts";
import { cid, prng, UNLIMITED } from "./_registry_harness.ts";
import type { Source } from "../../lib/tracker/dispatch.ts";

const T0 = 1_000_000;
const OPTIONS = { intervalMs: 1000, grace: 0.5, cookieEpochMs: 3_600_000, limits: UNLIMITED };

interface Core {
  handle(bytes: Uint8Array, from: Source, now: number): Promise<Message | undefined>;
  timeout(now: number): Promise<void>;
}

function memoryCore(): Core {
  const d = new Dispatcher({ now: T0, random: prng(1), ...OPTIONS });
  return {
    handle: (bytes, from, now) => {
      const r = d.handleDatagram(bytes, from, now);
      return Promise.resolve(r === undefined ? undefined : decodeMessage(r.slice()));
    },
    timeout: (now) => {
      for (let t = d.pollTimeout(); t <= now; t = d.pollTimeout()) d.handleTimeout(t);
      d.handleTimeout(now);
      return Promise.resolve();
    },
  };
}

function storeCore(store: SwarmStore): Core {
  const d = new StoreDispatcher({ store, now: T0, secret: new Uint8Array(32), ...OPTIONS });
  return {
    handle: async (bytes, from, now) => {
      const r = await d.handleDatagram(bytes, from, now);
      return r === undefined ? undefined : decodeMessage(r);
    },
    timeout: (now) => d.handleTimeout(now),
  };
}

/** The scenario; returns what each step answered, as comparable text. */
async function scenario(core: Core): Promise<string[]> {
  const out: string[] = [];
  const cookies = new Map<string, bigint>();
  let txid = 1;
  // Every peer on its own host: REPORT never credits an owner on the reporter's host.
  const port = (id: string): Source => ({
    hostname: `127.0.0.${id.charCodeAt(0) - 90}`,
    port: 40000,
  });
  const send = async (id: string, m: Record<string, unknown>, now = T0, from = port(id)) => {
    const bytes = encodeMessage(
      { txid: txid++, nodeId: id, cookie: cookies.get(id) ?? 0n, ...m } as never,
    );
    return await core.handle(bytes, from, now);
  };
  const show = (r: Message | undefined): string => {
    if (r === undefined) return "none";
    if (r.type === "error") return `error ${r.code} ${r.text}`;
    if (r.type === "owners") {
      return `owners ${r.name} ${r.size} ${r.owners.map((o) => o.nodeId).sort()}`;
    }
    if (r.type === "listing") {
      return `listing ${r.total} ${r.entries.map((e) => `${e.name}:${e.owners}`)}`;
    }
    return r.type;
  };
  const register = async (id: string, now = T0) => {
    cookies.delete(id);
    const challenge = await send(id, { type: "register" }, now);
    assert.equal(challenge?.type, "registered");
    cookies.set(id, (challenge as { cookie: bigint }).cookie);
    const r = await send(id, { type: "register" }, now);
    if (r?.type === "registered") cookies.set(id, r.cookie);
    return show(r);
  };
  for (const id of ["a", "b", "c"]) out.push(await register(id));
  out.push(show(await send("a", { type: "own", name: "f", contentId: cid(1), size: 100 })));
  out.push(show(await send("b", { type: "own", name: "f", contentId: cid(1), size: 100 })));
  out.push(show(await send("b", { type: "own", name: "f2", contentId: cid(1), size: 7 })));
  out.push(show(await send("b", { type: "own", name: "a/b", contentId: cid(2), size: 7 })));
  const need = (id: string, want: string, maxOwners = 0, now = T0) =>
    send(id, { type: "need", maxOwners, want: { kind: "name", name: want }, exclude: [] }, now);
  out.push(show(await need("c", "f")));
  out.push(show(await need("c", "nope")));
  out.push(show(await need("a", "g")));
  // REPORT ranks b first; UPDATE ranks nobody.
  out.push(show(await send("a", { type: "update", uploaded: 1e9 })));
  out.push(
    show(
      await send("c", { type: "report", contentId: cid(1), entries: [{ nodeId: "b", bytes: 60 }] }),
    ),
  );
  out.push(show(await need("c", "f", 1)));
  // A bad cookie, an unknown node id on a valid cookie, the wrong address.
  const saved = cookies.get("c")!;
  cookies.set("c", saved ^ 0x10n);
  out.push(show(await need("c", "f")));
  cookies.set("c", saved);
  cookies.set("ghost", saved);
  out.push(
    show(
      await send(
        "ghost",
        { type: "need", maxOwners: 0, want: { kind: "name", name: "f" }, exclude: [] },
        T0,
        port("c"),
      ),
    ),
  );
  out.push(
    show(
      await send("c", { type: "list", cursor: 0, maxEntries: 0, match: "substring", pattern: "" }),
    ),
  );
  out.push(show(await send("a", { type: "exit" })));
  out.push(show(await send("a", { type: "exit" })));
  out.push(show(await need("c", "f")));
  // Silence: b and c keep quiet past the eviction deadline; c comes back and must register.
  await core.timeout(T0 + 1600);
  out.push(show(await send("c", { type: "register" }, T0 + 1700)));
  out.push(await register("c", T0 + 1700));
  out.push(show(await need("c", "f", 0, T0 + 1700)));
  return out;
}

const expected = await scenario(memoryCore());

Deno.test("StoreDispatcher on MemoryStore answers as the memory tracker does", async () => {
  const store = new MemoryStore({ random: prng(1) });
  assert.deepEqual(await scenario(storeCore(store)), expected);
  assert.ok(expected.includes("owners f 100 a,b"), expected.join("\n"));
  assert.ok(expected.includes("owners f 100 b"), "REPORT ranks b first");
});

/** A memory store behind Promises: what the core sees of a remote store such as Redis. */
function remote(store: MemoryStore): SwarmStore {
  const later = <A extends unknown[], R>(f: (...a: A) => R) => (...a: A) =>
    Promise.resolve(f.apply(store, a));
  return {
    kind: "redis",
    join: later(store.join),
    touch: later(store.touch),
    check: later(store.check),
    own: later(store.own),
    need: later(store.need),
    update: later(store.update),
    report: later(store.report),
    listRows: later(store.listRows),
    exit: later(store.exit),
    expire: later(store.expire),
    oldestSeen: () => undefined,
    counts: later(store.counts),
    close: () => store.close(),
  };
}

Deno.test("StoreDispatcher on a remote store checks the cookie before asking it", async () => {
  // The memory tracker answers wrong_address here (it checks its store for free); on a remote
  // store the core answers bad_cookie without a round trip (the cookie is bound to the
  // registered address, not this one).
  const store = new MemoryStore({ random: prng(1) });
  const d = new StoreDispatcher({
    store: remote(store),
    now: T0,
    secret: new Uint8Array(32),
    ...OPTIONS,
  });
  const home = { hostname: "127.0.0.1", port: 4000 };
  const challenge = decodeMessage(
    (await d.handleDatagram(
      encodeMessage({ type: "register", txid: 1, nodeId: "a", cookie: 0n }),
      home,
      T0,
    ))!,
  );
  assert.equal(challenge.type, "registered");
  const r = decodeMessage(
    (await d.handleDatagram(
      encodeMessage({ type: "register", txid: 2, nodeId: "a", cookie: challenge.cookie }),
      home,
      T0,
    ))!,
  );
  assert.equal(r.type, "registered");
  let touched = 0;
  const touch = store.touch.bind(store);
  store.touch = (...args) => (touched++, touch(...args));
  const own = encodeMessage({
    type: "own",
    txid: 3,
    nodeId: "a",
    cookie: r.cookie,
    name: "x",
    contentId: cid(3),
    size: 1,
  });
  const refused = decodeMessage((await d.handleDatagram(own, { ...home, port: 4001 }, T0))!);
  assert.deepEqual([refused.type, refused.type === "error" && refused.code], ["error", 3]);
  assert.equal(touched, 0);
  assert.equal(store.peerInfo("a")!.files.length, 0);
  // Another tracker with the same secret accepts the cookie: a peer moves without registering.
  const other = new StoreDispatcher({
    store: remote(store),
    now: T0,
    secret: new Uint8Array(32),
    ...OPTIONS,
  });
  const moved = decodeMessage((await other.handleDatagram(own, home, T0 + 1))!);
  assert.equal(moved.type, "ack");
});

redisTest("StoreDispatcher on RedisStore answers as the memory tracker does", async () => {
  await using redis = await startRedis();
  const store = await RedisStore.connect({ url: redis.url, random: prng(1) });
  try {
    assert.deepEqual(await scenario(storeCore(store)), expected);
  } finally {
    await store.close();
  }
});

Deno.test("StoreDispatcher: the cookie issued here is reused, and only it skips the HMAC", async () => {
  const store = new MemoryStore({ random: prng(1) });
  const epochMs = 2000; // evicted after 1500 ms of silence: heartbeats below keep "a" alive
  const d = new StoreDispatcher({
    store: remote(store),
    now: T0,
    secret: new Uint8Array(32),
    ...OPTIONS,
    cookieEpochMs: epochMs,
  });
  const home = { hostname: "127.0.0.1", port: 4000 };
  let txid = 1;
  const ask = async (m: Record<string, unknown>, cookie: bigint, now: number, from = home) => {
    const bytes = encodeMessage({ txid: txid++, nodeId: "a", cookie, ...m } as never);
    const r = await d.handleDatagram(bytes, from, now);
    return r === undefined ? undefined : decodeMessage(r);
  };
  const cookieOf = (m: Message | undefined) => {
    assert.equal(m?.type, "registered");
    return (m as { cookie: bigint }).cookie;
  };
  const errorCode = (m: Message | undefined) => m?.type === "error" ? m.code : m?.type;
  const heartbeat = (cookie: bigint, now: number) => ask({ type: "register" }, cookie, now);
  const epoch0 = Math.floor(T0 / epochMs) * epochMs;
  const c1 = cookieOf(await heartbeat(cookieOf(await heartbeat(0n, epoch0)), epoch0));
  // A heartbeat in the same epoch gets the same cookie back.
  assert.equal(cookieOf(await heartbeat(c1, epoch0 + 1000)), c1);
  const own = { type: "own", name: "x", contentId: cid(3), size: 1 };
  // Forged (one bit off the cookie issued here), or that cookie from another port: refused.
  assert.equal(errorCode(await ask(own, c1 ^ 0x100n, epoch0 + 1001)), 3);
  assert.equal(errorCode(await ask(own, c1, epoch0 + 1001, { ...home, port: 4001 })), 3);
  // The next epoch: the old cookie is still valid (checked by HMAC), a heartbeat gets a new one.
  const epoch1 = epoch0 + epochMs;
  await d.handleTimeout(epoch1);
  assert.equal(errorCode(await ask(own, c1, epoch1 + 1)), "ack");
  const c2 = cookieOf(await heartbeat(c1, epoch1 + 2));
  assert.notEqual(c2, c1);
  assert.equal(cookieOf(await heartbeat(c2, epoch1 + 1000)), c2);
  // Two epochs on, the first cookie is refused and the second still valid.
  const epoch2 = epoch1 + epochMs;
  await d.handleTimeout(epoch2);
  assert.equal(errorCode(await ask(own, c1, epoch2 + 1)), 3);
  assert.equal(errorCode(await ask(own, c2, epoch2 + 1)), "ack");
});
