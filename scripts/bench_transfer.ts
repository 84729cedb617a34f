/**
 * Transfer benchmark: a tracker, owners and a downloader as separate processes on loopback.
 * Prints a table (MB/s, CPU seconds, downloader peak RSS) and writes JSON to bench-results/.
 *
 *   deno run -P=test scripts/bench_transfer.ts [--size-mib 1024] [--owners 1,3] [--mtu 0,1500] [--runs 1]
 *
 * @module
 */
import { benchFlags, mibToBytes, transferFlags } from "./_bench_flags.ts";
import { join } from "node:path";
import {
  cpuSeconds,
  peerRunArgs,
  sha256File,
  spawn,
  startOwner,
  startTracker,
  writeRandomFile,
} from "./_bench_util.ts";

const values = benchFlags(
  "deno run -P=test scripts/bench_transfer.ts [--size-mib 1024] [--owners 1,3] [--mtu 0,1500] [--runs 1] [--keep]",
  {
    ...transferFlags(1),
    owners: { type: "string", default: "1,3" },
    mtu: { type: "string", default: "0,1500" },
    keep: { type: "boolean", default: false },
  },
);
const sizeBytes = mibToBytes(values["size-mib"]);
const ownerCounts = values.owners!.split(",").map(Number);
const mtus = values.mtu!.split(",").map(Number);
const runs = Number(values.runs);
const root = new URL("..", import.meta.url).pathname;

interface Result {
  owners: number;
  mtu: number;
  sizeBytes: number;
  wallSec: number;
  transferSec: number;
  mbPerSec: number;
  downloaderCpuSec: number;
  ownersCpuSec: number;
  downloaderPeakRssMiB: number;
  retransmits: number;
  ok: boolean;
}

const dir = await Deno.makeTempDir({ prefix: "udpswarm-bench-" });
const results: Result[] = [];
try {
  const src = join(dir, "share");
  await Deno.mkdir(src);
  const file = join(src, "bench.bin");
  console.error(`writing ${sizeBytes} random bytes…`);
  const expected = await writeRandomFile(file, sizeBytes);
  const { child: tracker, address: trackerAddr } = await startTracker(root, dir);
  try {
    const owners = [];
    const maxOwners = Math.max(...ownerCounts);
    try {
      for (let i = 0; i < maxOwners; i++) {
        const o = await startOwner({ root, dir, file, tracker: trackerAddr, id: `owner${i}` });
        owners.push(o);
      }
      for (const n of ownerCounts) {
        for (const mtu of mtus) {
          for (let r = 0; r < runs; r++) {
            const out = join(dir, `out-${n}-${mtu}-${r}`);
            await Deno.mkdir(out);
            // Only the first n owners serve this round: the others are paused with SIGSTOP.
            for (let i = 0; i < owners.length; i++) {
              Deno.kill(owners[i]!.child.pid, i < n ? "SIGCONT" : "SIGSTOP");
            }
            const args = [
              ...peerRunArgs(root, dir),
              join(root, "peer.ts"),
              "get",
              "bench.bin",
              "--out",
              out,
              "--tracker",
              trackerAddr,
              "--json",
              "--quiet",
              "--log-dir",
              join(dir, "logs"),
              "--dir",
              out,
              "--id",
              `dl${n}m${mtu}r${r}`,
            ];
            if (mtu > 0) args.push("--mtu", String(mtu));
            const ownerPids = owners.map((o) => o.child.pid);
            const ownersCpuBefore = await cpuSeconds(ownerPids);
            const t0 = performance.now();
            const dl = spawn(Deno.execPath(), args, { cwd: root, timed: true });
            // Bounded: a download that has not finished after 5 minutes is killed (and fails the run)
            const deadline = setTimeout(() => {
              try {
                dl.child.kill("SIGKILL");
              } catch {
                // already gone
              }
            }, 300_000);
            const status = await dl.child.status;
            clearTimeout(deadline);
            const wallSec = (performance.now() - t0) / 1000;
            await dl.io;
            const ownersCpu = (await cpuSeconds(ownerPids)) - ownersCpuBefore;
            const time = dl.time();
            const resultLine = dl.lines.map((l) => {
              try {
                return JSON.parse(l);
              } catch {
                return undefined;
              }
            }).find((j) => j && (j.type === "result" || j.event === "result" || j.path));
            const path = join(out, "bench.bin");
            const ok = status.code === 0 && (await sha256File(path)) === expected;
            if (!ok) {
              console.error(`run failed (exit ${status.code}):\n${dl.lines.slice(-15).join("\n")}`);
            }
            const transferMs = Number(
              resultLine?.elapsedMs ?? resultLine?.result?.elapsedMs ?? wallSec * 1000,
            );
            const res: Result = {
              owners: n,
              mtu,
              sizeBytes,
              wallSec,
              transferSec: transferMs / 1000,
              mbPerSec: sizeBytes / 1e6 / wallSec,
              downloaderCpuSec: time?.cpuSec ?? NaN,
              ownersCpuSec: ownersCpu,
              downloaderPeakRssMiB: time?.rssMiB ?? NaN,
              retransmits: Number(resultLine?.retransmits ?? resultLine?.result?.retransmits ?? -1),
              ok,
            };
            results.push(res);
            console.error(JSON.stringify(res));
            await Deno.remove(out, { recursive: true });
          }
        }
      }
    } finally {
      for (const o of owners) {
        try {
          Deno.kill(o.child.pid, "SIGCONT");
        } catch {
          // gone
        }
        await o.stop();
      }
    }
  } finally {
    await tracker.stop();
  }
} finally {
  if (!values.keep) await Deno.remove(dir, { recursive: true });
}

console.log(
  "owners  mtu    size MiB  wall s  transfer s  MB/s(wall)  dl CPU s  owners CPU s  dl peak RSS MiB  retx  ok",
);
for (const r of results) {
  console.log(
    `${String(r.owners).padEnd(7)} ${String(r.mtu || "probe").padEnd(6)} ${
      (r.sizeBytes / 2 ** 20).toFixed(0).padStart(8)
    }  ${r.wallSec.toFixed(2).padStart(6)}  ${r.transferSec.toFixed(2).padStart(10)}  ${
      r.mbPerSec.toFixed(0).padStart(10)
    }  ${r.downloaderCpuSec.toFixed(2).padStart(8)}  ${r.ownersCpuSec.toFixed(2).padStart(12)}  ${
      r.downloaderPeakRssMiB.toFixed(0).padStart(15)
    }  ${String(r.retransmits).padStart(4)}  ${r.ok}`,
  );
}
await Deno.mkdir(join(root, "bench-results"), { recursive: true });
await Deno.writeTextFile(
  join(root, "bench-results", "transfer.json"),
  JSON.stringify({ date: new Date().toISOString(), results }, null, 2),
);
if (results.some((r) => !r.ok)) Deno.exit(1);
