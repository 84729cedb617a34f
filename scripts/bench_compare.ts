/**
 * One file, three systems, one run: udpswarm, libtorrent over TCP (Debian `python3-libtorrent`,
 * driven by scripts/bench_libtorrent.py) and uftp at a fixed rate (Debian `uftp`), each moving
 * the same file over loopback, alternating round by round so that machine load hits them alike.
 * Prints per run and as medians: wall time from spawning the downloader to its exit, the
 * system's own transfer time, the ratio to libtorrent's wall in the same round, CPU seconds per
 * GiB of the downloader and of the owner, and peak RSS. A tool that is not installed is skipped
 * with the reason. Writes bench-results/compare.json.
 *
 *   deno run -P=test scripts/bench_compare.ts [--size-mib 1024] [--runs 3]
 *     [--variant NAME:ROOT[:OWNERS[:GET ARGS[:DENO FLAGS]]]]... [--no-libtorrent] [--no-uftp]
 *     [--uftp-mbit 8000] [--tmp DIR] [--keep]
 *
 * `--variant` runs udpswarm from another checkout (an A/B of two commits in one session: `git
 * archive COMMIT | tar -x -C /tmp/base`, then `--variant base:/tmp/base --variant new:.`), with
 * OWNERS owners (default 1) and extra arguments for `peer.ts get` (space-separated, e.g.
 * `--mtu 1500`) and extra Deno flags for its peers (e.g. `--allow-ffi=/lib/x86_64-linux-gnu/libc.so.6`).
 * Without `--variant` it runs `udpswarm:.:1` and, where libc is found, `udpswarm-ffi` (the same
 * with FFI access to libc: raised receive buffers and the fast path). Each variant has its own tracker
 * and owners; the owners of the variants not running are paused with SIGSTOP.
 *
 * `--tmp` puts the shared file and the downloads elsewhere than the system's temporary directory
 * (Deno asks for `-A` to write under /dev).
 *
 * Wall times include process start-up for every system (Deno ~20 ms, Python + libtorrent ~100
 * ms, uftp's announce/register handshake). uftp hashes nothing and has no congestion control at
 * a fixed rate: it is the "what UDP can do here" line, not a like-for-like peer.
 * @module
 */
import { benchFlags, mibToBytes, transferFlags } from "./_bench_flags.ts";
import { join } from "node:path";
import {
  type Child,
  cpuSeconds,
  deadline,
  downloadArgs,
  freePort,
  peakRssMiB,
  peerRunArgs,
  sha256File,
  spawn,
  startOwner,
  startTracker,
  writeRandomFile,
} from "./_bench_util.ts";
import { libcPath } from "../lib/net/socket_buffer.ts";

const values = benchFlags(
  "deno run -P=test scripts/bench_compare.ts [--size-mib 1024] [--runs 3] [--variant NAME:ROOT[:OWNERS[:GET ARGS[:DENO FLAGS]]]]... [--no-libtorrent] [--no-uftp] [--uftp-mbit 8000] [--tmp DIR] [--keep]",
  {
    ...transferFlags(3),
    variant: { type: "string", multiple: true },
    "no-libtorrent": { type: "boolean", default: false },
    "no-uftp": { type: "boolean", default: false },
    "uftp-mbit": { type: "string", default: "8000" },
    keep: { type: "boolean", default: false },
    tmp: { type: "string" },
  },
);
const sizeBytes = mibToBytes(values["size-mib"]);
const gib = sizeBytes / 2 ** 30;
const runs = Number(values.runs);
const here = new URL("..", import.meta.url).pathname;
const DOWNLOAD_LIMIT_MS = 300_000;

/** One measured download. */
interface Run {
  system: string;
  round: number;
  wallSec: number;
  /** The system's own figure for the transfer (udpswarm elapsedMs, libtorrent add→seeding, uftp elapsed). */
  transferSec: number;
  downloaderCpuSec: number;
  ownerCpuSec: number;
  downloaderRssMiB: number;
  ownerRssMiB: number;
  /** udpswarm: blocks requested again (the result's `retransmits`); NaN for the others. */
  retransmits: number;
  ok: boolean;
}

/** A system under test: set up once, measured per round, torn down at the end. */
interface System {
  name: string;
  run(round: number, out: string): Promise<Run>;
  close(): Promise<void>;
}

async function which(cmd: string, args: string[]): Promise<string | undefined> {
  try {
    const r = await new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).output();
    return r.success ? undefined : new TextDecoder().decode(r.stderr).trim().split("\n").pop();
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/** True when the download exited 0 and `out/bench.bin` has the expected SHA-256; says why not. */
async function verified(
  system: string,
  out: string,
  code: number,
  lines: string[],
  expected: string,
): Promise<boolean> {
  const ok = code === 0 && await sha256File(join(out, "bench.bin")) === expected;
  if (!ok) console.error(`${system} failed (exit ${code}):\n${lines.slice(-10).join("\n")}`);
  return ok;
}

/** udpswarm from checkout `root`: a tracker and `owners` owners, then `peer.ts get` per round. */
async function udpswarm(
  name: string,
  root: string,
  owners: number,
  getArgs: string[],
  denoFlags: string[],
  dir: string,
  file: string,
  expected: string,
  all: Child[],
): Promise<System> {
  const deno = Deno.execPath();
  const { child: tracker, address } = await startTracker(root, dir);
  const peerArgs = peerRunArgs(root, dir, denoFlags);
  const ownerProcs: Child[] = [];
  for (let i = 0; i < owners; i++) {
    const id = `${name}-o${i}`;
    const o = await startOwner({ root, dir, file, tracker: address, id, denoFlags });
    ownerProcs.push(o);
    Deno.kill(o.child.pid, "SIGSTOP");
  }
  all.push(...ownerProcs);
  const pids = ownerProcs.map((o) => o.child.pid);
  return {
    name,
    async run(round, out) {
      for (const pid of pids) Deno.kill(pid, "SIGCONT");
      const cpu0 = await cpuSeconds(pids);
      const dl = spawn(deno, [
        ...peerArgs,
        join(root, "peer.ts"),
        ...downloadArgs("bench.bin", out, address, `${name}-d${round}`),
        "--log-dir",
        join(dir, "logs"),
        ...getArgs,
      ], { cwd: root, timed: true });
      const t0 = performance.now();
      const cancel = deadline(dl.child, DOWNLOAD_LIMIT_MS);
      const status = await dl.child.status;
      const wallSec = (performance.now() - t0) / 1000;
      cancel();
      await dl.io;
      const ownerCpuSec = (await cpuSeconds(pids)) - cpu0;
      const ownerRssMiB = await peakRssMiB(pids);
      for (const pid of pids) Deno.kill(pid, "SIGSTOP");
      const result = dl.lines.map((l) => {
        try {
          return JSON.parse(l);
        } catch {
          return undefined;
        }
      }).find((j) => j?.elapsedMs !== undefined || j?.result?.elapsedMs !== undefined);
      const ok = await verified(name, out, status.code, dl.lines, expected);
      const time = dl.time();
      return {
        system: name,
        round,
        wallSec,
        transferSec: Number(result?.elapsedMs ?? result?.result?.elapsedMs ?? NaN) / 1000,
        downloaderCpuSec: time?.cpuSec ?? NaN,
        ownerCpuSec,
        downloaderRssMiB: time?.rssMiB ?? NaN,
        ownerRssMiB,
        retransmits: Number(result?.retransmits ?? result?.result?.retransmits ?? NaN),
        ok,
      };
    },
    async close() {
      for (const o of ownerProcs) {
        try {
          Deno.kill(o.child.pid, "SIGCONT");
        } catch {
          // gone
        }
        await o.stop();
      }
      await tracker.stop();
    },
  };
}

/** libtorrent over TCP: one seeding process (it creates the torrent), `get` per round. */
async function libtorrent(
  dir: string,
  file: string,
  expected: string,
  all: Child[],
): Promise<System> {
  const script = join(here, "scripts", "bench_libtorrent.py");
  const torrent = join(dir, "bench.torrent");
  const seed = spawn("/usr/bin/python3", [script, "seed", file, torrent], { stdin: true });
  all.push(seed);
  const port = (await seed.waitFor(/^port (\d+)/, 120_000))[1]!;
  Deno.kill(seed.child.pid, "SIGSTOP");
  const pid = seed.child.pid;
  return {
    name: "libtorrent",
    async run(round, out) {
      Deno.kill(pid, "SIGCONT");
      const cpu0 = await cpuSeconds([pid]);
      const t0 = performance.now();
      const dl = spawn("/usr/bin/python3", [script, "get", torrent, out, port], { timed: true });
      const cancel = deadline(dl.child, DOWNLOAD_LIMIT_MS);
      const status = await dl.child.status;
      const wallSec = (performance.now() - t0) / 1000;
      cancel();
      await dl.io;
      const ownerCpuSec = (await cpuSeconds([pid])) - cpu0;
      const ownerRssMiB = await peakRssMiB([pid]);
      Deno.kill(pid, "SIGSTOP");
      const done = dl.lines.map((l) => l.match(/^done (\S+)/)).find((m) => m);
      const ok = await verified("libtorrent", out, status.code, dl.lines, expected);
      const time = dl.time();
      return {
        system: "libtorrent",
        round,
        wallSec,
        transferSec: Number(done?.[1] ?? NaN),
        downloaderCpuSec: time?.cpuSec ?? NaN,
        ownerCpuSec,
        downloaderRssMiB: time?.rssMiB ?? NaN,
        ownerRssMiB,
        retransmits: NaN,
        ok,
      };
    },
    async close() {
      try {
        Deno.kill(pid, "SIGCONT");
      } catch {
        // gone
      }
      await seed.stop();
    },
  };
}

/**
 * uftp at a fixed rate, unicast on loopback, 8800-byte blocks, no encryption: a `uftpd`
 * receiver per round (the downloader), `uftp` (the owner) timed.
 */
function uftp(file: string, expected: string, mbit: number): System {
  return {
    name: "uftp",
    async run(round, out) {
      const port = freePort();
      const uftpd = spawn("uftpd", [
        "-d",
        "-x",
        "1",
        "-p",
        String(port),
        "-D",
        out,
        "-B",
        "4194304",
        "-U",
        "0x00000002",
      ]);
      await new Promise((r) => setTimeout(r, 200));
      const t0 = performance.now();
      const sender = spawn("uftp", [
        "-M",
        "127.0.0.1",
        "-p",
        String(port),
        "-R",
        String(mbit * 1000),
        "-b",
        "8800",
        "-C",
        "none",
        "-Y",
        "none",
        "-B",
        "4194304",
        "-r",
        "0.05:0.01:1",
        file,
      ], { timed: true });
      const cancel = deadline(sender.child, DOWNLOAD_LIMIT_MS);
      const status = await sender.child.status;
      const wallSec = (performance.now() - t0) / 1000;
      cancel();
      await sender.io;
      const downloaderCpuSec = await cpuSeconds([uftpd.child.pid]);
      const downloaderRssMiB = await peakRssMiB([uftpd.child.pid]);
      await uftpd.stop();
      const elapsed = sender.lines.map((l) => l.match(/Total elapsed time: (\S+)/)).find((m) => m);
      const ok = await verified("uftp", out, status.code, sender.lines, expected);
      const time = sender.time();
      return {
        system: "uftp",
        round,
        wallSec,
        transferSec: Number(elapsed?.[1] ?? NaN),
        downloaderCpuSec,
        ownerCpuSec: time?.cpuSec ?? NaN,
        downloaderRssMiB,
        ownerRssMiB: time?.rssMiB ?? NaN,
        retransmits: NaN,
        ok,
      };
    },
    close: () => Promise.resolve(),
  };
}

function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const f = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : "-");

const dir = await Deno.makeTempDir({
  prefix: "udpswarm-compare-",
  ...(values.tmp ? { dir: values.tmp } : {}),
});
const all: Child[] = [];
const systems: System[] = [];
const results: Run[] = [];
const skipped: string[] = [];
try {
  const src = join(dir, "share");
  await Deno.mkdir(src);
  const file = join(src, "bench.bin");
  console.error(`writing ${sizeBytes} random bytes…`);
  const expected = await writeRandomFile(file, sizeBytes);
  // By default udpswarm as granted by default, and with FFI access to libc (its receive buffers
  // and fast path; docs/TRANSFER.md) where libc is found
  const libc = libcPath();
  const variants = values.variant ??
    ["udpswarm:.:1", ...(libc ? [`udpswarm-ffi:.:1::--allow-ffi=${libc}`] : [])];
  for (const v of variants) {
    const [name, root = ".", owners = "1", args = "", flags = ""] = v.split(":");
    const abs = root.startsWith("/") ? root : join(here, root);
    systems.push(
      await udpswarm(
        name!,
        abs,
        Number(owners),
        args.split(" ").filter(Boolean),
        flags.split(" ").filter(Boolean),
        dir,
        file,
        expected,
        all,
      ),
    );
  }
  if (values["no-libtorrent"]) skipped.push("libtorrent: --no-libtorrent");
  else {
    const why = await which("/usr/bin/python3", ["-c", "import libtorrent"]);
    if (why) skipped.push(`libtorrent: ${why} (apt-get install python3-libtorrent)`);
    else systems.push(await libtorrent(dir, file, expected, all));
  }
  if (values["no-uftp"]) skipped.push("uftp: --no-uftp");
  else {
    const why = await which("sh", [
      "-c",
      "command -v uftp && command -v uftpd || { echo uftp or uftpd is not on PATH >&2; exit 1; }",
    ]);
    if (why) skipped.push(`uftp: ${why} (apt-get install uftp)`);
    else systems.push(uftp(file, expected, Number(values["uftp-mbit"])));
  }
  for (const s of skipped) console.error(`skipped ${s}`);
  for (let round = 0; round < runs; round++) {
    // Rotate the order every round so that no system always runs first.
    for (let k = 0; k < systems.length; k++) {
      const s = systems[(k + round) % systems.length]!;
      const out = join(dir, `out-${s.name}-${round}`);
      await Deno.mkdir(out);
      const r = await s.run(round, out);
      results.push(r);
      console.error(JSON.stringify(r));
      // Remove, then sync, outside the timed part: keeping every download piles up dirty pages
      // until writers are throttled, and deleting 1 GiB on a file system mounted with `discard`
      // stalls the next writer (measured: a 1 GiB dd took 3.9 s instead of 0.6). The sync also
      // writes out what libtorrent and uftp left in the page cache; udpswarm's own fsync before
      // its rename is part of its time.
      await Deno.remove(out, { recursive: true });
      await new Deno.Command("sync").output();
    }
  }
} finally {
  for (const s of systems) await s.close().catch(() => {});
  for (const c of all) await c.stop().catch(() => {});
  if (!values.keep) await Deno.remove(dir, { recursive: true });
}

const width = Math.max(15, ...results.map((r) => r.system.length + 3));
const lt = new Map(results.filter((r) => r.system === "libtorrent").map((r) => [r.round, r]));
const load = new TextDecoder().decode(
  (await new Deno.Command("cat", { args: ["/proc/loadavg"], stdout: "piped" }).output()).stdout,
).split(" ").slice(0, 3);
console.log(
  `${(sizeBytes / 2 ** 20).toFixed(0)} MiB over loopback, ${runs} rounds, load average ${
    load.join(" ")
  } at the end`,
);
console.log(
  `${
    "system".padEnd(width)
  } wall s  transfer s  ×libtorrent  dl CPU s/GiB  owner CPU s/GiB  dl RSS MiB  owner RSS MiB  retx  ok`,
);
const names = [...new Set(results.map((r) => r.system))];
const row = (label: string, rs: Run[]) => {
  const ratios = rs.map((r) => r.wallSec / (lt.get(r.round)?.wallSec ?? NaN));
  console.log(
    `${label.padEnd(width)} ${f(median(rs.map((r) => r.wallSec))).padStart(6)}  ${
      f(median(rs.map((r) => r.transferSec))).padStart(10)
    }  ${f(median(ratios)).padStart(11)}  ${
      f(median(rs.map((r) => r.downloaderCpuSec / gib))).padStart(12)
    }  ${f(median(rs.map((r) => r.ownerCpuSec / gib))).padStart(15)}  ${
      f(Math.max(...rs.map((r) => r.downloaderRssMiB)), 0).padStart(10)
    }  ${f(Math.max(...rs.map((r) => r.ownerRssMiB)), 0).padStart(13)}  ${
      f(median(rs.map((r) => r.retransmits)), 0).padStart(4)
    }  ${rs.every((r) => r.ok)}`,
  );
};
for (const r of results) row(`${r.system}#${r.round}`, [r]);
console.log("medians (ratios are per round, to libtorrent in the same round):");
for (const n of names) row(n, results.filter((r) => r.system === n));
for (const s of skipped) console.log(`skipped ${s}`);
await Deno.mkdir(join(here, "bench-results"), { recursive: true });
await Deno.writeTextFile(
  join(here, "bench-results", "compare.json"),
  JSON.stringify({ date: new Date().toISOString(), sizeBytes, load, results, skipped }, null, 2),
);
if (results.some((r) => !r.ok)) Deno.exit(1);
