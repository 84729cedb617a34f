/**
 * Memory of the tracker's state: bytes per registered peer and per ownership at 10^6
 * ownerships, for the compact {@link MemoryStore} alone (`compact`) and for the whole default
 * tracker core built on it (`tracker`: {@link Dispatcher}, fed real REGISTER and OWN datagrams,
 * with its per-source state under the default limits: `maxPeers` is the only one raised), and what
 * is left after every peer exits, at once and after the next sweep (10 s later on the tracker's
 * clock). The tracker's clock runs as a real one would, from an arbitrary fractional start, with
 * its timeouts (expiry, key rotation, the 10 s sweeps of per-source state) handled when due: the
 * REGISTERs take 60 s, the OWNs the next 300 s, the EXITs the next 60 s (the heartbeat interval
 * is 600 s so that no peer needs one meanwhile). All in one instant, the per-source limits would,
 * rightly, put most of 10⁵ new sources on the shared overflow bucket and drop their requests.
 * Each store runs in its own process (`--v8-flags=--expose-gc`; heap used plus array buffers,
 * after a full GC). What the empty store or tracker holds (the tracker's 4 MiB reply ring, …) is
 * reported as fixed and left out of the per-peer figures.
 *
 *     deno run -P=test scripts/bench_tracker_memory_store.ts [--peers 100000] [--files 10]
 *
 * Two layouts of the same number of ownerships: `unique` (every ownership its own content and
 * name: fake ids announcing made-up files, the worst case) and `shared` (10 owners per content).
 * Writes bench-results/tracker_memory_store.json.
 * @module
 */
import { benchFlags } from "./_bench_flags.ts";
import { MemoryStore } from "../lib/tracker/store/memory_store.ts";
import { Dispatcher } from "../lib/tracker/dispatch.ts";
import { decodeMessage, encodeMessage } from "../lib/wire/codec.ts";
import { toHex } from "../lib/wire/hex.ts";

const values = benchFlags(
  "deno run -P=test scripts/bench_tracker_memory_store.ts [--peers N] [--files F]",
  {
    peers: { type: "string", default: "100000" },
    files: { type: "string", default: "10" },
    child: { type: "string" },
    layout: { type: "string", default: "unique" },
  },
);
const P = Number(values.peers), F = Number(values.files);

function contentOf(peer: number, file: number, layout: string): number {
  return layout === "unique" ? peer * F + file : Math.floor((peer * F + file) / 10);
}

function cidOf(n: number): Uint8Array {
  const b = new Uint8Array(32);
  new DataView(b.buffer).setUint32(0, n);
  b[31] = 0x5a;
  return b;
}

function used(): number {
  (globalThis as unknown as { gc: () => void }).gc();
  (globalThis as unknown as { gc: () => void }).gc();
  const m = Deno.memoryUsage();
  return m.heapUsed + m.external;
}

function host(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}

/** One measurement, in this process. */
async function measure(store: string, layout: string): Promise<Record<string, number>> {
  let rss = 0;
  // The benchmark's own state (the peers' cookies), allocated before the baseline.
  const cookies = new BigUint64Array(P);
  const empty = used();
  let base: number;
  let afterPeers: number, afterOwns: number;
  if (store === "compact") {
    const s = new MemoryStore();
    base = used();
    for (let i = 0; i < P; i++) s.join(`peer-${i}`, { hostname: host(i), port: 6881 }, 0, Infinity);
    afterPeers = used();
    for (let i = 0; i < P; i++) {
      const from = { hostname: host(i), port: 6881 };
      for (let f = 0; f < F; f++) {
        const c = contentOf(i, f, layout);
        s.own(`peer-${i}`, from, 0, `file name ${c}.bin`, toHex(cidOf(c)), 1000, 1024);
      }
    }
    afterOwns = used();
    for (let i = 0; i < P; i++) s.exit(`peer-${i}`, { hostname: host(i), port: 6881 });
    const left = used();
    return { empty, base, afterPeers, afterOwns, left, keep: s.peerCount };
  }
  let now = 1234.5678, step = 60_000 / (2 * P);
  const d = new Dispatcher({
    now,
    events: false,
    intervalMs: 600_000,
    limits: { maxPeers: 1e9 },
  });
  // What an empty tracker holds (mostly its 4 MiB reply ring) is fixed, not per peer.
  base = used();
  const rssEmpty = Deno.memoryUsage().rss;
  const tick = () => {
    now += step;
    for (let t = d.pollTimeout(); t <= now; t = d.pollTimeout()) d.handleTimeout(t);
    return now;
  };
  for (let i = 0; i < P; i++) {
    const from = { hostname: host(i), port: 6881 };
    const nodeId = `peer-${i}`;
    let r = decodeMessage(
      d.handleDatagram(
        encodeMessage({ type: "register", txid: 1, cookie: 0n, nodeId }),
        from,
        tick(),
      )!
        .slice(),
    );
    if (r.type !== "registered") throw new Error("no challenge");
    r = decodeMessage(
      d.handleDatagram(
        encodeMessage({ type: "register", txid: 2, cookie: r.cookie, nodeId }),
        from,
        tick(),
      )!
        .slice(),
    );
    if (r.type !== "registered") throw new Error(`not registered: ${JSON.stringify(r)}`);
    cookies[i] = r.cookie;
  }
  afterPeers = used();
  step = 300_000 / (P * F);
  for (let i = 0; i < P; i++) {
    const from = { hostname: host(i), port: 6881 };
    for (let f = 0; f < F; f++) {
      const c = contentOf(i, f, layout);
      d.handleDatagram(
        encodeMessage({
          type: "own",
          txid: 3,
          cookie: cookies[i]!,
          nodeId: `peer-${i}`,
          name: `file name ${c}.bin`,
          size: 1000,
          contentId: cidOf(c),
        }),
        from,
        tick(),
      );
    }
  }
  afterOwns = used();
  rss = Deno.memoryUsage().rss;
  if (d.counters.rateLimited > 0 || d.counters.owns !== P * F) {
    throw new Error(`${d.counters.rateLimited} rate limited, ${d.counters.owns} OWNs applied`);
  }
  step = 60_000 / P;
  for (let i = 0; i < P; i++) {
    d.handleDatagram(
      encodeMessage({ type: "exit", txid: 4, cookie: cookies[i]!, nodeId: `peer-${i}` }),
      { hostname: host(i), port: 6881 },
      tick(),
    );
  }
  const left = used();
  if (d.peerCount !== 0) throw new Error(`${d.peerCount} peers left`);
  now += 10_001;
  for (let t = d.pollTimeout(); t <= now; t = d.pollTimeout()) d.handleTimeout(t);
  d.handleTimeout(now);
  const swept = used();
  const rssPeak = rss;
  rss = Deno.memoryUsage().rss;
  // V8 gives pages back on its own schedule (the memory reducer): wait for it, a few GCs.
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    used();
  }
  return {
    rssPeak,
    rssSwept: rss,
    rssLater: Deno.memoryUsage().rss,
    rssEmpty,
    heapTotalLater: Deno.memoryUsage().heapTotal,
    empty,
    base,
    afterPeers,
    afterOwns,
    left,
    swept,
    keep: d.peerCount,
  };
}

if (values.child !== undefined) {
  console.log(JSON.stringify(await measure(values.child, values.layout)));
  Deno.exit(0);
}

const rows: Record<string, unknown>[] = [];
for (const layout of ["unique", "shared"]) {
  for (const store of ["tracker", "compact"]) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-P=test",
        "--v8-flags=--expose-gc,--max-old-space-size=8192",
        import.meta.filename!,
        "--child",
        store,
        "--layout",
        layout,
        "--peers",
        String(P),
        "--files",
        String(F),
      ],
      stderr: "inherit",
    }).output();
    const m = JSON.parse(new TextDecoder().decode(out.stdout));
    const perPeer = (m.afterPeers - m.base) / P;
    const perOwn = (m.afterOwns - m.afterPeers) / (P * F);
    rows.push({
      layout,
      store,
      peers: P,
      ownerships: P * F,
      "bytes/peer": Math.round(perPeer),
      "bytes/ownership": Math.round(perOwn),
      "MiB fixed (empty)": Math.round((m.base - m.empty) / 1048576 * 10) / 10,
      "MiB total": Math.round((m.afterOwns - m.base) / 1048576),
      "MiB left after all exit": Math.round((m.left - m.base) / 1048576),
      "MiB left after a sweep": m.swept === undefined
        ? "-"
        : Math.round((m.swept - m.base) / 1048576 * 10) / 10,
      "RSS MiB: empty, full → swept → 5 s later (V8 heap committed then)": m.rssPeak === undefined
        ? "-"
        : `${Math.round(m.rssEmpty / 1048576)}, ` +
          [m.rssPeak, m.rssSwept, m.rssLater].map((x: number) => Math.round(x / 1048576)).join(
            " → ",
          ) + ` (${Math.round(m.heapTotalLater / 1048576)})`,
    });
    console.log(JSON.stringify(rows.at(-1)));
  }
}
console.table(rows);
await Deno.mkdir("bench-results", { recursive: true });
await Deno.writeTextFile("bench-results/tracker_memory_store.json", JSON.stringify(rows, null, 2));
