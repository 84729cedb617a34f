/**
 * Scenario: a download from 3 owners through lossy relays (one per owner, faults both ways),
 * ending with the exact bytes. Measures goodput at each loss rate; at 20 % loss the bytes asked
 * for again and the duplicates received stay within stated bounds.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startTracker } from "../../../lib/tracker/server.ts";
import type { Peer } from "../../../lib/peer/api.ts";
import { sha256File } from "../../_harness/processes.ts";
import { RelayPool, type RelayPoolOptions } from "../../_harness/relay_pool.ts";
import { withTimeout } from "../../_harness/wait.ts";
import {
  makeFile,
  mbps,
  MiB,
  report,
  scenarioDir,
  startLoggedPeer,
  startOwners,
  trackerAddress,
} from "./_scenario.ts";

interface Case {
  label: string;
  size: number;
  rates: Omit<RelayPoolOptions, "seed">;
  /** The downloader's --mtu; 0 probes (64 KiB datagrams on loopback). */
  mtu?: number;
  /**
   * Most bytes re-requested, as a share of the file: at loss p each way a block (or its request)
   * is lost with q = 1 − (1 − p)², and a file needs q / (1 − q) of itself again on average.
   */
  maxResent?: number;
  /** Most bytes received beyond the file (duplicates), as a share of it. */
  maxOverhead?: number;
}

const CASES: Case[] = [
  { label: "no faults (relays only)", size: 64 * MiB, rates: {} },
  {
    label: "5 % loss both ways + 2 % reordering + 1 % duplication",
    size: 64 * MiB,
    rates: { loss: 0.05, reorder: 0.02, reorderDepth: 4, duplicate: 0.01 },
  },
  {
    label: "5 % loss both ways + 2 % reordering + 1 % duplication, 1452-byte datagrams (mtu 1500)",
    size: 16 * MiB,
    rates: { loss: 0.05, reorder: 0.02, reorderDepth: 4, duplicate: 0.01 },
    mtu: 1500,
  },
  {
    label: "20 % loss both ways + 2 % reordering + 1 % duplication",
    size: 16 * MiB,
    rates: { loss: 0.2, reorder: 0.02, reorderDepth: 4, duplicate: 0.01 },
    // q = 36 %: at least 0.56 of the file (more, as a lost request may ask for several blocks;
    // 0.70-0.84 measured); a timer-driven engine that re-asks whole windows goes well past 1
    maxResent: 1,
    maxOverhead: 0.15,
  },
];

Deno.test("download from 3 owners through lossy, reordering, duplicating relays ends with the exact bytes", async (t) => {
  await using dir = await scenarioDir("udpswarm-lossy-", ["src"]);
  await using tracker = await startTracker({ port: 0, intervalMs: 5000 });
  const trackerAddr = trackerAddress(tracker);
  const files = await Promise.all(
    [...new Set(CASES.map((c) => c.size))].map((size) =>
      makeFile(dir.sub.src, `lossy-${size / MiB}m.bin`, size, size / MiB)
    ),
  );
  const owners: Peer[] = await startOwners({
    dir: dir.sub.src,
    tracker: trackerAddr,
    ids: ["owner-0", "owner-1", "owner-2"],
    files: files.map((f) => f.name),
    cacheRoot: dir.path,
  });
  try {
    for (const [n, c] of CASES.entries()) {
      await t.step(`${c.label}, ${c.size / MiB} MiB`, async () => {
        const file = files.find((f) => f.size === c.size)!;
        const out = join(dir.path, `out-${n}`);
        await Deno.mkdir(out);
        await using pool = new RelayPool({ seed: 700 + n, ...c.rates });
        const { peer, log } = await startLoggedPeer({
          tracker: trackerAddr,
          nodeId: `downloader-${n}`,
          dir: out,
          shareDownloads: false,
          mtu: c.mtu ?? 0,
          mapOwnerAddress: pool.map,
        });
        try {
          const started = performance.now();
          const result = await withTimeout(
            peer.download(file.name).done,
            90_000,
            `download of ${file.name} with ${c.label}`,
          );
          const ms = performance.now() - started;
          assert.equal(await sha256File(result.path), file.sha256, "the bytes are exact");
          assert.equal(result.size, file.size);
          assert.equal(result.owners.length, 3, `all 3 owners delivered: ${log.join("\n")}`);
          const resent = result.retransmittedBytes ?? 0;
          if (c.maxResent !== undefined) {
            assert.ok(
              resent <= c.maxResent * file.size,
              `re-requested ${resent} bytes, ${(resent / file.size).toFixed(2)} of the file`,
            );
          }
          if (c.maxOverhead !== undefined) {
            assert.ok(
              result.receivedBytes <= (1 + c.maxOverhead) * file.size,
              `received ${result.receivedBytes} bytes for ${file.size}`,
            );
          }
          const s = pool.totals();
          if ((c.rates.loss ?? 0) > 0) {
            for (const d of [s.toTarget, s.fromTarget]) {
              assert.ok(d.dropped > 0 && d.duplicated > 0 && d.reordered > 0, JSON.stringify(d));
            }
          }
          report("lossy_transfer", {
            case: c.label,
            mtu: c.mtu ?? 0,
            sizeMiB: c.size / MiB,
            ms: Math.round(ms),
            goodputMBps: mbps(file.size, ms),
            receivedBytes: result.receivedBytes,
            overheadPct: Math.round((result.receivedBytes / file.size - 1) * 1000) / 10,
            retransmits: result.retransmits,
            resentPct: Math.round(resent / file.size * 1000) / 10,
            datagramsToOwners: s.toTarget.received,
            datagramsFromOwners: s.fromTarget.received,
            droppedToOwners: s.toTarget.dropped,
            droppedFromOwners: s.fromTarget.dropped,
            duplicated: s.toTarget.duplicated + s.fromTarget.duplicated,
            reordered: s.toTarget.reordered + s.fromTarget.reordered,
          });
        } finally {
          await peer.close();
        }
      });
    }
  } finally {
    for (const o of owners) await o.close();
  }
});
