/**
 * Swarm distribution on real processes: network namespaces joined by a bridge
 * (scripts/netns.sh), every host's upload limited with `tc tbf`, a tracker and a seed (`peer.ts
 * share`) in host 0 and N peers in hosts 1..N, each at its prompt (`download NAME`, `--json`) so
 * it stays to serve. Reports each completion time (from the `download` command), the all-done
 * time against the Kumar–Ross bound, the first finisher, the spread, and the bytes on the wire
 * (each host's eth0 tx_bytes: Ethernet, IP and UDP headers included) of the seed's host and of
 * the peers, divided by the file size, and when the seed's link first carried 256 KiB after the
 * downloads started; checks every file's SHA-256. Writes JSON to bench-results/.
 *
 *   sudo deno run -P=test scripts/bench_swarm.ts [--peers 4,8] [--size-mib 64,256] [--rate 40mbit]
 *     [--peer-flags="--upload-slots 0"] [--timeline MS] [--deno-flags="--cpu-prof ..."]
 *
 * `--timeline MS` also prints, per window of MS ms from the downloads' start, how much of its
 * upload rate the seed's host and the peers' hosts used (the hub's port counters: every byte each
 * host put on its link, headers included): where a real swarm idles.
 *
 * `--deno-flags` passes extra flags to the seed's and the peers' `deno run` (a profile of each:
 * `--deno-flags="--cpu-prof --cpu-prof-dir=/tmp/prof"`). The CPU line gives each process's user
 * and system seconds (utime, stime) as well as their sum.
 *
 * Skips (exit 0, with the reason) when not root or when netns.sh cannot build the network here.
 * @module
 */
import { parseArgs } from "node:util";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { cpuSplit, sha256File } from "./_bench_util.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    peers: { type: "string", default: "4,8" },
    "size-mib": { type: "string", default: "64,256" },
    rate: { type: "string", default: "40mbit" },
    "timeout-s": { type: "string", default: "600" },
    /** Extra flags for every peer and the seed, space-separated (A/B runs: --upload-slots 0). */
    "peer-flags": { type: "string", default: "" },
    /** Print each host's upload use per window of this many ms (0: off). */
    timeline: { type: "string", default: "0" },
    /** Extra flags for the seed's and the peers' `deno run`, space-separated (`--cpu-prof`). */
    "deno-flags": { type: "string", default: "" },
  },
});
const root = new URL("..", import.meta.url).pathname;
const netns = join(root, "scripts/netns.sh");
const PREFIX = "usw";
const env = { US_NETNS_PREFIX: PREFIX };
const rateBits = Number(values.rate!.replace(/mbit$/i, "")) * 1e6;
const timeoutMs = Number(values["timeout-s"]) * 1000;
const peerFlags = values["peer-flags"]!.split(" ").filter((x) => x !== "");
const denoFlags = values["deno-flags"]!.split(" ").filter((x) => x !== "");
const timelineMs = Number(values.timeline);
if (!Number.isFinite(timelineMs) || timelineMs < 0) {
  console.error(`bench_swarm: --timeline wants a number of ms, got ${values.timeline}`);
  Deno.exit(2);
}

async function sh(args: string[], quiet = true): Promise<{ ok: boolean; out: string }> {
  const r = await new Deno.Command(args[0]!, {
    args: args.slice(1),
    env,
    stdout: "piped",
    stderr: quiet ? "piped" : "inherit",
  }).output();
  const out = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
  return { ok: r.success, out };
}

function skip(reason: string): never {
  console.log(`bench_swarm: skipped: ${reason}`);
  Deno.exit(0);
}

if (Deno.uid?.() !== 0) skip("needs root (network namespaces and tc)");
const check = await sh(["bash", netns, "check"]);
if (!check.ok) skip(`scripts/netns.sh check failed: ${check.out.trim()}`);

const deno = Deno.execPath();
const addr = (i: number) => `10.77.0.${i + 1}`;

async function txBytes(i: number): Promise<number> {
  const r = await sh([
    "ip",
    "netns",
    "exec",
    `${PREFIX}-h${i}`,
    "cat",
    "/sys/class/net/eth0/statistics/tx_bytes",
  ]);
  return Number(r.out.trim());
}

/**
 * Bytes each host has put on its link so far, by host index: the hub's port `hI` receives what
 * host I sends. One `ip` call for every host.
 */
async function hostTxBytes(): Promise<Map<number, number>> {
  const r = await sh(["ip", "-n", `${PREFIX}-hub`, "-j", "-s", "link", "show"]);
  const out = new Map<number, number>();
  if (!r.ok) return out;
  for (
    const link of JSON.parse(r.out) as { ifname: string; stats64?: { rx: { bytes: number } } }[]
  ) {
    const m = /^h(\d+)$/.exec(link.ifname);
    if (m && link.stats64) out.set(Number(m[1]), link.stats64.rx.bytes);
  }
  return out;
}

/** Samples {@link hostTxBytes} every `ms` until stopped; the samples carry their time. */
function sampleHosts(
  ms: number,
): { stop: () => Promise<{ t: number; tx: Map<number, number> }[]> } {
  const samples: { t: number; tx: Map<number, number> }[] = [];
  let running = true;
  const t0 = performance.now();
  const loop = (async () => {
    while (running) {
      const due = t0 + samples.length * ms;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      samples.push({ t: performance.now() - t0, tx: await hostTxBytes() });
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return samples;
    },
  };
}

/** Prints each window's upload use: the seed's, and the peers' mean, lowest and highest. */
function printTimeline(
  samples: { t: number; tx: Map<number, number> }[],
  n: number,
  bytesPerMs: number,
): void {
  console.log("   t (s)  | seed up % | peers up % mean (min..max)");
  for (let k = 1; k < samples.length; k++) {
    const a = samples[k - 1]!, b = samples[k]!;
    const dt = b.t - a.t;
    const use = (i: number) => ((b.tx.get(i) ?? 0) - (a.tx.get(i) ?? 0)) / (dt * bytesPerMs) * 100;
    const peers = Array.from({ length: n }, (_, i) => use(i + 1));
    const mean = peers.reduce((x, y) => x + y, 0) / n;
    console.log(
      `   ${(b.t / 1000).toFixed(1).padStart(6)} | ${use(0).toFixed(0).padStart(9)} | ` +
        `${mean.toFixed(0).padStart(4)} (${Math.min(...peers).toFixed(0)}..${
          Math.max(...peers).toFixed(0)
        })`,
    );
  }
}

/** A process in host `i`, its stdout read line by line. */
function spawnIn(i: number, args: string[], onLine: (l: string) => void, stdin = false) {
  const child = new Deno.Command("ip", {
    args: ["netns", "exec", `${PREFIX}-h${i}`, deno, ...args],
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "null",
    cwd: root,
  }).spawn();
  (async () => {
    let buf = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      let k;
      while ((k = buf.indexOf("\n")) >= 0) {
        onLine(buf.slice(0, k));
        buf = buf.slice(k + 1);
      }
    }
  })().catch(() => {});
  return child;
}

interface Row {
  peers: number;
  sizeMiB: number;
  completions: number[];
  allDoneS: number;
  boundS: number;
  ratio: number;
  firstS: number;
  spreadS: number;
  seedWirePerFile: number;
  peersWirePerFile: number;
  exact: boolean;
  /** From the downloads' start until the seed's link carried 256 KiB, s (polled every ~15 ms). */
  seedBusyS: number;
  /** CPU seconds of the seed's process over the whole case (start-up included). */
  seedCpuS: number;
  /** CPU seconds of each downloader's process. */
  peerCpuS: number[];
  /** Of {@link seedCpuS}: user and system seconds. */
  seedCpuSplit: { user: number; system: number };
  /** Of {@link peerCpuS}: user and system seconds of each downloader. */
  peerCpuSplit: { user: number; system: number }[];
  /** The 1-minute load average when the downloads started (other work on this machine). */
  loadAverage: number;
}

async function runCase(n: number, mib: number): Promise<Row> {
  await sh(["bash", netns, "down"]);
  const up = await sh(["bash", netns, "up", String(n + 1), "--rate", values.rate!]);
  if (!up.ok) throw new Error(`netns.sh up failed: ${up.out}`);
  const tmp = await Deno.makeTempDir({ prefix: "bench-swarm-" });
  const children: Deno.ChildProcess[] = [];
  try {
    const size = mib * 1024 * 1024;
    const seedDir = join(tmp, "seed");
    await Deno.mkdir(seedDir);
    const data = new Uint8Array(size);
    for (let at = 0; at < size; at += 65536) crypto.getRandomValues(data.subarray(at, at + 65536));
    await Deno.writeFile(join(seedDir, "swarm.bin"), data);
    const want = createHash("sha256").update(data).digest("hex");
    const tracker = `${addr(0)}:6969`;
    children.push(
      spawnIn(0, ["run", "-A", "tracker.ts", "--host", addr(0), "--port", "6969"], () => {}),
    );
    await new Promise((r) => setTimeout(r, 500));
    let shared!: () => void;
    const sharing = new Promise<void>((r) => (shared = r));
    children.push(
      spawnIn(0, [
        "run",
        "-A",
        ...denoFlags,
        "peer.ts",
        "share",
        join(seedDir, "swarm.bin"),
        "--tracker",
        tracker,
        "--host",
        addr(0),
        "--dir",
        seedDir,
        "--id",
        "seed",
        "--log-dir",
        join(tmp, "logs"),
        "--quiet",
        ...peerFlags,
      ], (l) => l.startsWith("sharing") && shared()),
    );
    const noShare = setTimeout(() => shared(), 60_000);
    await sharing;
    clearTimeout(noShare);
    const done: number[] = new Array(n).fill(NaN);
    const started: number[] = [];
    const ready: Promise<void>[] = [];
    const peers: Deno.ChildProcess[] = [];
    const finished = Promise.withResolvers<void>();
    let left = n;
    for (let i = 1; i <= n; i++) {
      const out = join(tmp, `p${i}`);
      await Deno.mkdir(out);
      const prompt = Promise.withResolvers<void>();
      ready.push(prompt.promise);
      const child = spawnIn(i, [
        "run",
        "-A",
        ...denoFlags,
        "peer.ts",
        "--tracker",
        tracker,
        "--host",
        addr(i),
        "--out",
        out,
        "--dir",
        out,
        "--id",
        `p${i}`,
        "--log-dir",
        join(tmp, "logs"),
        "--json",
        "--owners",
        "8",
        ...peerFlags,
      ], (l) => {
        if (l.includes('"event":"ready"') || l.includes("udpswarm peer")) prompt.resolve();
        if (l.includes('"event":"done"') && Number.isNaN(done[i - 1]!)) {
          done[i - 1] = performance.now();
          if (--left === 0) finished.resolve();
        }
      }, true);
      peers.push(child);
      children.push(child);
    }
    // Every peer registered: give the prompts a moment (they print a banner)
    await Promise.race([Promise.all(ready), new Promise((r) => setTimeout(r, 3000))]);
    await new Promise((r) => setTimeout(r, 500));
    const tx0 = await Promise.all(Array.from({ length: n + 1 }, (_, i) => txBytes(i)));
    const enc = new TextEncoder();
    const loadAverage = Number((await Deno.readTextFile("/proc/loadavg")).split(" ")[0]);
    const sampler = timelineMs > 0 ? sampleHosts(timelineMs) : undefined;
    const t0 = performance.now();
    for (const [i, p] of peers.entries()) {
      started[i] = performance.now();
      const w = p.stdin.getWriter();
      await w.write(enc.encode("download swarm.bin\n"));
      w.releaseLock();
    }
    const timer = setTimeout(() => finished.resolve(), timeoutMs);
    // When the seed's link first carried block data (its tx passed 256 KiB beyond the handshakes)
    let seedBusyS = NaN;
    for (let k = 0; k < 200; k++) {
      if ((await txBytes(0)) - tx0[0]! > 256 * 1024) {
        seedBusyS = (performance.now() - t0) / 1000;
        break;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    await finished.promise;
    clearTimeout(timer);
    if (sampler) printTimeline(await sampler.stop(), n, rateBits / 8 / 1000);
    const seedCpuSplit = await cpuSplit([children[1]!.pid]);
    const peerCpuSplit = await Promise.all(peers.map((p) => cpuSplit([p.pid])));
    const seedCpuS = seedCpuSplit.user + seedCpuSplit.system;
    const peerCpuS = peerCpuSplit.map((c) => c.user + c.system);
    const tx1 = await Promise.all(Array.from({ length: n + 1 }, (_, i) => txBytes(i)));
    let exact = true;
    for (let i = 1; i <= n; i++) {
      try {
        if ((await sha256File(join(tmp, `p${i}`, "swarm.bin"))) !== want) exact = false;
      } catch {
        exact = false;
      }
    }
    const ends = done.filter((x) => !Number.isNaN(x));
    const last = Math.max(...ends), first = Math.min(...ends);
    const u = rateBits / 8;
    const boundS = Math.max(size / u, (n * size) / ((n + 1) * u));
    const allDoneS = (last - t0) / 1000;
    let peersTx = 0;
    for (let i = 1; i <= n; i++) peersTx += tx1[i]! - tx0[i]!;
    return {
      peers: n,
      sizeMiB: mib,
      completions: done.map((x, i) => (x - started[i]!) / 1000),
      allDoneS: ends.length === n ? allDoneS : NaN,
      boundS,
      ratio: allDoneS / boundS,
      firstS: (first - t0) / 1000,
      spreadS: (last - first) / 1000,
      seedWirePerFile: (tx1[0]! - tx0[0]!) / size,
      peersWirePerFile: peersTx / size,
      exact: exact && ends.length === n,
      seedBusyS,
      seedCpuS,
      peerCpuS,
      seedCpuSplit,
      peerCpuSplit,
      loadAverage,
    };
  } finally {
    for (const c of children) {
      try {
        c.kill("SIGTERM");
      } catch { /* gone */ }
    }
    await Promise.allSettled(children.map((c) => c.status));
    await sh(["bash", netns, "down"]);
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

const rows: Row[] = [];
console.log(`swarm on real processes, uploads ${values.rate} (tc tbf), network namespaces\n`);
console.log(
  "N  | F MiB | all done | bound  | ×bound | first  | spread | seed wire/F | peers wire/F | seed busy | exact",
);
for (const mib of values["size-mib"]!.split(",").map(Number)) {
  for (const n of values.peers!.split(",").map(Number)) {
    const r = await runCase(n, mib);
    rows.push(r);
    console.log(
      [
        String(n).padEnd(2),
        String(mib).padStart(5),
        `${r.allDoneS.toFixed(1).padStart(7)}s`,
        `${r.boundS.toFixed(1).padStart(5)}s`,
        r.ratio.toFixed(2).padStart(6),
        `${r.firstS.toFixed(1).padStart(5)}s`,
        `${r.spreadS.toFixed(1).padStart(5)}s`,
        r.seedWirePerFile.toFixed(2).padStart(11),
        r.peersWirePerFile.toFixed(2).padStart(12),
        `${(r.seedBusyS * 1000).toFixed(0).padStart(6)} ms`,
        String(r.exact),
      ].join(" | "),
    );
    console.log(`   completions (s): ${r.completions.map((c) => c.toFixed(1)).join(" ")}`);
    console.log(
      `   CPU s: seed ${r.seedCpuS.toFixed(1)}, downloaders ${
        r.peerCpuS.reduce((a, b) => a + b, 0).toFixed(1)
      } (most ${Math.max(...r.peerCpuS).toFixed(1)}); load average ${r.loadAverage} at the start`,
    );
    const sum = (k: "user" | "system") => r.peerCpuSplit.reduce((a, c) => a + c[k], 0);
    console.log(
      `   CPU s user/system: seed ${r.seedCpuSplit.user.toFixed(2)}/${
        r.seedCpuSplit.system.toFixed(2)
      }, downloaders ${sum("user").toFixed(2)}/${sum("system").toFixed(2)} (per downloader ${
        (sum("user") / r.peers).toFixed(2)
      }/${(sum("system") / r.peers).toFixed(2)})`,
    );
  }
}
const dir = join(root, "bench-results");
await Deno.mkdir(dir, { recursive: true });
const out = join(dir, `swarm-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
await Deno.writeTextFile(out, JSON.stringify(rows, null, 2));
console.log(`\nwrote ${out}`);
