/**
 * A per-piece trace of the seed in one swarm simulation (scripts/bench_swarm_sim.ts's scenario):
 * when the seed had sent every piece once, what it sent meanwhile (first copies, copies of a piece
 * still on its way to its first recipient, copies of a piece already sent whole), per second; why
 * each extra copy's recipient asked for it (offered before the first copy was whole, offered
 * after, never offered); how fast the pieces it sent last spread to every downloader; and the
 * seed's and the downloaders' wire bytes per message type. Virtual time, deterministic.
 *
 *   deno run -P=test scripts/trace_swarm_seed.ts [--peers 100] [--size-mib 64] [--seed 1]
 *     [--sample-ms 100] [--fragment-mtu 1500] [--dump FILE]
 *
 * `--fragment-mtu` is every upload link's largest IP packet, as in scripts/bench_swarm_sim.ts
 * (1500 by default; 0 models whole datagrams). `--dump` writes every offer, every block sent, every piece's
 * first block per recipient and when its first copy was whole (ms from the first seed block) as JSON.
 * @module
 */
import { parseArgs } from "node:util";
import { runSwarm, swarmFile } from "../lib/sim/swarm_scenario.ts";
import { SimNetwork } from "../lib/sim/sim_network.ts";
import { MessageType } from "../lib/wire/messages.ts";
import { SwarmRules } from "../lib/peer/core/swarm_rules.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    peers: { type: "string", default: "100" },
    "size-mib": { type: "string", default: "64" },
    seed: { type: "string", default: "1" },
    "sample-ms": { type: "string", default: "100" },
    "fragment-mtu": { type: "string", default: "1500" },
    dump: { type: "string", default: "" },
  },
});
const n = Number(values.peers);
const size = Math.round(Number(values["size-mib"]) * 1024 * 1024);
const seed = Number(values.seed);
const sampleMs = Number(values["sample-ms"]);
const file = swarmFile(size, 1);
const pieceSize = file.manifest.pieceSize;
const pieces = Math.ceil(size / pieceSize);
const len = (p: number) => Math.min(pieceSize, size - p * pieceSize);

/** Per piece: bytes that reached each recipient host; when one had all of it first. */
const got = Array.from({ length: pieces }, () => new Map<string, number>());
const fullAt = new Array<number>(pieces).fill(Infinity);
type Kind = "first" | "concurrent" | "again" | "dropped";
const perSecond: Record<Kind, number>[] = [];
let t0 = -1;
const bucket = (now: number) => {
  const s = Math.floor((now - t0) / 1000);
  while (perSecond.length <= s) perSecond.push({ first: 0, concurrent: 0, again: 0, dropped: 0 });
  return perSecond[s]!;
};
const allAt = new Array<number>(pieces).fill(Infinity);
const halfAt = new Array<number>(pieces).fill(Infinity);
const holdersAt: { atMs: number; min: number; rarest: number }[] = [];

// Wire bytes (payload + 28 per datagram) per message type, the seed's and the downloaders'
const byType = { seed: new Map<number, number>(), peers: new Map<number, number>() };
const bind = SimNetwork.prototype.bind;
SimNetwork.prototype.bind = function (this: SimNetwork, addr, receive) {
  const socket = bind.call(this, addr, receive);
  const m = addr.hostname === "10.0.1.1"
    ? byType.seed
    : addr.hostname.startsWith("10.0.") && addr.hostname !== "10.0.0.1"
    ? byType.peers
    : undefined;
  if (m === undefined) return socket;
  const count = (b: Uint8Array) => m.set(b[3]!, (m.get(b[3]!) ?? 0) + b.byteLength + 28);
  return {
    ...socket,
    send: (b, to) => (count(b), socket.send(b, to)),
    transfer: (b, to) => (count(b), socket.transfer(b, to)),
  };
};

// Every piece the seed offered, to which host, when: piece → host → time of the first offer
const offeredAt = new Map<number, Map<string, number>>();
/** Every offer of a piece, in order. */
const offerLog: { piece: number; host: string; at: number }[] = [];
/** Every block the seed sent (with --dump): piece, host, ms from t0, bytes. */
const sendLog: [number, string, number, number][] = [];
/** Per piece: host → when the seed sent it the piece's first block. */
const startedAt = Array.from({ length: pieces }, () => new Map<string, number>());
const answer = SwarmRules.prototype.answer;
SwarmRules.prototype.answer = function (this: SwarmRules, msg, have, from, now, mayOffer) {
  const reply = answer.call(this, msg, have, from, now, mayOffer);
  if (reply.offer && have === undefined) {
    for (let i = 0; i < reply.bits.byteLength * 8; i++) {
      if ((reply.bits[i >> 3]! & (0x80 >> (i & 7))) === 0) continue;
      const p = msg.firstPiece + i;
      let m = offeredAt.get(p);
      if (m === undefined) offeredAt.set(p, m = new Map());
      if (!m.has(from.hostname)) m.set(from.hostname, now);
      offerLog.push({ piece: p, host: from.hostname, at: now });
    }
  }
  return reply;
};
/** Copies beyond the first, by why the recipient asked: bytes. */
const why = {
  "offered before the first copy was whole": 0,
  "offered after": 0,
  "never offered": 0,
};

const r = runSwarm({
  peers: n,
  size,
  seedUpload: 5000,
  seed,
  sampleMs,
  fragmentMtu: Number(values["fragment-mtu"]),
  onSeedUpload: (offset, length, to, now, dropped) => {
    if (t0 < 0) t0 = now; // first block: close enough to the start for per-second buckets
    const b = bucket(now);
    if (dropped) {
      b.dropped += length;
      return;
    }
    const p = Math.floor(offset / pieceSize);
    const m = got[p]!;
    const had = m.get(to.hostname) ?? 0;
    if (!startedAt[p]!.has(to.hostname)) startedAt[p]!.set(to.hostname, now);
    if (values.dump) sendLog.push([p, to.hostname, now - t0, length]);
    const dup = fullAt[p]! < now || (m.size > 0 && !(m.size === 1 && m.has(to.hostname)));
    if (fullAt[p]! < now) b.again += length;
    else if (dup) b.concurrent += length;
    else b.first += length;
    if (dup) {
      const o = offeredAt.get(p)?.get(to.hostname);
      if (o === undefined) why["never offered"] += length;
      else if (o <= fullAt[p]!) why["offered before the first copy was whole"] += length;
      else why["offered after"] += length;
    }
    m.set(to.hostname, had + length);
    if (had + length >= len(p) && fullAt[p] === Infinity) fullAt[p] = now;
  },
  onSample: (atMs, have) => {
    let min = Infinity, rarest = -1;
    for (let p = 0; p < pieces; p++) {
      let c = 0;
      for (const h of have) if (h !== undefined && h[p] === 1) c++;
      if (c >= n && allAt[p] === Infinity) allAt[p] = atMs;
      if (c >= n / 2 && halfAt[p] === Infinity) halfAt[p] = atMs;
      if (c < min) [min, rarest] = [c, p];
    }
    holdersAt.push({ atMs, min, rarest });
  },
}, file);

const s = (ms: number) => (ms / 1000).toFixed(2);
const F = size;
console.log(
  `N=${n}, F=${values["size-mib"]} MiB, seed ${seed}: all done ${s(r.allDoneMs)} s (${
    r.ratio.toFixed(2)
  }x), seed wire ${r.seedBytesPerFile.toFixed(3)} F, copies ${r.seedCopies.join("/")}`,
);
const tOnce = Math.max(...fullAt) - t0;
console.log(`every piece sent whole once at ${s(tOnce)} s (t0 = first seed block)`);
const tot: Record<Kind, number> = { first: 0, concurrent: 0, again: 0, dropped: 0 };
console.log("second | first F | concurrent F | again F | dropped F | pieces not yet sent whole");
perSecond.forEach((b, i) => {
  for (const k of Object.keys(tot) as Kind[]) tot[k] += b[k];
  const left = fullAt.filter((t) => t - t0 >= (i + 1) * 1000).length;
  console.log(
    `${String(i).padStart(6)} | ${(b.first / F).toFixed(3)} | ${(b.concurrent / F).toFixed(3)} | ${
      (b.again / F).toFixed(3)
    } | ${(b.dropped / F).toFixed(3)} | ${left}`,
  );
});
console.log(
  `total   | ${(tot.first / F).toFixed(3)} | ${(tot.concurrent / F).toFixed(3)} | ${
    (tot.again / F).toFixed(3)
  } | ${(tot.dropped / F).toFixed(3)}`,
);
console.log(
  "copies beyond the first, by the recipient's offer: " +
    Object.entries(why).map(([k, v]) => `${k} ${(v / F).toFixed(3)} F`).join(", "),
);
// The last pieces sent whole: how long until half and all of the downloaders had them
const order = [...fullAt.keys()].sort((a, b) => fullAt[a]! - fullAt[b]!);
console.log(
  "last pieces sent whole once: piece, sent at, half have it, all have it (s from start)",
);
for (const p of order.slice(-12)) {
  console.log(`  ${p}: ${s(fullAt[p]! - t0)} ${s(halfAt[p]!)} ${s(allAt[p]!)}`);
}
const lastAll = [...allAt.keys()].sort((a, b) => allAt[a]! - allAt[b]!).slice(-8);
console.log("last pieces to reach every downloader: piece, sent whole at, half, all");
for (const p of lastAll) {
  console.log(`  ${p}: ${s(fullAt[p]! - t0)} ${s(halfAt[p]!)} ${s(allAt[p]!)}`);
}
console.log("rarest piece's holders per second:");
console.log(
  "  " +
    holdersAt.filter((h) => Math.round(h.atMs) % 1000 === 0).map((h) => `${s(h.atMs)}:${h.min}`)
      .join(" "),
);
// Pieces the seed sent to two or more hosts: when the second recipient was offered it, against
// the first recipient's offer, start and whole copy
const second = {
  "offered before the first started": 0,
  "offered after the first started": 0,
  "never offered": 0,
};
const offersAt = new Map<number, { host: string; at: number }[]>();
for (const o of offerLog) {
  let l = offersAt.get(o.piece);
  if (l === undefined) offersAt.set(o.piece, l = []);
  l.push(o);
}
const examples: string[] = [];
for (let p = 0; p < pieces; p++) {
  const st = [...startedAt[p]!].sort((a, b) => a[1] - b[1]);
  if (st.length < 2) continue;
  const [h1, t1] = st[0]!;
  for (const [h2] of st.slice(1)) {
    const o2 = offeredAt.get(p)?.get(h2);
    const k = o2 === undefined
      ? "never offered"
      : o2 < t1
      ? "offered before the first started"
      : "offered after the first started";
    second[k]++;
  }
  if (examples.length < 12 && st[1]![1] < fullAt[p]!) {
    const offs = (offersAt.get(p) ?? []).map((o) => `${o.host.slice(5)}@${s(o.at - t0)}`);
    examples.push(
      `  ${p}: offers ${offs.join(" ")}; starts ${
        st.map(([h, t]) => `${h.slice(5)}@${s(t - t0)}`).join(" ")
      }; first whole ${s(fullAt[p]! - t0)} (first ${h1.slice(5)})`,
    );
  }
}
console.log(
  "second and later recipients of a piece: " +
    Object.entries(second).map(([k, v]) => `${k} ${v}`).join(", "),
);
console.log("pieces started by a second host before the first copy was whole (examples):");
for (const e of examples) console.log(e);
if (values.dump) {
  await Deno.writeTextFile(
    values.dump,
    JSON.stringify({
      offers: offerLog.map((o) => [o.piece, o.host, o.at - t0]),
      starts: startedAt.map((m) => [...m].map(([h, t]) => [h, t - t0])),
      whole: fullAt.map((t) => t - t0),
      sends: sendLog,
    }),
  );
}
const names = new Map(Object.entries(MessageType).map(([k, v]) => [v as number, k]));
const typeName = (t: number) => names.get(t) ?? `0x${t.toString(16)}`;
for (const [who, m] of Object.entries(byType)) {
  const line = [...m].sort((a, b) => b[1] - a[1]).map(([t, b]) =>
    `${typeName(t)} ${(b / F).toFixed(4)}`
  );
  console.log(`${who} wire bytes / F by type (sent, drops included): ${line.join(", ")}`);
}
