/**
 * `deno task demo`: the README's first command. Starts a tracker and three peers as separate
 * processes, each with explicit, narrow permissions, in a temporary directory under ./.tmp.
 * Two peers share a 64 MiB random file (`peer.ts share`), the third downloads it
 * (`peer.ts get`), the SHA-256 is compared, and every process and file is cleaned up. Exits 0
 * only when the bytes match.
 *
 * Flags: `--size BYTES` (default 64 MiB), `--timeout SECONDS` (default 120), `--keep` (leave
 * the directory for inspection), `--echo` (show every child's output).
 * @module
 */
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type ChildProcess, sha256File, spawnDeno } from "../tests/_harness/processes.ts";
import { LIBC_PATHS } from "../lib/net/socket_buffer.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TRACKER = join(ROOT, "tracker.ts");
const PEER = join(ROOT, "peer.ts");
/** The piece verifier's Worker module: Deno loads it with the peer's read grant. */
const WORKER = join(ROOT, "lib", "peer", "piece_writer_worker.ts");

interface DemoOptions {
  size: number;
  timeoutMs: number;
  keep: boolean;
  echo: boolean;
}

function parseDemoArgs(argv: string[]): DemoOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      size: { type: "string" },
      timeout: { type: "string" },
      keep: { type: "boolean" },
      echo: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(
      "Usage: deno task demo [--size BYTES] [--timeout SECONDS] [--keep] [--echo]\n" +
        "Tracker + 2 sharing peers + 1 downloading peer as separate processes; exits 0 when\n" +
        "the downloaded file's SHA-256 matches.",
    );
    Deno.exit(0);
  }
  const size = Number(values.size ?? 64 * 1024 * 1024);
  const timeout = Number(values.timeout ?? 120);
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new RangeError(`Cannot parse --size: expected bytes >= 0, got "${values.size}"`);
  }
  if (!(timeout > 0)) {
    throw new RangeError(`Cannot parse --timeout: expected seconds > 0, got "${values.timeout}"`);
  }
  return {
    size,
    timeoutMs: timeout * 1000,
    keep: values.keep ?? false,
    echo: values.echo ?? false,
  };
}

/** Writes `size` random bytes and returns their SHA-256. */
async function writeRandomFile(path: string, size: number): Promise<string> {
  const hash = createHash("sha256");
  const chunk = new Uint8Array(1 << 20);
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  for (let written = 0; written < size;) {
    const n = Math.min(chunk.length, size - written);
    for (let off = 0; off < n; off += 65536) {
      crypto.getRandomValues(chunk.subarray(off, Math.min(n, off + 65536)));
    }
    const part = chunk.subarray(0, n);
    hash.update(part);
    for (let o = 0; o < n;) o += await file.write(part.subarray(o));
    written += n;
  }
  return hash.digest("hex");
}

function say(text: string): void {
  console.log(`demo: ${text}`);
}

async function demo(o: DemoOptions, signal: AbortSignal): Promise<boolean> {
  await Deno.mkdir(join(ROOT, ".tmp"), { recursive: true });
  const base = await Deno.makeTempDir({ dir: join(ROOT, ".tmp"), prefix: "demo-" });
  const children: ChildProcess[] = [];
  const deadline = Date.now() + o.timeoutMs;
  const left = () => Math.max(1, deadline - Date.now());
  const stopped = new Promise<never>((_, reject) => {
    signal.addEventListener(
      "abort",
      () => reject(new Error(`interrupted by ${signal.reason}`)),
      { once: true },
    );
  });
  try {
    const body = (async (): Promise<boolean> => {
      const logs = join(base, "logs");
      const dirs = { a: join(base, "seed-a"), b: join(base, "seed-b"), c: join(base, "leech") };
      for (const d of [logs, ...Object.values(dirs)]) await Deno.mkdir(d, { recursive: true });

      const t0 = performance.now();
      const expected = await writeRandomFile(join(dirs.a, "big.bin"), o.size);
      await Deno.copyFile(join(dirs.a, "big.bin"), join(dirs.b, "big.bin"));
      say(
        `wrote ${(o.size / 2 ** 20).toFixed(1)} MiB of random bytes to seed-a/ and seed-b/ ` +
          `in ${((performance.now() - t0) / 1000).toFixed(1)} s (sha256 ${expected.slice(0, 16)}…)`,
      );

      const tracker = spawnDeno({
        name: "tracker",
        entrypoint: TRACKER,
        permissions: ["--allow-net=127.0.0.1", `--allow-write=${logs}`, `--allow-read=${logs}`],
        args: ["--host", "127.0.0.1", "--port", "0", "--log-dir", logs],
        echo: o.echo,
      });
      children.push(tracker);
      const listening = await tracker.waitForLine(
        /listening on (?:udp:\/\/)?(\S+:\d+)/,
        Math.min(left(), 15000),
      );
      const trackerAddr = listening.match[1]!;
      say(`tracker listening on ${trackerAddr}`);

      const peerPerms = (dir: string) => [
        "--allow-net=127.0.0.1",
        `--allow-read=${dir},${WORKER}`,
        `--allow-write=${dir},${logs}`,
        // libc over FFI, as `deno task peer` grants it: larger UDP buffers, the fast path
        `--allow-ffi=${LIBC_PATHS.filter((p) => p.startsWith("/")).join(",")}`,
      ];
      const common = ["--tracker", trackerAddr, "--log-dir", logs, "--host", "127.0.0.1"];
      const seeds = (["a", "b"] as const).map((k) =>
        spawnDeno({
          name: `seed-${k}`,
          entrypoint: PEER,
          permissions: peerPerms(dirs[k]),
          args: [
            "share",
            join(dirs[k], "big.bin"),
            "--id",
            `seed-${k}`,
            "--out",
            dirs[k],
            ...common,
          ],
          echo: o.echo,
        })
      );
      children.push(...seeds);
      const shared = await Promise.all(
        seeds.map((s) => s.waitForLine(/^sharing (\S+) ([0-9a-f]{64})$/, Math.min(left(), 60000))),
      );
      const contentId = shared[0]!.match[2]!;
      if (shared[1]!.match[2] !== contentId) {
        throw new Error(`Cannot run the demo: the seeds disagree on the content id`);
      }
      say(`seed-a and seed-b share big.bin as ${contentId}`);

      const t1 = performance.now();
      let lastProgress = 0;
      const leech = spawnDeno({
        name: "leech",
        entrypoint: PEER,
        permissions: peerPerms(dirs.c),
        args: ["get", "big.bin", "--out", dirs.c, "--id", "leech", "--json", ...common],
        echo: o.echo,
        onLine: (line) => {
          if (line.stream !== "stdout" || !line.text.startsWith("{")) return;
          try {
            const e = JSON.parse(line.text);
            if (e.event === "progress" && performance.now() - lastProgress > 1000) {
              lastProgress = performance.now();
              say(
                `  ${e.percent}%  ${(e.rate / 2 ** 20).toFixed(1)} MiB/s  owners ${
                  e.owners.join(",")
                }`,
              );
            }
          } catch { /* not JSON */ }
        },
      });
      children.push(leech);
      const status = await leech.wait(left());
      const wall = (performance.now() - t1) / 1000;
      const events = leech.output("stdout").split("\n").filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l));
      const done = events.find((e) => e.event === "done");
      if (status.code !== 0 || !done) {
        const err = events.find((e) => e.event === "error");
        say(`download FAILED: exit code ${status.code}: ${err?.message ?? leech.output("stderr")}`);
        return false;
      }
      const actual = await sha256File(done.path);
      const owners = (done.owners as { nodeId: string; bytes: number }[])
        .map((x) => `${x.nodeId} ${(x.bytes / 2 ** 20).toFixed(1)} MiB`).join(", ");
      say(`owners used: ${owners}`);
      say(
        `downloaded ${(done.size / 2 ** 20).toFixed(1)} MiB in ${
          (done.elapsedMs / 1000).toFixed(2)
        }` +
          ` s = ${(done.rate / 2 ** 20).toFixed(1)} MiB/s (process wall time ${
            wall.toFixed(2)
          } s, ` +
          `${done.retransmits} re-requests, ${done.badPieces} bad pieces)`,
      );
      if (actual !== expected) {
        say(`SHA-256 MISMATCH: expected ${expected}, got ${actual}`);
        return false;
      }
      say(`SHA-256 matches: ${actual}`);

      for (const s of seeds) s.kill("SIGTERM");
      const seedStatus = await Promise.all(seeds.map((s) => s.wait(Math.min(left(), 10000))));
      tracker.kill("SIGTERM");
      await tracker.wait(Math.min(left(), 10000));
      const trackerLog = await Deno.readTextFile(join(logs, "tracker.log")).catch(() => "");
      const exits = [...trackerLog.matchAll(/ exit (\S+) \(/g)].map((m) => m[1]);
      say(
        `seeds exited with ${seedStatus.map((s) => s.code).join(", ")}; ` +
          `tracker.log records EXIT from ${exits.join(", ") || "nobody"}`,
      );
      return true;
    })();
    body.catch(() => {}); // settles after an interruption, once the children are closed
    return await Promise.race([body, stopped]);
  } finally {
    await Promise.all(children.map((c) => c.close()));
    if (o.keep) {
      say(`kept ${base}`);
    } else {
      await Deno.remove(base, { recursive: true });
    }
  }
}

if (import.meta.main) {
  let ok = false;
  const stop = new AbortController();
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(sig, () => stop.abort(sig));
  }
  try {
    ok = await demo(parseDemoArgs(Deno.args), stop.signal);
  } catch (e) {
    say(`FAILED: ${e instanceof Error ? e.message : String(e)}`);
  }
  say(ok ? "OK" : "FAILED");
  Deno.exit(ok ? 0 : 1);
}
