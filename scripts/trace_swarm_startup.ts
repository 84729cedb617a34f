/**
 * The first seconds of one swarm simulation (scripts/bench_swarm_sim.ts's scenario, all peers at
 * once), per window: the seed's wire bytes per message type, how many downloads have their
 * manifest (part open) and a first verified piece, and the downloaders' upload use. Where the
 * start-up goes before every upload is busy. Virtual time, deterministic.
 *
 *   deno run -P=test scripts/trace_swarm_startup.ts [--peers 100] [--size-mib 64] [--seed 1]
 *     [--piece-kib KIB] [--ms 3000] [--window-ms 100]
 * @module
 */
import { benchFlags } from "./_bench_flags.ts";
import { runSwarm, swarmFile } from "../lib/sim/swarm_scenario.ts";
import { SimNetwork } from "../lib/sim/sim_network.ts";
import { MessageType } from "../lib/wire/messages.ts";
import { defaultPieceSizeFor } from "../lib/peer/manifest.ts";

const values = benchFlags(
  "deno run -P=test scripts/trace_swarm_startup.ts [--peers 100] [--size-mib 64] [--seed 1] " +
    "[--piece-kib KIB] [--ms 3000] [--window-ms 100]",
  {
    peers: { type: "string", default: "100" },
    "size-mib": { type: "string", default: "64" },
    seed: { type: "string", default: "1" },
    "piece-kib": { type: "string", default: "0" },
    ms: { type: "string", default: "3000" },
    "window-ms": { type: "string", default: "100" },
  },
);
const n = Number(values.peers);
const size = Math.round(Number(values["size-mib"]) * 1024 * 1024);
const pieceSize = Number(values["piece-kib"]) * 1024 || defaultPieceSizeFor(size);
const windowMs = Number(values["window-ms"]);
const SEED = "10.0.1.1";

// Every datagram the seed sends: when (absolute virtual ms), its message type, its wire bytes
let net: SimNetwork | undefined;
const sent: { at: number; type: number; bytes: number }[] = [];
const bind = SimNetwork.prototype.bind;
SimNetwork.prototype.bind = function (this: SimNetwork, addr, receive) {
  const socket = bind.call(this, addr, receive);
  net = this;
  if (addr.hostname !== SEED) return socket;
  const count = (b: Uint8Array) =>
    sent.push({ at: this.now, type: b[3]!, bytes: b.byteLength + 28 });
  return {
    ...socket,
    send: (b, to) => (count(b), socket.send(b, to)),
    transfer: (b, to) => (count(b), socket.transfer(b, to)),
  };
};

let t0 = NaN;
const rows: { atMs: number; opened: number; withPiece: number; pieces: number; up: number }[] = [];
runSwarm({
  peers: n,
  size,
  seedUpload: 5000,
  seed: Number(values.seed),
  fragmentMtu: 1500,
  pieceSize,
  sampleMs: windowMs,
  maxMs: Number(values.ms),
  onSample: (atMs, have) => {
    t0 = net!.now - atMs;
    let opened = 0, withPiece = 0, pieces = 0;
    for (const h of have) {
      if (h === undefined) continue;
      opened++;
      let k = 0;
      for (const b of h) k += b;
      if (k > 0) withPiece++;
      pieces += k;
    }
    let up = 0;
    for (let i = 0; i < n; i++) {
      up += net!.hostStats(`10.0.${2 + (i >> 8)}.${i & 0xff}`).sentWireBytes;
    }
    rows.push({ atMs, opened, withPiece, pieces, up });
  },
}, swarmFile(size, 1, pieceSize));

const names = new Map(Object.entries(MessageType).map(([k, v]) => [v as number, k]));
const types = [...new Set(sent.map((x) => x.type))].sort((a, b) => a - b);
const perWindow = new Map<number, Map<number, number>>();
for (const x of sent) {
  const w = Math.floor((x.at - t0) / windowMs);
  if (w < 0) continue;
  const m = perWindow.get(w) ?? new Map<number, number>();
  perWindow.set(w, m);
  m.set(x.type, (m.get(x.type) ?? 0) + x.bytes);
}
console.log(
  `N = ${n}, F = ${values["size-mib"]} MiB, pieces of ${
    pieceSize / 1024
  } KiB, seed ${values.seed}; ` +
    `the seed's wire KB per ${windowMs} ms by type; downloads with a manifest / a piece; ` +
    `downloaders' upload use`,
);
console.log(
  [
    "until",
    ...types.map((t) => (names.get(t) ?? String(t)).slice(0, 12).padStart(12)),
    "manifest",
    "piece",
    "pieces",
    "up",
  ]
    .join(" "),
);
let lastUp = rows.length > 0 ? 0 : 0;
for (const [i, r] of rows.entries()) {
  const m = perWindow.get(i) ?? new Map();
  const up = (r.up - lastUp) / (n * 5000 * windowMs);
  lastUp = r.up;
  console.log(
    [
      `${r.atMs}`.padStart(5),
      ...types.map((t) => ((m.get(t) ?? 0) / 1000).toFixed(0).padStart(12)),
      `${r.opened}`.padStart(8),
      `${r.withPiece}`.padStart(5),
      `${r.pieces}`.padStart(6),
      `${(100 * up).toFixed(0)} %`.padStart(5),
    ].join(" "),
  );
}
const total = new Map<number, number>();
for (const x of sent) if (x.at >= t0) total.set(x.type, (total.get(x.type) ?? 0) + x.bytes);
console.log(
  `seed total over the trace (KB): ${
    types.map((t) => `${names.get(t) ?? t} ${((total.get(t) ?? 0) / 1000).toFixed(0)}`).join(", ")
  }`,
);
