/**
 * Honest goodput at an owner under a valid-cookie flood (issue 11, item 6):
 * `deno run -P=test scripts/bench_flood.ts [--size MiB] [--ports N] [--every MS] [--runs N]
 * [--flood-only]`.
 *
 * One owner (in this process) shares a random file; an attacker process (`_flood_attacker.ts`)
 * opens `--ports` sockets on 127.0.0.2, gets each a real address cookie, and has every socket ask
 * for 4 MiB every `--every` ms; an honest `peer.ts get` process on 127.0.0.1 downloads the file
 * from that owner. Cases, alternated `--runs` times: no flood; flood with the owner's fair share
 * on (the default); flood with it off (`fairShare: false`). Prints one JSON line per run and a
 * summary: the honest `get`'s exit code, seconds (process start-up included) and goodput in MB/s.
 * @module
 */
import { join } from "node:path";
import { startTracker } from "../lib/tracker/server.ts";
import { startPeer } from "../lib/peer/peer.ts";

const root = new URL("../", import.meta.url).pathname;
const flag = (name: string, def: number) => {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Number(Deno.args[i + 1]) : def;
};
const sizeMiB = flag("--size", 64);
const ports = flag("--ports", 1000);
const every = flag("--every", 100);
const runs = flag("--runs", 2);
const size = sizeMiB * 1024 * 1024;

const dir = await Deno.makeTempDir({ prefix: "udpswarm-flood-" });
const src = join(dir, "src");
await Deno.mkdir(src);
const chunk = new Uint8Array(1024 * 1024);
{
  const f = await Deno.open(join(src, "flood.bin"), { write: true, create: true });
  for (let i = 0; i < sizeMiB; i++) {
    for (let o = 0; o < chunk.length; o += 65536) {
      crypto.getRandomValues(chunk.subarray(o, o + 65536));
    }
    await f.write(chunk);
  }
  f.close();
}

interface Run {
  case: string;
  exit: number;
  seconds: number;
  goodputMBps: number;
}
const results: Run[] = [];
/** A node id made of a case label. */
const id = (label: string) => label.replace(/[^a-z]+/g, "").slice(-14);
await using tracker = await startTracker({ port: 0, intervalMs: 2000 });
const trackerAddr = `127.0.0.1:${tracker.localAddr.port}`;

async function once(label: string, flood: boolean, fairShare: boolean, r: number): Promise<void> {
  await using owner = await startPeer({
    tracker: trackerAddr,
    nodeId: `owner-${id(label)}-${r}`,
    dir: src,
    cacheDir: join(dir, "cache"),
    fairShare,
  });
  const shared = await owner.share("flood.bin");
  let attacker: Deno.ChildProcess | undefined;
  try {
    if (flood) {
      attacker = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-net",
          `--allow-read=${root}`,
          join(root, "scripts/_flood_attacker.ts"),
          "--owner-port",
          String(owner.address.port),
          "--content",
          shared.contentId,
          "--ports",
          String(ports),
          "--every",
          String(every),
          "--size",
          String(size),
        ],
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      const reader = attacker.stdout.pipeThrough(new TextDecoderStream()).getReader();
      for (let text = ""; !/ready \d+/.test(text);) {
        const { value, done } = await reader.read();
        if (done) throw new Error("the attacker exited");
        text += value;
      }
      reader.releaseLock();
      attacker.stdout.cancel().catch(() => {});
      await new Promise((res) => setTimeout(res, 1000)); // the flood is on
    }
    const out = join(dir, `out-${id(label)}-${r}`);
    await Deno.mkdir(out);
    const started = performance.now();
    const get = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-P=peer",
        `--allow-read=${dir},${root}`,
        `--allow-write=${dir}`,
        join(root, "peer.ts"),
        "get",
        "flood.bin",
        "--out",
        out,
        "--tracker",
        trackerAddr,
        "--id",
        `honest-${id(label)}-${r}`,
        "--log-dir",
        join(dir, "logs"),
        "--json",
      ],
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(120_000),
    }).output();
    const seconds = (performance.now() - started) / 1000;
    const run: Run = {
      case: label,
      exit: get.code,
      seconds: Math.round(seconds * 100) / 100,
      goodputMBps: get.code === 0 ? Math.round(size / 1e6 / seconds * 10) / 10 : 0,
    };
    results.push(run);
    if (get.code !== 0) {
      const log = await Deno.readTextFile(join(dir, "logs", `node-honest-${id(label)}-${r}.log`))
        .catch(() => "");
      console.log(log.split("\n").slice(-12).join("\n"));
    }
    console.log(JSON.stringify(run));
  } finally {
    if (attacker) {
      try {
        attacker.kill("SIGKILL");
      } catch { /* gone */ }
      await attacker.status;
    }
  }
}

try {
  const only = Deno.args.includes("--flood-only");
  for (let r = 0; r < runs; r++) {
    if (!only) await once("no-flood", false, true, r);
    await once("flood, fair share on", true, true, r);
    if (!only) await once("flood, fair share off", true, false, r);
  }
  const by = new Map<string, Run[]>();
  for (const x of results) by.set(x.case, [...(by.get(x.case) ?? []), x]);
  console.log(`\n${sizeMiB} MiB, attacker ${ports} ports × 4 MiB every ${every} ms`);
  for (const [k, xs] of by) {
    console.log(
      `${k.padEnd(24)} exits ${xs.map((x) => x.exit).join("/")}  goodput ${
        xs.map((x) => x.goodputMBps).join(" / ")
      } MB/s  (${xs.map((x) => x.seconds).join(" / ")} s)`,
    );
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
