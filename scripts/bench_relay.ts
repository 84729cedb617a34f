/**
 * Throughput of the fault-test relay (tests/_harness/relay.ts) on loopback: a windowed sender and
 * a sink in a worker, the relay in the main thread. Prints a table and writes
 * bench-results/relay.json.
 *
 *   deno run -P=test scripts/bench_relay.ts [--seconds 2]
 * @module
 */
import { type RelayRates, startRelay } from "../tests/_harness/relay.ts";

const seconds = Number(Deno.args[Deno.args.indexOf("--seconds") + 1] || 2) || 2;

interface Case {
  name: string;
  size: number;
  /** Datagrams in flight; 4 × 32 KiB = 128 KiB stays under the 208 KiB receive buffer. */
  window: number;
  rates?: RelayRates;
}

const cases: Case[] = [
  { name: "direct (no relay), 32 KiB", size: 32768, window: 4 },
  { name: "relay, rates 0, 32 KiB", size: 32768, window: 4, rates: {} },
  { name: "relay, rates 0, 1452 B", size: 1452, window: 64, rates: {} },
  {
    name: "relay, 5% loss + 1% dup + 2% reorder, 32 KiB",
    size: 32768,
    window: 4,
    rates: { loss: 0.05, duplicate: 0.01, reorder: 0.02 },
  },
  { name: "relay, 1 ms delay, 32 KiB", size: 32768, window: 16, rates: { delayMs: 1 } },
];

const worker = new Worker(new URL("./_bench_relay_worker.ts", import.meta.url), { type: "module" });
const next = () =>
  new Promise<Record<string, number>>((resolve) => {
    worker.onmessage = (e) => resolve(e.data);
  });

try {
  worker.postMessage({ type: "open" });
  const { port: sinkPort } = await next();
  const target: Deno.NetAddr = { transport: "udp", hostname: "127.0.0.1", port: sinkPort! };
  const results = [];
  for (const c of cases) {
    const relay = c.rates ? startRelay({ target, seed: 1, ...c.rates }) : undefined;
    try {
      worker.postMessage({
        type: "run",
        to: relay ? relay.address.port : sinkPort,
        size: c.size,
        window: c.window,
        seconds,
      });
      const r = await next();
      const mbs = r.bytes! / r.seconds! / 1e6;
      results.push({
        case: c.name,
        mbPerS: Number(mbs.toFixed(1)),
        datagramsPerS: Math.round(r.datagrams! / r.seconds!),
        delivered: Number((r.datagrams! / r.sent!).toFixed(3)),
      });
    } finally {
      await relay?.close();
    }
  }
  console.table(results);
  await Deno.mkdir("bench-results", { recursive: true });
  await Deno.writeTextFile(
    "bench-results/relay.json",
    JSON.stringify({ date: new Date().toISOString(), seconds, results }, null, 2) + "\n",
  );
  worker.postMessage({ type: "close" });
  await next();
} finally {
  worker.terminate();
}
