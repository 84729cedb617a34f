/**
 * Scenario: `peer.ts get` is killed with SIGKILL midway and started again. The second run resumes
 * from the pieces the first one verified and saved, and downloads only the rest: the bytes are
 * counted from its `--json` result (resumedBytes, receivedBytes).
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startTracker } from "../../../lib/tracker/server.ts";
import type { Peer } from "../../../lib/peer/api.ts";
import { sha256File, spawnDeno, tempDir } from "../../_harness/processes.ts";
import { waitUntil } from "../../_harness/wait.ts";
import {
  getArgs,
  jsonEvents,
  makeFile,
  MiB,
  PEER_TS,
  peerPermissions,
  report,
  startLoggedPeer,
} from "./_scenario.ts";

const SIZE = 64 * MiB;

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
  await using dir = await tempDir("udpswarm-resume-");
  const src = join(dir.path, "src");
  const out = join(dir.path, "out");
  await Deno.mkdir(src);
  await Deno.mkdir(out);
  const file = await makeFile(src, "resume.bin", SIZE, 77);
  await using tracker = await startTracker({ port: 0, intervalMs: 2000 });
  const trackerAddr = `127.0.0.1:${tracker.localAddr.port}`;
  const owners: Peer[] = [];
  try {
    for (const id of ["owner-a", "owner-b"]) {
      const { peer } = await startLoggedPeer({
        tracker: trackerAddr,
        nodeId: id,
        dir: src,
        cacheDir: join(dir.path, `cache-${id}`),
      });
      owners.push(peer);
      await peer.share(file.name);
    }

    // Run 1: 1452-byte datagrams (slower), killed once its state file lists >= 15 % of the pieces.
    let atKill: { verified: number; count: number } | undefined;
    {
      await using first = spawnDeno({
        entrypoint: PEER_TS,
        name: "get-1",
        permissions: peerPermissions(dir.path),
        args: getArgs({
          dir: dir.path,
          out,
          tracker: trackerAddr,
          id: "downloader-1",
          query: file.name,
          args: ["--mtu", "1500"],
        }),
      });
      await waitUntil(
        () => {
          if (first.exitStatus) return true;
          const state = findState(out);
          const s = state ? statePieces(state) : undefined;
          if (s && s.verified >= s.count * 0.15) {
            first.kill("SIGKILL");
            atKill = s;
            return true;
          }
          return false;
        },
        60_000,
        "the first run to save 15 % of the pieces",
        { intervalMs: 5 },
      );
      const status = await first.wait(10_000);
      assert.ok(atKill, `the first run was killed midway, not ${JSON.stringify(status)}`);
      assert.equal(status.signal, "SIGKILL");
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
    await using second = spawnDeno({
      entrypoint: PEER_TS,
      name: "get-2",
      permissions: peerPermissions(dir.path),
      args: getArgs({
        dir: dir.path,
        out,
        tracker: trackerAddr,
        id: "downloader-2",
        query: file.name,
      }),
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
  } finally {
    for (const o of owners) await o.close();
  }
});
