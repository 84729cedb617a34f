/**
 * Process helpers shared by the benchmark scripts (bench_transfer.ts, bench_loss.ts): free ports,
 * child processes whose output lines can be waited for, CPU seconds from /proc, and random test
 * files with their SHA-256.
 * @module
 */
import { createHash } from "node:crypto";

/** A UDP port that is free on 127.0.0.1 right now. */
export function freePort(): number {
  const c = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const port = (c.addr as Deno.NetAddr).port;
  c.close();
  return port;
}

/** Cumulative CPU seconds of processes (via `cat /proc/PID/stat`: Deno reads /proc only with --allow-all). */
export async function cpuSeconds(pids: number[]): Promise<number> {
  const out = await new Deno.Command("cat", {
    args: pids.map((p) => `/proc/${p}/stat`),
    stdout: "piped",
    stderr: "null",
  })
    .output();
  let total = 0;
  for (const stat of new TextDecoder().decode(out.stdout).split("\n")) {
    if (!stat) continue;
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    total += (Number(f[11]) + Number(f[12])) / 100;
  }
  return total;
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

/**
 * Runs `deno ARGS` (under `/usr/bin/time` with `timed`, whose `TIME wall user sys maxrss` line
 * ends the output) in `cwd`; its stdout and stderr lines are collected and can be waited for.
 */
export function spawn(args: string[], cwd: string, timed = false) {
  const child = new Deno.Command(timed ? "/usr/bin/time" : Deno.execPath(), {
    args: timed ? ["-f", "TIME %e %U %S %M", Deno.execPath(), ...args] : args,
    cwd,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
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
      await child.status;
      clearTimeout(t);
      await io;
    },
  };
}

/** Writes `size` pseudo-random bytes to `path`; returns their SHA-256 in hex. */
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

/** SHA-256 of a file, hex. */
export async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  const f = await Deno.open(path);
  for await (const c of f.readable) h.update(c);
  return h.digest("hex");
}

/**
 * Starts `tracker.ts` on a free loopback port with its log in `logs` (grants limited to `dir`)
 * and waits until it listens.
 *
 * @returns the process and its `HOST:PORT`
 */
export async function startBenchTracker(root: string, dir: string, logs: string) {
  const port = freePort();
  const tracker = spawn([
    "run",
    "--allow-net",
    `--allow-read=${dir}`,
    `--allow-write=${dir}`,
    `${root}/tracker.ts`,
    "--port",
    String(port),
    "--log-dir",
    logs,
  ], root);
  await tracker.waitFor(/listening on/, 30_000);
  return { tracker, address: `127.0.0.1:${port}` };
}
