/**
 * BEP 15 announce throughput: runs the shared load generator
 * (`../shared/tools/bep15_loadgen.py`, stdlib Python) against our tracker (`tracker.ts` in its own
 * process) and, when it is installed, against opentracker in the same run, and prints
 * announces/s, p50/p99 latency, the tracker's CPU time per announce and the ratio.
 *
 *   deno run -P=test scripts/bench_bep15.ts [--seconds 10] [--window 64] [--sockets 4]
 *     [--hashes 1000] [--loadgen PATH] [--no-opentracker] [--baseline-echo]
 *
 * Our tracker runs with `--rate 1e9 --burst 1e9` (the generator sends ~30 k announces/s from each
 * of its 4 sockets, far past the default 100/s per source; opentracker has no such limit) and
 * `--interval 600s`. `--baseline-echo` also runs the generator against a Deno UDP server that does
 * no tracker work (it answers a connect with a connect reply and an announce with a fixed
 * 50-peer reply): the floor that Deno's datagram I/O sets on this machine. opentracker's Debian
 * build is whitelist-only: the generator's `--hashfile` writes the hashes it uses to the whitelist.
 * Profiling: `BENCH_BEP15_DENO_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof"` adds flags to our
 * tracker's `deno run`. `--store redis` runs our tracker on a private redis-server
 * (`tracker.ts --store redis://…`, the BEP 15 swarms in Redis) and also prints redis-server's CPU
 * per announce.
 * @module
 */
import { benchFlags } from "./_bench_flags.ts";
import { fileURLToPath } from "node:url";
import { decodeBep15Reply, encodeBep15ConnectRequest } from "../lib/wire/bep15.ts";
import { REDIS_SKIP_REASON, startRedis, type TestRedis } from "../tests/_harness/redis_server.ts";

const values = benchFlags(
  "deno run -P=test scripts/bench_bep15.ts [--seconds S] [--window W] [--sockets N] [--hashes N] [--loadgen PATH] [--no-opentracker]",
  {
    seconds: { type: "string", default: "10" },
    window: { type: "string", default: "64" },
    sockets: { type: "string", default: "4" },
    hashes: { type: "string", default: "1000" },
    loadgen: { type: "string" },
    "no-opentracker": { type: "boolean", default: false },
    "baseline-echo": { type: "boolean", default: false },
    store: { type: "string", default: "memory" },
  },
);
const ROOT = fileURLToPath(new URL("../", import.meta.url));
// ../shared/tools next to the checkout (or next to the directory of worktrees).
const LOADGEN = values.loadgen ??
  ["../../shared/tools/bep15_loadgen.py", "../../../shared/tools/bep15_loadgen.py"]
    .map((p) => fileURLToPath(new URL(p, import.meta.url)))
    .find((p) => existsSync(p)) ??
  fileURLToPath(new URL("../../shared/tools/bep15_loadgen.py", import.meta.url));
const GEN_ARGS = [
  "--seconds",
  values.seconds!,
  "--window",
  values.window!,
  "--sockets",
  values.sockets!,
  "--hashes",
  values.hashes!,
];

/** What one run measured. */
interface Result {
  name: string;
  rate: number;
  p50: number;
  p99: number;
  ok: number;
  loss: string;
  cpuSeconds: number;
  generatorCpu: string;
  /** redis-server's CPU over the run (`--store redis`). */
  redisCpuSeconds?: number;
}

function existsSync(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function which(name: string): boolean {
  return new Deno.Command("sh", { args: ["-c", `command -v ${name}`], stdout: "null" })
    .outputSync().success;
}

/** utime + stime of a process in seconds (clock ticks are 1/100 s). */
async function cpuSeconds(pid: number): Promise<number> {
  const out = await new Deno.Command("cat", { args: [`/proc/${pid}/stat`] }).output();
  const f = new TextDecoder().decode(out.stdout).split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** Waits until a BEP 15 connect on `port` is answered. */
async function waitReady(port: number, timeoutMs: number): Promise<void> {
  const conn = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const end = performance.now() + timeoutMs;
  try {
    const receiving = (async () => {
      for (;;) {
        const [bytes] = await conn.receive();
        if (decodeBep15Reply(bytes, 4).action === "connect") return;
      }
    })();
    let done = false;
    receiving.then(() => done = true, () => {});
    while (!done) {
      if (performance.now() > end) throw new Error(`No BEP 15 reply on port ${port}`);
      await conn.send(encodeBep15ConnectRequest(1), {
        transport: "udp",
        hostname: "127.0.0.1",
        port,
      });
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    conn.close();
  }
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function runLoadgen(name: string, port: number, pid: number): Promise<Result> {
  const cpu0 = await cpuSeconds(pid);
  const out = await new Deno.Command("python3", {
    args: [LOADGEN, "127.0.0.1", String(port), ...GEN_ARGS],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const cpu1 = await cpuSeconds(pid);
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) throw new Error(`load generator failed against ${name}:\n${text}`);
  const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
  return {
    name,
    rate: num(/rate=(\d+)\/s/),
    p50: num(/p50=([\d.]+)/),
    p99: num(/p99=([\d.]+)/),
    ok: num(/announces_ok=(\d+)/),
    loss: /loss=([\d.]+%)/.exec(text)?.[1] ?? "?",
    cpuSeconds: cpu1 - cpu0,
    generatorCpu: /loadgen_cpu=\S+ \((\d+%)/.exec(text)?.[1] ?? "?",
  };
}

async function stop(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch {
    // already gone
  }
  await child.status;
}

/** Runs `deno ARGS` (a server that prints `listening on udp://127.0.0.1:PORT`) under load. */
async function benchDeno(name: string, args: string[], redis?: TestRedis): Promise<Result> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const port = await readPort(child);
    const redisBefore = redis !== undefined ? await cpuSeconds(redis.pid) : 0;
    const r = await runLoadgen(name, port, child.pid);
    if (redis !== undefined) r.redisCpuSeconds = await cpuSeconds(redis.pid) - redisBefore;
    return r;
  } finally {
    await stop(child);
  }
}

async function benchOurs(): Promise<Result> {
  if (values.store !== "memory") {
    if (REDIS_SKIP_REASON !== undefined) throw new Error(`--store redis: ${REDIS_SKIP_REASON}`);
    await using redis = await startRedis();
    return await benchTracker(["--store", redis.url], redis);
  }
  return await benchTracker([]);
}

function benchTracker(extra: string[], redis?: TestRedis): Promise<Result> {
  return benchDeno(redis ? "tracker.ts (redis)" : "udpswarm tracker.ts", [
    "run",
    "--quiet",
    ...(Deno.env.get("BENCH_BEP15_DENO_FLAGS")?.split(" ") ?? []),
    "--allow-net",
    "--allow-write=/tmp",
    "--allow-read=/tmp",
    "tracker.ts",
    "--port",
    "0",
    "--no-log-file",
    "--interval",
    "600s",
    "--rate",
    "1000000000",
    "--burst",
    "1000000000",
    ...extra,
  ], redis);
}

/** A Deno UDP server doing no tracker work: the I/O floor, same runtime, same reply sizes. */
const ECHO = `const c = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
console.log("listening on udp://127.0.0.1:" + c.addr.port);
const b = new Uint8Array(2048);
const peers = new Uint8Array(20 + 50 * 6);
peers[3] = 1;
for (;;) {
  const [d, from] = await c.receive(b);
  if (d.length < 16) continue;
  const r = d[11] === 0 ? new Uint8Array(16) : peers.slice();
  r.set(d.subarray(12, 16), 4);
  c.send(r, from).catch(() => {});
}`;

function benchEcho(): Promise<Result> {
  return benchDeno("Deno echo (floor)", ["eval", "--unstable-net", ECHO]);
}

/** Reads the port from the child's `listening on udp://127.0.0.1:PORT` line, then drains. */
async function readPort(child: Deno.ChildProcess): Promise<number> {
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let banner = "";
  while (!banner.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`server exited: ${banner}`);
    banner += value;
  }
  const port = Number(/listening on udp:\/\/127\.0\.0\.1:(\d+)/.exec(banner)?.[1]);
  (async () => {
    for (;;) if ((await reader.read()).done) return;
  })();
  await waitReady(port, 10_000);
  return port;
}

async function benchOpentracker(): Promise<Result | string> {
  if (values["no-opentracker"]) return "skipped (--no-opentracker)";
  if (!which("opentracker")) {
    return "skipped: opentracker is not installed (apt-get install opentracker)";
  }
  const dir = await Deno.makeTempDir({ prefix: "bench_bep15_ot_" });
  await Deno.chmod(dir, 0o755); // opentracker drops root for "nobody" before it reads the list
  const hashfile = `${dir}/whitelist`;
  const w = await new Deno.Command("python3", {
    args: [LOADGEN, "127.0.0.1", "1", ...GEN_ARGS, "--hashfile", hashfile],
  }).output();
  if (!w.success) return "skipped: the load generator could not write the whitelist";
  const port = freePort();
  // It reads the whitelist after chrooting to -d: name it relative to that directory.
  const child = new Deno.Command("opentracker", {
    args: ["-i", "127.0.0.1", "-p", String(port), "-P", String(port), "-w", "whitelist", "-d", dir],
    cwd: dir,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await waitReady(port, 10_000);
    return await runLoadgen("opentracker", port, child.pid);
  } finally {
    await stop(child);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (!existsSync(LOADGEN)) {
  console.log(`bench_bep15: skipped, no load generator at ${LOADGEN} (--loadgen PATH)`);
  Deno.exit(0);
}
console.log(`bench_bep15: ${LOADGEN} 127.0.0.1 PORT ${GEN_ARGS.join(" ")}`);
const ours = await benchOurs();
const theirs = await benchOpentracker();
const floor = values["baseline-echo"] ? await benchEcho() : undefined;
const row = (r: Result) =>
  `${r.name.padEnd(20)} ${String(r.rate).padStart(8)}/s  p50 ${r.p50.toFixed(3)} ms  p99 ${
    r.p99.toFixed(3)
  } ms  loss ${r.loss}  tracker CPU ${
    (r.cpuSeconds * 1e6 / Math.max(1, r.ok)).toFixed(1)
  } µs/announce (${
    (r.cpuSeconds / Number(values.seconds) * 100).toFixed(0)
  }% of a core)  generator ${r.generatorCpu}` +
  (r.redisCpuSeconds !== undefined
    ? `  redis-server CPU ${(r.redisCpuSeconds * 1e6 / Math.max(1, r.ok)).toFixed(1)} µs/announce`
    : "");
console.log(row(ours));
if (floor) console.log(row(floor));
if (typeof theirs === "string") {
  console.log(`opentracker          ${theirs}`);
} else {
  console.log(row(theirs));
  console.log(
    `ratio udpswarm/opentracker: ${(ours.rate / theirs.rate).toFixed(2)} of the announces/s, ${
      ((ours.cpuSeconds / Math.max(1, ours.ok)) / (theirs.cpuSeconds / Math.max(1, theirs.ok)))
        .toFixed(1)
    }× the CPU per announce`,
  );
}
