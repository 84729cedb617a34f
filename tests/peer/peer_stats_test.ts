/**
 * `Peer.stats` (what `peer.ts --metrics` serves) on real loopback sockets: an owner counts the
 * bytes it uploaded, a downloader its transfers and the bytes it received; a second download
 * of a file already at the output path with the same content finishes without a transfer.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startPeer } from "../../lib/peer/peer.ts";
import { TransferError } from "../../lib/peer/transfer_error.ts";
import { randomFile } from "../_harness/processes.ts";
import { withTimeout } from "../_harness/wait.ts";
import { loopbackSwarm } from "../_harness/loopback_swarm.ts";

const SIZE = 600_000;

/** A peer's options in `dir` against the tracker at `tracker`. */
function peerOptions(tracker: string, dir: string, nodeId: string) {
  return { tracker, nodeId, dir, outDir: dir, cacheDir: join(dir, ".cache") };
}

Deno.test("startPeer() stats count uploads, downloads and transfers; same content is already had", async () => {
  await using tmp = await loopbackSwarm("udpswarm-stats-", ["a", "c"]);
  const { address: at, dirs: [a, c] } = tmp;
  await randomFile(join(a, "s.bin"), SIZE, 4);
  const opts = (dir: string, nodeId: string) => peerOptions(at, dir, nodeId);
  await using owner = await startPeer(opts(a, "owner"));
  await owner.share(join(a, "s.bin"));
  await using getter = await startPeer({ ...opts(c, "getter"), shareDownloads: false });

  const first = await withTimeout(getter.download("s.bin").done, 30_000, "download");
  assert.equal(first.alreadyHad, undefined);
  const s = getter.stats!;
  assert.equal(s.transfersStarted, 1);
  assert.equal(s.transfersCompleted, 1);
  assert.equal(s.transfersFailed, 0);
  assert.equal(s.transfersActive, 0);
  assert.ok(s.downloadedBytes >= SIZE, `${s.downloadedBytes}`);
  assert.ok(owner.stats!.uploadedBytes >= SIZE, `${owner.stats!.uploadedBytes}`);

  // Again into the same directory: the file there has this content, so nothing is fetched.
  const again = await withTimeout(getter.download("s.bin").done, 30_000, "again");
  assert.equal(again.alreadyHad, true);
  assert.deepEqual(again.owners, []);
  assert.equal(getter.stats!.downloadedBytes, s.downloadedBytes);

  // Other bytes under that name: refused, the file untouched.
  await Deno.writeFile(join(c, "s.bin"), new Uint8Array(SIZE));
  const refused = await withTimeout(
    getter.download("s.bin").done.then(() => undefined, (e: unknown) => e),
    30_000,
    "refused",
  );
  assert.ok(refused instanceof TransferError && refused.code === "exists", String(refused));
  assert.match(refused.message, /exists with other content/);
  assert.equal(getter.stats!.transfersFailed, 1);
});

Deno.test("startPeer(): a file shared in 256 KiB pieces (the earlier default) is already had", async () => {
  await using tmp = await loopbackSwarm("udpswarm-stats-", ["a", "c"]);
  const { address: at, dirs: [a, c] } = tmp;
  await randomFile(join(a, "old.bin"), SIZE, 5);
  const opts = (dir: string, nodeId: string) => peerOptions(at, dir, nodeId);
  // An older peer: 256 KiB pieces where this one's default for 600 kB is 64 KiB
  await using owner = await startPeer({ ...opts(a, "owner"), pieceSize: 256 * 1024 });
  await owner.share(join(a, "old.bin"));
  await using getter = await startPeer({ ...opts(c, "getter"), shareDownloads: false });
  const first = await withTimeout(getter.download("old.bin").done, 30_000, "download");
  assert.equal(first.alreadyHad, undefined);
  const again = await withTimeout(getter.download("old.bin").done, 30_000, "again");
  assert.equal(again.alreadyHad, true);
  assert.deepEqual(again.owners, []);
});
