/**
 * Rate-cap benchmark: a tracker, an owner and a downloader as separate processes on loopback.
 * Case "download": `peer.ts get --max-download RATE` from an uncapped owner; case "upload": an
 * owner started with `--max-upload RATE`, an uncapped `get`. Prints the achieved rate against
 * the cap (the transfer's own elapsed time, from its `--json` result) and whether it is within
 * 10 % of it, and writes JSON to bench-results/.
 *
 *   deno run -P=test scripts/bench_rate_limit.ts [--size-mib 256] [--rate 20M] [--runs 1]
 *
 * @module
 */
import { join } from "node:path";
import {
  downloadArgs,
  peerRunArgs,
  sha256File,
  spawn,
  startTracker,
  writeRandomFile,
} from "./_bench_util.ts";
import { benchFlags, mibToBytes } from "./_bench_flags.ts";
import { parseRate } from "../lib/cli/rate_flag.ts";

const values = benchFlags(
  "deno run -P=test scripts/bench_rate_limit.ts [--size-mib 256] [--rate 20M] [--runs 1]",
  {
    "size-mib": { type: "string", default: "256" },
    rate: { type: "string", default: "20M" },
    runs: { type: "string", default: "1" },
  },
);
const MiB = 1024 * 1024;
const sizeBytes = mibToBytes(values["size-mib"]);
const cap = parseRate(values.rate!);
const runs = Number(values.runs);
const root = new URL("..", import.meta.url).pathname;

interface Result {
  case: "download" | "upload";
  capMiBs: number;
  sizeMiB: number;
  transferSec: number;
  wallSec: number;
  achievedMiBs: number;
  ratio: number;
  within10pct: boolean;
  retransmits: number;
  ok: boolean;
}

const dir = await Deno.makeTempDir({ prefix: "udpswarm-bench-rate-" });
const logs = join(dir, "logs");
const peerArgs = (...args: string[]) => [
  ...peerRunArgs(root, dir),
  join(root, "peer.ts"),
  ...args,
  "--log-dir",
  logs,
];
const results: Result[] = [];
try {
  const file = join(dir, "bench.bin");
  console.error(`writing ${sizeBytes} random bytes…`);
  const expected = await writeRandomFile(file, sizeBytes);
  const { child: tracker, address: trackerAddr } = await startTracker(root, dir, logs);
  try {
    for (let r = 0; r < runs; r++) {
      for (const which of ["download", "upload"] as const) {
        const ownerCap = which === "upload" ? ["--max-upload", values.rate!] : [];
        const owner = spawn(
          Deno.execPath(),
          peerArgs("share", file, "--tracker", trackerAddr, "--id", `o${which}${r}`, ...ownerCap),
          { cwd: root },
        );
        try {
          await owner.waitFor(/^sharing /, 120_000);
          const out = join(dir, `out-${which}-${r}`);
          await Deno.mkdir(out);
          const dlCap = which === "download" ? ["--max-download", values.rate!] : [];
          const t0 = performance.now();
          const dl = spawn(
            Deno.execPath(),
            peerArgs(...downloadArgs("bench.bin", out, trackerAddr, `d${which}${r}`), ...dlCap),
            { cwd: root },
          );
          // Bounded: 3 times the time the cap needs, plus a minute
          const killAt = setTimeout(() => {
            try {
              dl.child.kill("SIGKILL");
            } catch {
              // gone
            }
          }, (3000 * sizeBytes) / cap + 60_000);
          const status = await dl.child.status;
          clearTimeout(killAt);
          const wallSec = (performance.now() - t0) / 1000;
          await dl.io;
          const result = dl.lines.map((l) => {
            try {
              return JSON.parse(l);
            } catch {
              return undefined;
            }
          }).find((j) => j && typeof j.elapsedMs === "number");
          const ok = status.code === 0 &&
            (await sha256File(join(out, "bench.bin")).catch(() => "")) === expected;
          if (!ok) {
            console.error(`run failed (exit ${status.code}):\n${dl.lines.slice(-15).join("\n")}`);
          }
          const transferSec = Number(result?.elapsedMs ?? wallSec * 1000) / 1000;
          const achieved = sizeBytes / transferSec;
          const res: Result = {
            case: which,
            capMiBs: cap / MiB,
            sizeMiB: sizeBytes / MiB,
            transferSec,
            wallSec,
            achievedMiBs: achieved / MiB,
            ratio: achieved / cap,
            within10pct: Math.abs(achieved - cap) <= 0.1 * cap,
            retransmits: Number(result?.retransmits ?? -1),
            ok,
          };
          results.push(res);
          console.error(JSON.stringify(res));
          await Deno.remove(out, { recursive: true });
        } finally {
          await owner.stop();
        }
      }
    }
  } finally {
    await tracker.stop();
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}

console.log(
  "case      cap MiB/s  size MiB  transfer s  achieved MiB/s  ratio  retx  within 10 %  ok",
);
for (const r of results) {
  console.log(
    `${r.case.padEnd(9)} ${r.capMiBs.toFixed(1).padStart(9)}  ${
      r.sizeMiB.toFixed(0).padStart(8)
    }  ${r.transferSec.toFixed(2).padStart(10)}  ${r.achievedMiBs.toFixed(2).padStart(14)}  ${
      r.ratio.toFixed(3)
    }  ${String(r.retransmits).padStart(4)}  ${(r.within10pct ? "yes" : "NO").padEnd(11)}  ${r.ok}`,
  );
}
await Deno.mkdir(join(root, "bench-results"), { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, "-");
await Deno.writeTextFile(
  join(root, "bench-results", `rate-limit-${stamp}.json`),
  JSON.stringify(results, null, 2),
);
if (!results.every((r) => r.ok && r.within10pct)) Deno.exitCode = 1;
