/**
 * The cost of the Redis store per tracker request: a private `redis-server` (no persistence),
 * 10,000 peers each sharing one of 1,000 files (10 owners per file), then a fixed number of
 * operations kept `--concurrency` in flight, half heartbeats (`touch`) and half NEEDs by name
 * (8 owners), through one {@link RedisStore}, and the same against the {@link MemoryStore}. Prints
 * operations/s, latency p50/p99, the CPU time per operation of this process (the tracker's side:
 * the client, the script's arguments and the reply's parsing) and of redis-server (from
 * /proc/PID/stat). Writes bench-results/redis_store.json.
 *
 *     deno run -P=test scripts/bench_redis_store.ts [--ops 200000] [--concurrency 64]
 *
 * @module
 */
import { benchFlags } from "./_bench_flags.ts";
import { RedisStore } from "../lib/tracker/store/redis_store.ts";
import { MemoryStore } from "../lib/tracker/store/memory_store.ts";
import type { SwarmStore } from "../lib/tracker/store/swarm_store.ts";
import { REDIS_SKIP_REASON, startRedis } from "../tests/_harness/redis_server.ts";
import { toHex } from "../lib/wire/hex.ts";

const values = benchFlags(
  "deno run -P=test scripts/bench_redis_store.ts [--ops 200000] [--concurrency 64] [--peers 10000]",
  {
    ops: { type: "string", default: "200000" },
    concurrency: { type: "string", default: "64" },
    peers: { type: "string", default: "10000" },
  },
);
const OPS = Number(values.ops), C = Number(values.concurrency), PEERS = Number(values.peers);
if (REDIS_SKIP_REASON !== undefined) {
  console.log(`skipped: ${REDIS_SKIP_REASON}`);
  Deno.exit(0);
}

/** utime + stime of a process in ms; Deno wants --allow-all for /proc reads, so `cat` them. */
async function cpuMsOfPid(pid: number): Promise<number> {
  const out = await new Deno.Command("cat", { args: [`/proc/${pid}/stat`] }).output();
  const stat = new TextDecoder().decode(out.stdout);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) * 10; // clock ticks of 10 ms
}

const src = (i: number) => ({ hostname: `127.0.0.${1 + (i % 4)}`, port: 20000 + i });
const key = (f: number) => {
  const b = new Uint8Array(32);
  new DataView(b.buffer).setUint32(0, f);
  return toHex(b);
};

async function run(label: string, store: SwarmStore, pid: number | undefined) {
  const now = () => Date.now();
  for (let i = 0; i < PEERS; i += 500) {
    const batch = [];
    for (let j = i; j < Math.min(PEERS, i + 500); j++) {
      batch.push((async () => {
        await store.join(`peer-${j}`, src(j), now(), 1e9);
        await store.own(`peer-${j}`, src(j), now(), `file-${j % 1000}`, key(j % 1000), 1e6, 1024);
      })());
    }
    await Promise.all(batch);
  }
  const lat: number[] = [];
  let issued = 0;
  const cpu0 = await cpuMsOfPid(Deno.pid), r0 = pid === undefined ? 0 : await cpuMsOfPid(pid);
  const t0 = performance.now();
  const worker = async () => {
    while (issued < OPS) {
      const i = issued++;
      const p = (i * 7919) % PEERS;
      const s = performance.now();
      if (i % 2 === 0) await store.touch(`peer-${p}`, src(p), now());
      else {
        await store.need(`peer-${p}`, src(p), now(), {
          byName: true,
          want: `file-${(i >> 1) % 1000}`,
          k: 8,
        });
      }
      lat.push(performance.now() - s);
    }
  };
  await Promise.all(Array.from({ length: C }, worker));
  const wall = performance.now() - t0;
  const cpu = await cpuMsOfPid(Deno.pid) - cpu0;
  const rcpu = pid === undefined ? 0 : await cpuMsOfPid(pid) - r0;
  lat.sort((a, b) => a - b);
  const row = {
    store: label,
    "ops/s": Math.round(OPS / (wall / 1000)),
    "p50 ms": +lat[Math.floor(lat.length * 0.5)]!.toFixed(3),
    "p99 ms": +lat[Math.floor(lat.length * 0.99)]!.toFixed(3),
    "client µs/op": +(cpu * 1000 / OPS).toFixed(1),
    "redis µs/op": pid === undefined ? "-" : +(rcpu * 1000 / OPS).toFixed(1),
  };
  console.log(JSON.stringify(row));
  return row;
}

const rows = [];
rows.push(await run("memory", new MemoryStore(), undefined));
{
  await using redis = await startRedis();
  const store = await RedisStore.connect({ url: redis.url });
  try {
    rows.push(await run("redis", store, redis.pid));
    const b = store.batchCounters;
    console.log(
      `redis: ${b.operations} operations in ${b.batches} round trips (${
        (b.operations / b.batches).toFixed(1)
      } a batch, at most ${b.largest})`,
    );
  } finally {
    await store.close();
  }
}
console.table(rows);
await Deno.mkdir("bench-results", { recursive: true });
await Deno.writeTextFile("bench-results/redis_store.json", JSON.stringify(rows, null, 2));
