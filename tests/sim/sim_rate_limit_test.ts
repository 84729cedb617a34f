/**
 * The rate caps on the simulated network (virtual clock, real cores): `--max-upload` paces an
 * owner's blocks and `--max-download` holds the requests of a peer's downloads, each to within
 * 10 % of the cap over a run of seconds, with the exact bytes; downloads under one cap share it
 * equally, and requesters under one upload cap too.
 * @module
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { SimNetwork } from "../../lib/sim/sim_network.ts";
import { SimTracker } from "../../lib/sim/sim_tracker.ts";
import {
  type SimContent,
  simContent,
  SimPeer,
  type SimPeerOptions,
} from "../../lib/sim/sim_peer.ts";
import type { SimDownload } from "../../lib/sim/sim_download.ts";
import { Prng } from "../../lib/sim/prng.ts";

const MiB = 1024 * 1024;
const TRACKER = { hostname: "10.0.0.1", port: 6969 };
const none = { permissions: "none" } as const;

/** A tracker and peers on 10.0.1.n over 2 ms links of 100 MB/s. */
function world(seed: number) {
  const net = new SimNetwork({ seed, link: { latencyMs: 2 } });
  net.addHost(TRACKER.hostname);
  const tracker = new SimTracker(net, TRACKER, { intervalMs: 2000 });
  const peers: SimPeer[] = [];
  const peer = (n: number, options: Partial<SimPeerOptions> = {}) => {
    const hostname = `10.0.1.${n}`;
    net.addHost(hostname, { upload: 100_000 });
    const p = new SimPeer(net, {
      nodeId: `p${n}`,
      addr: { hostname, port: 7000 },
      tracker: TRACKER,
      ...options,
    });
    peers.push(p);
    return p;
  };
  const settle = (files: number) => {
    const r = tracker.core;
    assert.ok(
      net.run(() => r.peerCount === peers.length && r.fileCount === files, {
        maxMs: net.now + 5000,
      }),
    );
  };
  const finish = (downloads: SimDownload[]) =>
    assert.ok(
      net.run(() => downloads.every((d) => d.finishedAt !== undefined), {
        maxMs: net.now + 600_000,
      }),
    );
  return { net, peer, settle, finish };
}

function content(name: string, size: number, seed: number): SimContent {
  const bytes = new Uint8Array(size);
  new Prng(seed).fill(bytes);
  return simContent(name, bytes);
}

function assertExact(d: SimDownload, c: SimContent): void {
  assert.equal(d.error, undefined);
  assert.equal(d.mismatchedPieces, 0);
  assert.ok(Buffer.compare(d.file!, c.bytes) === 0, "the exact bytes");
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
