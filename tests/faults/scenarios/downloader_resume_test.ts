/**
 * Scenario: `peer.ts get` is killed with SIGKILL midway and started again. The second run resumes
 * from the pieces the first one verified and saved, and downloads only the rest: the bytes are
 * counted from its `--json` result (resumedBytes, receivedBytes).
 *
 * The first run does not race the transfer: its tracker traffic goes through a relay that maps
 * owner addresses onto a pool of relays, each pausing after 8 MiB, so it is killed while its
 * transfer is held at a quarter of the file at most, whatever the machine's speed.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sha256File } from "../../_harness/processes.ts";

import { relayedSwarm } from "../../_harness/relay_pool.ts";
import { waitUntil, withTimeout } from "../../_harness/wait.ts";
import { jsonEvents, MiB, report, spawnGet, startScenario } from "./_scenario.ts";

const SIZE = 64 * MiB;
/** Each owner's relay pauses after this much in the first run: 2 × 8 of 64 MiB at most. */
const BUDGET = 8 * MiB;

/** Pieces a `.part.state` file lists as verified, or undefined if it is missing or partial. */
function statePieces(path: string): { verified: number; count: number } | undefined {
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(path);
  } catch {
    return undefined;
  }
  if (bytes.length < 52) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint32(48);
  const bits = bytes.subarray(52, 52 + Math.ceil(count / 8));
  if (bytes.length !== 52 + bits.length + 32) return undefined;
  let verified = 0;
  for (const b of bits) for (let x = b; x; x &= x - 1) verified++;
  return { verified, count };
}

function findState(dir: string): string | undefined {
  for (const e of Deno.readDirSync(dir)) {
    if (e.isFile && e.name.endsWith(".part.state")) return join(dir, e.name);
  }
  return undefined;
}

Deno.test("peer.ts get killed with SIGKILL resumes from its verified pieces without downloading them again", async () => {
  await using s = await startScenario({
    prefix: "udpswarm-resume-",
    dirs: ["src", "out"],
    file: { in: "src", name: "resume.bin", size: SIZE, seed: 77 },
    owners: ["owner-a", "owner-b"],
  });
  const { dir, file, tracker, address: trackerAddr } = s;
  const out = dir.sub.out;
  // Run 1: reaches the owners through relays that pause after BUDGET each; killed while held.
  let atKill: { verified: number; count: number } | undefined;
  {
    await using relays = relayedSwarm({ tracker: tracker.localAddr, seed: 77, pauseAfter: BUDGET });
    const { pool } = relays;
    await using first = spawnGet({
      dir: dir.path,
      out,
      tracker: relays.tracker,
      id: "downloader-1",
      query: file.name,
      args: ["--mtu", "1500"],
    });
    await withTimeout(relays.held, 60_000, "an owner's relay to reach its budget");
    pool.pause(); // the whole transfer holds still from here on
    await waitUntil(
      () => {
        const state = findState(out);
        atKill = state ? statePieces(state) : undefined;
        return (atKill?.verified ?? 0) > 0;
      },
      30_000,
      "the first run to save verified pieces",
      { intervalMs: 20 },
    );
    first.kill("SIGKILL");
    const status = await first.wait(10_000);
    assert.equal(status.signal, "SIGKILL", `the first run was killed midway: ${first.output()}`);
    assert.ok(
      !jsonEvents(first).some((e) => e.event === "done"),
      "the first run did not finish",
    );
  }
  const state = findState(out)!;
  const saved = statePieces(state)!;
  assert.ok(saved.verified > 0 && saved.verified < saved.count, JSON.stringify(saved));
  assert.ok(
    [...Deno.readDirSync(out)].some((e) => e.name.endsWith(".part")),
    "the .part is kept",
  );
  await assert.rejects(Deno.stat(join(out, file.name)), Deno.errors.NotFound);

  // Run 2: same output directory, default MTU. A new node id: the killed run never sent EXIT, so
  // the tracker keeps its id bound to the old address until it expires (T × 1.5), and a restart
  // with the same --id within that time is refused with exit code 9.
  await using second = spawnGet({
    dir: dir.path,
    out,
    tracker: trackerAddr,
    id: "downloader-2",
    query: file.name,
  });
  const status = await second.wait(60_000);
  assert.equal(status.code, 0, second.output());
  const done = jsonEvents(second).find((e) => e.event === "done");
  assert.ok(done, second.output());
  assert.equal(done.path, join(out, file.name));
  assert.equal(await sha256File(join(out, file.name)), file.sha256, "the bytes are exact");
  const pieceSize = SIZE / saved.count;
  const resumed = done.resumedBytes as number;
  const received = done.receivedBytes as number;
  assert.equal(resumed, saved.verified * pieceSize, "every saved piece was resumed");
  const rest = SIZE - resumed;
  assert.ok(received >= rest, `received ${received} >= the ${rest} missing bytes`);
  // Retransmitted and duplicate blocks are allowed; whole resumed pieces again are not.
  assert.ok(received <= rest * 1.1, `received ${received} is about ${rest}`);
  const log = Deno.readTextFileSync(join(dir.path, "logs", "node-downloader-2.log"));
  assert.match(log, /resuming resume\.bin: \d+ bytes already verified/);
  report("downloader_resume", {
    sizeMiB: SIZE / MiB,
    piecesSavedAtKill: `${atKill!.verified}/${atKill!.count}`,
    piecesInStateAfterKill: saved.verified,
    resumedBytes: resumed,
    receivedBytes: received,
    missingBytes: rest,
    reDownloadedBytes: received - rest,
    retransmits: done.retransmits,
    secondRunMs: done.elapsedMs,
  });
});
