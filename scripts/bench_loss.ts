/**
 * Loss benchmark: a tracker, owners and `peer.ts get` as separate processes inside a private
 * network namespace whose loopback drops a random share of all UDP datagrams (iptables'
 * statistic match on INPUT, so both directions lose that share). Runs, all in one session:
 *
 * - the large file (1 GiB) at each loss rate from 1 and 3 owners, goodput relative to lossless;
 * - the small file (8 MiB) at 0 % and 5 % loss, median of several runs;
 * - the large file at `--mtu 1500`, lossless, for the downloader's peak RSS;
 * - with `--baseline DIR` (another checkout, e.g. /work/main) the same downloads from that tree's
 *   tracker, owners and downloader, alternating with this one's, at `--baseline-loss` rates.
 *   Downloads from one tree's owners follow each other within seconds: a tree from before the
 *   super-seeding fix (docs/TRANSFER.md, _Back-to-back downloads_) then offers the next
 *   downloader 2 pieces at a time for up to 10 s, whichever slot it runs in.
 *
 * Needs root, `ip` and `iptables`; prints why and exits 0 (skipped) without them.
 *
 *   deno run -P=test scripts/bench_loss.ts [--size-mib 1024] [--loss 0,5,20] [--owners 1,3]
 *     [--runs 1] [--small-mib 8] [--small-runs 5] [--rss-mtu 1500] [--baseline /work/main]
 *     [--baseline-loss 0] [--timeout-s 300] [--trace-dir DIR]
 *
 * @module
 */
import { benchFlags, mibToBytes, transferFlags } from "./_bench_flags.ts";
import { join } from "node:path";
import {
  type Child,
  downloadArgs,
  freePort,
  peerRunArgs,
  sha256File,
  spawn,
  writeRandomFile,
} from "./_bench_util.ts";

const values = benchFlags(
  "deno run -P=test scripts/bench_loss.ts [--size-mib 1024] [--loss 0,5,20] [--owners 1,3] [--runs 1] [--small-mib 8] [--small-runs 5] [--rss-mtu 1500] [--baseline /work/main] [--baseline-loss 0] [--timeout-s 300] [--trace-dir DIR]",
  {
    ...transferFlags(1),
    loss: { type: "string", default: "0,5,20" },
    owners: { type: "string", default: "1,3" },
    "small-mib": { type: "string", default: "8" },
    "small-runs": { type: "string", default: "5" },
    "rss-mtu": { type: "string", default: "1500" },
    baseline: { type: "string" },
    "baseline-loss": { type: "string", default: "0" },
    "timeout-s": { type: "string", default: "300" },
    "trace-dir": { type: "string" },
    inner: { type: "boolean", default: false },
  },
);
const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** Runs a command; true when it exited 0. */
async function run(cmd: string, args: string[], quiet = true): Promise<boolean> {
  try {
    const out = await new Deno.Command(cmd, {
      args,
      stdout: quiet ? "null" : "inherit",
      stderr: quiet ? "null" : "inherit",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

if (!values.inner) {
  // Outer half: make the namespace, run this script again inside it, clean up.
  const why = Deno.uid() !== 0
    ? "not root"
    : !(await run("iptables", ["--version"]))
    ? "no iptables (apt-get install -y iptables)"
    : undefined;
  if (why) {
    console.log(`bench_loss: skipped (${why})`);
    Deno.exit(0);
  }
  const ns = `usloss-${Deno.pid}`;
  if (!(await run("ip", ["netns", "add", ns]))) {
    console.log("bench_loss: skipped (cannot create a network namespace)");
    Deno.exit(0);
  }
  let code = 1;
  try {
    await run("ip", ["netns", "exec", ns, "ip", "link", "set", "lo", "up"]);
    const args = ["netns", "exec", ns, Deno.execPath(), "run", "-P=test", import.meta.filename!];
    const out = await new Deno.Command("ip", {
      args: [...args, ...Deno.args, "--inner"],
      cwd: root,
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    code = out.code;
  } finally {
    await run("ip", ["netns", "del", ns]);
  }
  Deno.exit(code);
}

// ---- inner half: inside the namespace ----

const sizeBytes = mibToBytes(values["size-mib"]);
const smallBytes = mibToBytes(values["small-mib"]);
const losses = values.loss!.split(",").map(Number);
const ownerCounts = values.owners!.split(",").map(Number);
const smallRuns = Number(values["small-runs"]);
const runs = Number(values.runs);
const rssMtu = Number(values["rss-mtu"]);
const timeoutMs = Number(values["timeout-s"]) * 1000;
const baselineLosses = values["baseline-loss"]!.split(",").map(Number);

async function setLoss(percent: number): Promise<void> {
  await run("iptables", ["-F", "INPUT"]);
  if (percent > 0) {
    const ok = await run("iptables", [
      ...["-A", "INPUT", "-p", "udp", "-m", "statistic", "--mode", "random"],
      ...["--probability", String(percent / 100), "-j", "DROP"],
    ]);
    if (!ok) throw new Error(`iptables could not add a ${percent} % drop rule`);
  }
}

interface Tree {
  label: string;
  root: string;
  tracker: string;
  stop: () => Promise<void>;
}

interface Result {
  tree: string;
  file: "large" | "small";
  sizeBytes: number;
  owners: number;
  lossPct: number;
  mtu: number;
  wallSec: number;
  mbPerSec: number;
  dlPeakRssMiB: number;
  dlCpuSec: number;
  retransmits: number;
  ok: boolean;
}

const dir = await Deno.makeTempDir({ prefix: "udpswarm-bench-loss-" });
const results: Result[] = [];
const trees: Tree[] = [];
let serial = 0;

/** Starts a tree's tracker and owners (each sharing both files). */
async function startTree(label: string, treeRoot: string, large: string, small: string) {
  const port = freePort();
  const procs: Child[] = [];
  const stop = async () => {
    for (const p of procs.reverse()) await p.stop();
  };
  const tracker = spawn(Deno.execPath(), [
    "run",
    "--allow-net",
    `--allow-read=${dir}`,
    `--allow-write=${dir}`,
    join(treeRoot, "tracker.ts"),
    ...["--port", String(port), "--log-dir", join(dir, `logs-${label}`)],
  ], { cwd: treeRoot });
  procs.push(tracker);
  try {
    await tracker.waitFor(/listening on/, 30_000);
    for (let i = 0; i < Math.max(...ownerCounts); i++) {
      const o = spawn(Deno.execPath(), [
        ...peerRunArgs(treeRoot, dir),
        join(treeRoot, "peer.ts"),
        ...["share", large, small, "--tracker", `127.0.0.1:${port}`, "--id", `${label}o${i}`],
        ...["--log-dir", join(dir, `logs-${label}`), "--dir", join(dir, `cache-${label}${i}`)],
      ], { cwd: treeRoot });
      procs.push(o);
      await o.waitFor(/^sharing .*small/, 300_000);
    }
  } catch (e) {
    await stop();
    throw e;
  }
  trees.push({ label, root: treeRoot, tracker: `127.0.0.1:${port}`, stop });
}

async function download(
  tree: Tree,
  file: "large" | "small",
  owners: number,
  lossPct: number,
  mtu: number,
  expected: string,
): Promise<Result> {
  const name = file === "large" ? "large.bin" : "small.bin";
  const out = join(dir, `out-${serial++}`);
  await Deno.mkdir(out);
  const args = [
    ...peerRunArgs(tree.root, dir),
    join(tree.root, "peer.ts"),
    ...downloadArgs(name, out, tree.tracker, `dl${serial}`),
    ...["--owners", String(owners)],
    ...["--log-dir", join(dir, `logs-${tree.label}`)],
    ...(mtu > 0 ? ["--mtu", String(mtu)] : []),
  ];
  const traceDir = values["trace-dir"];
  if (traceDir && tree.label === "this") {
    await Deno.mkdir(traceDir, { recursive: true });
    const at = join(traceDir, `${file}-${owners}o-${lossPct}pct-mtu${mtu}-${serial}.jsonl`);
    args.splice(3, 0, `--allow-write=${traceDir}`);
    args.push("--trace", at);
  }
  const t0 = performance.now();
  const dl = spawn(Deno.execPath(), args, { cwd: tree.root, timed: true });
  const killer = setTimeout(() => dl.child.kill("SIGKILL"), timeoutMs);
  const status = await dl.child.status;
  clearTimeout(killer);
  const wallSec = (performance.now() - t0) / 1000;
  await dl.io;
  const time = dl.time();
  let retransmits = -1;
  for (const l of dl.lines) {
    if (!l.startsWith("{")) continue;
    try {
      const j = JSON.parse(l);
      const r = j.retransmits ?? j.result?.retransmits;
      if (typeof r === "number") retransmits = r;
    } catch {
      // not JSON
    }
  }
  const ok = status.code === 0 &&
    (await sha256File(join(out, name))) === expected;
  if (!ok) console.error(`run failed (exit ${status.code}):\n${dl.lines.slice(-10).join("\n")}`);
  await Deno.remove(out, { recursive: true });
  const size = file === "large" ? sizeBytes : smallBytes;
  const r: Result = {
    tree: tree.label,
    file,
    sizeBytes: size,
    owners,
    lossPct,
    mtu,
    wallSec,
    mbPerSec: size / 1e6 / wallSec,
    dlPeakRssMiB: time?.rssMiB ?? NaN,
    dlCpuSec: time?.cpuSec ?? NaN,
    retransmits,
    ok,
  };
  console.error(JSON.stringify(r));
  results.push(r);
  return r;
}

try {
  const large = join(dir, "large.bin");
  const small = join(dir, "small.bin");
  console.error(`writing ${sizeBytes} + ${smallBytes} random bytes…`);
  const largeHash = await writeRandomFile(large, sizeBytes);
  const smallHash = await writeRandomFile(small, smallBytes);
  await setLoss(0);
  await startTree("this", root, large, small);
  if (values.baseline) await startTree("base", values.baseline.replace(/\/$/, ""), large, small);
  const treesAt = (loss: number) =>
    trees.filter((t) => t.label === "this" || baselineLosses.includes(loss));
  for (const loss of losses) {
    await setLoss(loss);
    for (const n of ownerCounts) {
      for (let i = 0; i < runs; i++) {
        for (const t of treesAt(loss)) await download(t, "large", n, loss, 0, largeHash);
      }
    }
  }
  for (const loss of [0, 5]) {
    await setLoss(loss);
    for (const n of ownerCounts) {
      for (let i = 0; i < smallRuns; i++) {
        for (const t of treesAt(loss)) await download(t, "small", n, loss, 0, smallHash);
      }
    }
  }
  if (rssMtu > 0) {
    await setLoss(0);
    for (const t of trees) await download(t, "large", 1, 0, rssMtu, largeHash);
  }
} finally {
  await setLoss(0);
  for (const t of trees) await t.stop();
  await Deno.remove(dir, { recursive: true });
}

// ---- report ----

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor((s.length - 1) / 2)]!;
}
const groups = new Map<string, Result[]>();
for (const r of results) {
  const k = `${r.tree}|${r.file}|${r.owners}|${r.lossPct}|${r.mtu}`;
  groups.set(k, [...(groups.get(k) ?? []), r]);
}
console.log(
  "tree  file   MiB  owners  loss %  mtu    runs  wall s (median)  MB/s  × lossless  peak RSS MiB  retx  ok",
);
for (const [k, rs] of groups) {
  const [tree, file, owners, loss, mtu] = k.split("|");
  const wall = median(rs.map((r) => r.wallSec));
  const base = groups.get(`${tree}|${file}|${owners}|0|${mtu}`);
  const ratio = base ? median(base.map((r) => r.wallSec)) / wall : NaN;
  const r0 = rs[0]!;
  console.log(
    `${tree!.padEnd(5)} ${file!.padEnd(5)} ${(r0.sizeBytes / 2 ** 20).toFixed(0).padStart(4)}  ${
      owners!.padStart(6)
    }  ${loss!.padStart(6)}  ${(mtu === "0" ? "probe" : mtu!).padEnd(5)}  ${
      String(rs.length).padStart(4)
    }  ${wall.toFixed(2).padStart(15)}  ${(r0.sizeBytes / 1e6 / wall).toFixed(0).padStart(4)}  ${
      ratio.toFixed(2).padStart(10)
    }  ${Math.max(...rs.map((r) => r.dlPeakRssMiB)).toFixed(0).padStart(12)}  ${
      String(median(rs.map((r) => r.retransmits))).padStart(4)
    }  ${rs.every((r) => r.ok)}`,
  );
}
await Deno.mkdir(join(root, "bench-results"), { recursive: true });
await Deno.writeTextFile(
  join(root, "bench-results", "loss.json"),
  JSON.stringify({ date: new Date().toISOString(), results }, null, 2),
);
if (results.some((r) => !r.ok)) Deno.exit(1);
