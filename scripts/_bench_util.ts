/**
 * Helpers shared by the transfer benchmarks (bench_transfer.ts, bench_compare.ts, bench_loss.ts,
 * bench_rate_limit.ts): child
 * processes whose output lines can be waited for, CPU seconds and peak RSS from /proc, a
 * deterministic random file and its SHA-256.
 * @module
 */
import { createHash } from "node:crypto";
import { sha256File as hashFile } from "../tests/_harness/processes.ts";

/** A free UDP port on 127.0.0.1 (closed again; a race with other processes is possible). */
export function freePort(): number {
  const c = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const port = (c.addr as Deno.NetAddr).port;
  c.close();
  return port;
}

/** Reads /proc files with `cat` (Deno reads /proc only with --allow-all). */
async function catProc(paths: string[]): Promise<string> {
  const out = await new Deno.Command("cat", { args: paths, stdout: "piped", stderr: "null" })
    .output();
  return new TextDecoder().decode(out.stdout);
}

/** Cumulative CPU seconds (user + system) of processes, from /proc/PID/stat. */
export async function cpuSeconds(pids: number[]): Promise<number> {
  let total = 0;
  for (const stat of (await catProc(pids.map((p) => `/proc/${p}/stat`))).split("\n")) {
    if (!stat) continue;
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    total += (Number(f[11]) + Number(f[12])) / 100;
  }
  return total;
}

/**
 * User and system CPU seconds of processes (utime and stime of `/proc/PID/stat`, summed).
 *
 * @param pids process ids, alive
 * @returns `{ user, system }` in seconds
 */
export async function cpuSplit(pids: number[]): Promise<{ user: number; system: number }> {
  let user = 0, system = 0;
  for (const stat of (await catProc(pids.map((p) => `/proc/${p}/stat`))).split("\n")) {
    if (!stat) continue;
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    user += Number(f[11]) / 100;
    system += Number(f[12]) / 100;
  }
  return { user, system };
}

/** The largest peak RSS (VmHWM) of processes, MiB. */
export async function peakRssMiB(pids: number[]): Promise<number> {
  let max = 0;
  for (
    const m of (await catProc(pids.map((p) => `/proc/${p}/status`))).matchAll(
      /^VmHWM:\s+(\d+) kB/gm,
    )
  ) max = Math.max(max, Number(m[1]) / 1024);
  return max;
}

async function lineWaiter(
  stream: ReadableStream<Uint8Array>,
  onLine: (l: string) => void,
): Promise<void> {
  let buf = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buf += chunk;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      onLine(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  }
  if (buf) onLine(buf);
}

/** A child process with its output lines (stdout and stderr) collected. */
export interface Child {
  child: Deno.ChildProcess;
  lines: string[];
  io: Promise<unknown>;
  /** Resolves with the first line matching `re` (or rejects after `ms`, with the last lines). */
  waitFor(re: RegExp, ms: number): Promise<RegExpMatchArray>;
  /** SIGTERM, SIGKILL after 5 s, and waits for exit and output. */
  stop(): Promise<void>;
  /** `/usr/bin/time` figures when spawned with `timed`: wall s, CPU s, peak RSS MiB. */
  time(): { wallSec: number; cpuSec: number; rssMiB: number } | undefined;
}

/** Options for {@link spawn}. */
export interface SpawnOptions {
  /** Working directory. */
  cwd?: string;
  /** Wrap the command in `/usr/bin/time` (see {@link Child.time}). @default false */
  timed?: boolean;
  /** Give the child a stdin pipe that stays open until it is stopped. @default false */
  stdin?: boolean;
}

/** Spawns `cmd args`, collecting its output lines. */
export function spawn(cmd: string, args: string[], options: SpawnOptions = {}): Child {
  const timed = options.timed ?? false;
  const child = new Deno.Command(timed ? "/usr/bin/time" : cmd, {
    args: timed ? ["-f", "TIME %e %U %S %M", cmd, ...args] : args,
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    stdout: "piped",
    stderr: "piped",
    stdin: options.stdin ? "piped" : "null",
  }).spawn();
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  const onLine = (l: string) => {
    lines.push(l);
    for (const w of [...waiters]) {
      const m = l.match(w.re);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  const io = Promise.all([lineWaiter(child.stdout, onLine), lineWaiter(child.stderr, onLine)]);
  return {
    child,
    lines,
    io,
    waitFor(re: RegExp, ms: number): Promise<RegExpMatchArray> {
      const found = lines.map((l) => l.match(re)).find((m) => m);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const t = setTimeout(
          () =>
            reject(
              new Error(`timed out waiting for ${re}; output:\n${lines.slice(-20).join("\n")}`),
            ),
          ms,
        );
        waiters.push({ re, resolve: (m) => (clearTimeout(t), resolve(m)) });
      });
    },
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch {
        // gone
      }
      const t = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // gone
        }
      }, 5000);
      if (options.stdin) await child.stdin.close().catch(() => {});
      await child.status;
      clearTimeout(t);
      await io;
    },
    time() {
      const m = lines.map((l) => l.match(/^TIME (\S+) (\S+) (\S+) (\d+)/)).find((x) => x);
      if (!m) return undefined;
      return {
        wallSec: Number(m[1]),
        cpuSec: Number(m[2]) + Number(m[3]),
        rssMiB: Number(m[4]) / 1024,
      };
    },
  };
}

/** Writes `size` deterministic pseudo-random bytes (xorshift32) and returns their SHA-256 hex. */
export async function writeRandomFile(path: string, size: number): Promise<string> {
  const f = await Deno.open(path, { write: true, create: true, truncate: true });
  const hash = createHash("sha256");
  const chunk = new Uint8Array(1 << 20);
  let x = 0x9e3779b9;
  for (let done = 0; done < size;) {
    const n = Math.min(chunk.length, size - done);
    const v = new Uint32Array(chunk.buffer, 0, n >> 2);
    for (let i = 0; i < v.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      v[i] = x >>> 0;
    }
    const part = chunk.subarray(0, n);
    hash.update(part);
    let w = 0;
    while (w < n) w += await f.write(part.subarray(w));
    done += n;
  }
  f.close();
  return hash.digest("hex");
}

/** SHA-256 hex of a file ("" when it cannot be read: a benchmark reports a mismatch, not a crash). */
export function sha256File(path: string): Promise<string> {
  return hashFile(path).catch(() => "");
}

/** Kills a child after `ms` (SIGKILL); returns a function that cancels it. */
export function deadline(child: Deno.ChildProcess, ms: number): () => void {
  const t = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }, ms);
  return () => clearTimeout(t);
}

/**
 * `deno run` arguments for a peer of checkout `root` that may read anywhere and write under `dir`,
 * without FFI (as `deno task peer:sandboxed`).
 * `BENCH_PEER_DENO_FLAGS` (space-separated) adds Deno flags to every peer, e.g.
 * `BENCH_PEER_DENO_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof"` profiles owners and downloaders;
 * `denoFlags` adds flags to this peer only.
 */
export function peerRunArgs(root: string, dir: string, denoFlags: string[] = []): string[] {
  const extra = (Deno.env.get("BENCH_PEER_DENO_FLAGS") ?? "").split(" ").filter((f) => f !== "");
  return [
    "run",
    // The grants of `deno task peer:sandboxed`, spelled out (a baseline checkout may predate the
    // permission sets): no FFI unless a variant or BENCH_PEER_DENO_FLAGS adds it, so a variant
    // with `--allow-ffi=…libc…` measures exactly what the libc grant of `deno task peer` buys.
    "--no-prompt",
    "--allow-net",
    "--allow-read",
    "--allow-sys=statfs",
    ...extra,
    ...denoFlags,
    `--allow-read=${dir},${root}`,
    `--allow-write=${dir}`,
  ];
}

/**
 * The `peer.ts get` arguments of a benchmark download: `name` into `out` (also the peer's home
 * directory), from `tracker`, as node `id`, with one JSON result line and no progress.
 */
export function downloadArgs(name: string, out: string, tracker: string, id: string): string[] {
  return ["get", name, "--out", out, "--dir", out, "--tracker", tracker, "--json", "--quiet"]
    .concat(["--id", id]);
}

/**
 * Starts `tracker.ts` of checkout `root` on a free loopback port (grants limited to `dir`),
 * logging to `logs`, and waits until it listens.
 *
 * @returns the process and its `host:port`
 */
export async function startTracker(
  root: string,
  dir: string,
  logs = `${dir}/logs`,
): Promise<{ child: Child; address: string }> {
  const port = freePort();
  const child = spawn(Deno.execPath(), [
    "run",
    "--allow-net",
    `--allow-read=${dir}`,
    `--allow-write=${dir}`,
    `${root}/tracker.ts`,
    "--port",
    String(port),
    "--log-dir",
    logs,
  ], { cwd: root });
  await child.waitFor(/listening on/, 30_000);
  return { child, address: `127.0.0.1:${port}` };
}

/** Options for {@link startOwner}. */
export interface OwnerOptions {
  /** The checkout whose peer.ts runs. */
  root: string;
  /** The benchmark's directory (read/write grant, logs). */
  dir: string;
  /** The file to share. */
  file: string;
  /** Tracker `host:port`. */
  tracker: string;
  /** Node id. */
  id: string;
  /** Deno flags for this owner (see {@link peerRunArgs}). */
  denoFlags?: string[];
}

/** Starts `peer.ts share FILE` and waits until it shares (its manifest built). */
export async function startOwner(o: OwnerOptions): Promise<Child> {
  const child = spawn(Deno.execPath(), [
    ...peerRunArgs(o.root, o.dir, o.denoFlags),
    `${o.root}/peer.ts`,
    "share",
    o.file,
    "--tracker",
    o.tracker,
    "--id",
    o.id,
    "--log-dir",
    `${o.dir}/logs`,
    "--dir",
    `${o.dir}/cache-${o.id}`,
  ], { cwd: o.root });
  await child.waitFor(/^sharing /, 120_000);
  return child;
}
