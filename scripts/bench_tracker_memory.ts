/**
 * Memory of the tracker under a registration flood from one host, and whether it is given back
 * (issue 11, item 6): N fake node ids (default 2,000) each OWN M files (default 46), then every
 * one sends EXIT. The tracker's RSS (`ps`) is sampled before, after the OWNs, and 1 s and 5 s
 * after the EXITs; the tracker's own counters say how many registrations and OWNs it took.
 *
 *   deno run -P=test scripts/bench_tracker_memory.ts               # default per-address limits
 *   deno run -P=test scripts/bench_tracker_memory.ts --unlimited   # limits lifted: all 2,000 ids
 *   deno run -P=test scripts/bench_tracker_memory.ts --ids 2000 --files 46 --out FILE
 *
 * Request rates are lifted in both modes (the flood is about memory, not rates). Writes
 * `bench-results/tracker_memory.json`.
 * @module
 */
import { spawnListening } from "./_listening.ts";
import { benchFlags } from "./_bench_flags.ts";
import { fileURLToPath } from "node:url";
import { decodeMessage, encodeMessage } from "../lib/wire/codec.ts";
import type { Message } from "../lib/wire/messages.ts";

const values = benchFlags(
  "deno run -P=test scripts/bench_tracker_memory.ts [--unlimited] [--ids 2000] [--files 46] [--sockets 20] [--out FILE]",
  {
    ids: { type: "string", default: "2000" },
    files: { type: "string", default: "46" },
    sockets: { type: "string", default: "20" },
    unlimited: { type: "boolean", default: false },
    out: { type: "string", default: "bench-results/tracker_memory.json" },
  },
);
const IDS = Number(values.ids), FILES = Number(values.files), SOCKETS = Number(values.sockets);
const ROOT = fileURLToPath(new URL("../", import.meta.url));
const BIG = "100000000";
const lifted = [
  "--rate",
  BIG,
  "--burst",
  BIG,
  "--address-rate",
  BIG,
  "--prefix-rate",
  BIG,
  "--max-peers",
  BIG,
  ...(values.unlimited
    ? [
      "--max-peers-per-address",
      BIG,
      "--max-peers-per-prefix",
      BIG,
      "--max-files-per-address",
      BIG,
      "--max-files-per-prefix",
      BIG,
    ]
    : []),
];
const { child, port } = await spawnListening(
  [
    "run",
    "--quiet",
    "--allow-net=127.0.0.1",
    "tracker.ts",
    "--port",
    "0",
    "--interval",
    "600s",
    "--no-log-file",
    ...lifted,
  ],
  ROOT,
);
const tracker: Deno.NetAddr = { transport: "udp", hostname: "127.0.0.1", port };

function rssMiB(): number {
  const { stdout } = new Deno.Command("ps", {
    args: ["-o", "rss=", "-p", String(child.pid)],
    stdout: "piped",
  })
    .outputSync();
  return Math.round(Number(new TextDecoder().decode(stdout).trim()) / 102.4) / 10;
}

/** One socket, one request at a time, matched by txid; a lost reply costs 1 s. */
class Raw {
  readonly conn = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  #txid = 1;
  async ask(msg: Message): Promise<Message | undefined> {
    const txid = this.#txid++;
    await this.conn.send(encodeMessage({ ...msg, txid }), tracker);
    const timer = setTimeout(
      () => this.conn.send(new Uint8Array(0), this.conn.addr as Deno.NetAddr),
      1000,
    );
    try {
      for (;;) {
        const [bytes] = await this.conn.receive();
        if (bytes.byteLength === 0) return undefined;
        const m = decodeMessage(bytes);
        if (m.txid === txid) return m;
      }
    } finally {
      clearTimeout(timer);
    }
  }
}

const sockets = Array.from({ length: SOCKETS }, () => new Raw());
const cookies = new Map<string, bigint>();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
await sleep(500);
const before = rssMiB();
const t0 = performance.now();
let owns = 0, refused = 0;
await Promise.all(sockets.map(async (raw, s) => {
  for (let i = s; i < IDS; i += SOCKETS) {
    const nodeId = `fake${i}`;
    const c = await raw.ask({ type: "register", txid: 0, cookie: 0n, nodeId });
    if (c?.type !== "registered") continue;
    const r = await raw.ask({ type: "register", txid: 0, cookie: c.cookie, nodeId });
    if (r?.type !== "registered" || r.evictAfterMs === 0) {
      refused++;
      continue;
    }
    cookies.set(nodeId, r.cookie);
    for (let f = 0; f < FILES; f++) {
      const contentId = new Uint8Array(32);
      new DataView(contentId.buffer).setUint32(0, i * FILES + f);
      const a = await raw.ask({
        type: "own",
        txid: 0,
        cookie: r.cookie,
        nodeId,
        name: `${nodeId}-file-${f}.bin`,
        size: 1 + f,
        contentId,
      });
      if (a?.type === "ack") owns++;
    }
  }
}));
const floodMs = performance.now() - t0;
await sleep(500);
const loaded = rssMiB();
await Promise.all(sockets.map(async (raw, s) => {
  for (let i = s; i < IDS; i += SOCKETS) {
    const nodeId = `fake${i}`;
    const cookie = cookies.get(nodeId);
    if (cookie !== undefined) await raw.ask({ type: "exit", txid: 0, cookie, nodeId });
  }
}));
await sleep(1000);
const after1 = rssMiB();
await sleep(4000);
const after5 = rssMiB();
for (const s of sockets) s.conn.close();
child.kill("SIGTERM");
await child.status;

const result = {
  mode: values.unlimited ? "per-address limits lifted" : "default per-address limits",
  ids: IDS,
  filesPerId: FILES,
  registered: cookies.size,
  refusedRegistrations: refused,
  owns,
  floodMs: Math.round(floodMs),
  rssMiB: { before, afterOwns: loaded, oneSecondAfterExit: after1, fiveSecondsAfterExit: after5 },
};
console.log(JSON.stringify(result, null, 2));
await Deno.mkdir(new URL("../bench-results/", import.meta.url), { recursive: true }).catch(
  () => {},
);
await Deno.writeTextFile(values.out!, JSON.stringify(result, null, 2) + "\n");
