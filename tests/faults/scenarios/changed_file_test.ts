/**
 * Scenario: an owner's copy of a file is overwritten in place (same size) after it was shared, so
 * it serves bytes that do not match the manifest. The downloader detects the bad pieces, drops
 * that owner and still ends with the exact bytes from the honest one; with no honest owner left,
 * the download fails with a clear error and keeps its verified pieces.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Peer } from "../../../lib/peer/api.ts";
import { TransferError } from "../../../lib/peer/transfer_error.ts";
import { sha256File } from "../../_harness/processes.ts";
import { withTimeout } from "../../_harness/wait.ts";
import { MiB, report, startLoggedPeer, startScenario } from "./_scenario.ts";

const SIZE = 32 * MiB;
/** Overwrite 4 KiB at the start of every MiB: 32 of the 512 pieces of 64 KiB go bad. */
const STRIDE = 1 * MiB;

async function corruptInPlace(path: string): Promise<number> {
  using f = await Deno.open(path, { read: true, write: true });
  const junk = new Uint8Array(4096).fill(0xa5);
  let n = 0;
  for (let off = 0; off < SIZE; off += STRIDE) {
    await f.seek(off, Deno.SeekMode.Start);
    await f.write(junk);
    n++;
  }
  return n;
}

Deno.test("a download ends with the exact bytes when one owner's file was changed on disk after sharing", async (t) => {
  await using s = await startScenario({
    prefix: "udpswarm-changed-",
    dirs: ["honest", "changed"],
    file: { in: "honest", name: "changed.bin", size: SIZE, seed: 5 },
  });
  const { dir, file, address: trackerAddr } = s;
  const { honest: honestDir, changed: changedDir } = dir.sub;
  await Deno.copyFile(file.path, join(changedDir, file.name));
  const peers: Peer[] = [];
  try {
    const { peer: honest } = await startLoggedPeer({
      tracker: trackerAddr,
      nodeId: "honest",
      dir: honestDir,
    });
    peers.push(honest);
    const { peer: changed } = await startLoggedPeer({
      tracker: trackerAddr,
      nodeId: "changed",
      dir: changedDir,
    });
    peers.push(changed);
    const a = await honest.share(file.name);
    const b = await changed.share(file.name);
    assert.equal(a.contentId, b.contentId, "both announced the same content");
    const overwritten = await corruptInPlace(join(changedDir, file.name));
    assert.equal((await Deno.stat(join(changedDir, file.name))).size, SIZE, "same size");

    await t.step("bad pieces are detected, the owner is dropped, the file is exact", async () => {
      const out = join(dir.path, "out-1");
      await Deno.mkdir(out);
      const { peer, log } = await startLoggedPeer({
        tracker: trackerAddr,
        nodeId: "downloader-1",
        dir: out,
        shareDownloads: false,
      });
      try {
        const result = await withTimeout(peer.download(file.name).done, 60_000, "download");
        assert.equal(await sha256File(result.path), file.sha256, "the bytes are exact");
        assert.ok(result.badPieces > 0, "bad pieces were detected");
        const dropped = log.find((l) => /dropped owner changed: .*failed verification/.test(l));
        assert.ok(dropped, `the changed owner was dropped:\n${log.join("\n")}`);
        const byOwner = Object.fromEntries(result.owners.map((o) => [o.nodeId, o.bytes]));
        report("changed_file", {
          sizeMiB: SIZE / MiB,
          piecesOverwritten: overwritten,
          badPieces: result.badPieces,
          verifiedBytesByOwner: byOwner,
          dropped,
          receivedBytes: result.receivedBytes,
          ms: Math.round(result.elapsedMs),
        });
      } finally {
        await peer.close();
      }
    });

    await t.step("with only the changed owner left, a clear error and the .part kept", async () => {
      await honest.close();
      const out = join(dir.path, "out-2");
      await Deno.mkdir(out);
      const { peer } = await startLoggedPeer({
        tracker: trackerAddr,
        nodeId: "downloader-2",
        dir: out,
        shareDownloads: false,
      });
      try {
        const e = await withTimeout(
          peer.download(file.name).done.then(() => undefined, (e) => e),
          60_000,
          "the download to fail",
        );
        assert.ok(e instanceof TransferError, String(e));
        assert.equal(e.code, "all_owners_failed");
        assert.match(e.message, /every owner failed or left; \d+\/512 pieces are kept/);
        const names = [...Deno.readDirSync(out)].map((x) => x.name);
        assert.ok(names.some((n) => n.endsWith(".part")), `the .part is kept: ${names}`);
        assert.ok(!names.includes(file.name), "nothing under the final name");
        report("changed_file", { onlyChangedOwnerLeft: e.message });
      } finally {
        await peer.close();
      }
    });
  } finally {
    for (const p of peers) await p.close();
  }
});
