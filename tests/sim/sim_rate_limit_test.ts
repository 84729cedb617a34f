/**
 * The rate caps on the simulated network (virtual clock, real cores): `--max-upload` paces an
 * owner's blocks and `--max-download` holds the requests of a peer's downloads, each to within
 * 10 % of the cap over a run of seconds, with the exact bytes; downloads under one cap share it
 * equally, and requesters under one upload cap too.
 * @module
 */
import assert from "node:assert/strict";
import type { SimContent, SimPeer, SimPeerOptions } from "../../lib/sim/sim_peer.ts";
import type { SimDownload } from "../../lib/sim/sim_download.ts";
import { assertExact, MiB, none, randomContent as content, SimWorld } from "./_world.ts";

/** The shared world with every host's upload at 100 MB/s. */
function world(seed: number) {
  const w = new SimWorld(seed);
  const peer = (n: number, options: Partial<SimPeerOptions> = {}) => w.peer(n, 100_000, options);
  return {
    net: w.net,
    peer,
    settle: (files: number) => w.settle(files),
    finish: (d: SimDownload[]) => w.finish(d),
  };
}

/** Bytes/s of a download started at `start`. */
function rate(d: SimDownload, size: number, start: number): number {
  return (size * 1000) / (d.finishedAt! - start);
}

function assertNear(actual: number, cap: number, what: string): void {
  assert.ok(
    Math.abs(actual - cap) <= cap * 0.1,
    `${what}: ${(actual / MiB).toFixed(2)} MiB/s, cap ${(cap / MiB).toFixed(2)} MiB/s`,
  );
}

Deno.test(
  "SimPeer maxUploadRate: an owner capped at 2 MiB/s uploads at 2 MiB/s ± 10 %",
  none,
  () => {
    const w = world(1);
    const c = content("up.bin", 16 * MiB, 1);
    const owner = w.peer(1, { maxUploadRate: 2 * MiB });
    owner.share(c);
    const getter = w.peer(2);
    w.settle(1);
    const start = w.net.now;
    const d = getter.download("up.bin");
    w.finish([d]);
    assertExact(d, c);
    assertNear(rate(d, c.bytes.byteLength, start), 2 * MiB, "upload");
    assert.equal(d.result?.retransmits, 0, "the cap paces: nothing is lost");
    assert.equal(owner.rules.stats.errors.busy, 0, "the cap paces: no ERROR busy");
  },
);

Deno.test(
  "SimPeer maxDownloadRate: a download capped at 2 MiB/s runs at 2 MiB/s ± 10 %",
  none,
  () => {
    const w = world(2);
    const c = content("down.bin", 16 * MiB, 2);
    w.peer(1).share(c);
    w.peer(2).share(c);
    const getter = w.peer(3, { maxDownloadRate: 2 * MiB });
    w.settle(1);
    const start = w.net.now;
    const d = getter.download("down.bin");
    w.finish([d]);
    assertExact(d, c);
    assertNear(rate(d, c.bytes.byteLength, start), 2 * MiB, "download");
  },
);

/**
 * Runs two downloads started together to the end: each must be exact and at half of a 2 MiB/s
 * cap (both end together, at 16 MiB / 2 MiB/s).
 */
function halfEach(w: ReturnType<typeof world>, runs: [SimPeer, SimContent][]): void {
  const start = w.net.now;
  const downloads = runs.map(([peer, c]) => peer.download(c.name));
  w.finish(downloads);
  downloads.forEach((d, i) => {
    assertExact(d, runs[i]![1]);
    assertNear(rate(d, 8 * MiB, start), MiB, `download ${i + 1}`);
  });
}

Deno.test("SimPeer maxDownloadRate: two downloads share the cap about equally", none, () => {
  const w = world(3);
  const a = content("a.bin", 8 * MiB, 3);
  const b = content("b.bin", 8 * MiB, 4);
  w.peer(1).share(a);
  w.peer(2).share(b);
  const getter = w.peer(3, { maxDownloadRate: 2 * MiB });
  w.settle(2);
  halfEach(w, [[getter, a], [getter, b]]);
});

Deno.test("SimPeer maxUploadRate: two downloaders share an owner's cap about equally", none, () => {
  const w = world(4);
  const c = content("shared.bin", 8 * MiB, 5);
  const owner = w.peer(1, { maxUploadRate: 2 * MiB });
  owner.share(c);
  const g1 = w.peer(2, { shareDownloads: false });
  const g2 = w.peer(3, { shareDownloads: false });
  w.settle(1);
  halfEach(w, [[g1, c], [g2, c]]);
  assert.equal(owner.rules.stats.errors.busy, 0, "the cap paces: no ERROR busy");
});
