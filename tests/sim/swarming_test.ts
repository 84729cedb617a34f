/**
 * Swarming on the simulated network (real tracker, uploader and download cores, virtual clock):
 * downloaders serve their verified pieces at once, so one seed feeds many peers near the
 * Kumar–Ross bound. Every figure is deterministic for a seed; the bounds below are on virtual
 * time, never wall time.
 * @module
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { SimNetwork } from "../../lib/sim/sim_network.ts";
import { SimTracker } from "../../lib/sim/sim_tracker.ts";
import { SimPeer, type SimPeerOptions } from "../../lib/sim/sim_peer.ts";
import type { SimDownload } from "../../lib/sim/sim_download.ts";
import { runSwarm, swarmFile } from "../../lib/sim/swarm_scenario.ts";

const MiB = 1024 * 1024;
const none = { permissions: "none" } as const;
const TRACKER = { hostname: "10.0.0.1", port: 6969 };

Deno.test(
  "swarm: 1 seed and 8 downloaders of 64 MiB finish within 1.5× the Kumar–Ross bound",
  none,
  () => {
    // 40 Mbit/s uploads everywhere, downloads unlimited
    const r = runSwarm({ peers: 8, size: 64 * MiB, seedUpload: 5000 });
    assert.ok(r.exact, "every download has the exact bytes, every piece verified");
    assert.equal(r.failed, 0);
    assert.ok(r.ratio <= 1.5, `all done at ${r.allDoneMs} ms, ${r.ratio.toFixed(2)}× the bound`);
    assert.ok(
      r.seedBytesPerFile <= 1.3,
      `the seed sent ${r.seedBytesPerFile.toFixed(2)}× the file`,
    );
    assert.ok(
      r.peerBytesPerFile >= 6,
      `the downloaders uploaded ${r.peerBytesPerFile.toFixed(2)}×`,
    );
    assert.ok(r.seedBusyAfterMs <= 300, `the seed's link was busy after ${r.seedBusyAfterMs} ms`);
  },
);

Deno.test(
  "swarm: the timeline sees each downloader's verified pieces; the seed's trace covers the file",
  none,
  () => {
    const size = 4 * MiB;
    const seen: { atMs: number; counts: number[] }[] = [];
    let seedBytes = 0;
    const r = runSwarm({
      peers: 4,
      size,
      seedUpload: 5000,
      sampleMs: 100,
      onSample: (atMs, have) =>
        seen.push({ atMs, counts: have.map((h) => h?.reduce((a, b) => a + b, 0) ?? 0) }),
      onSeedUpload: (_offset, length, _to, _now, dropped) => {
        if (!dropped) seedBytes += length;
      },
    });
    assert.ok(r.exact);
    assert.equal(seen.length, r.samples.length, "one call per timeline sample");
    for (let i = 1; i < seen.length; i++) {
      assert.ok(seen[i]!.atMs > seen[i - 1]!.atMs);
      seen[i]!.counts.forEach((c, j) =>
        assert.ok(c >= seen[i - 1]!.counts[j]!, "pieces only grow")
      );
    }
    assert.ok(seen.at(-1)!.counts.some((c) => c > 0));
    // The seed is the only source: every byte of the file left it at least once
    assert.ok(seedBytes >= size, `the seed sent ${seedBytes} bytes of file data`);
  },
);

Deno.test("swarm: downloaders joining one after another all finish exact", none, () => {
  const r = runSwarm({ peers: 8, size: 16 * MiB, seedUpload: 5000, joinEveryMs: 500 });
  assert.ok(r.exact);
  // Without swarming the seed alone would need 8 × F / u_seed = 26.8 s
  assert.ok(r.allDoneMs < 13_000, `all done at ${r.allDoneMs} ms`);
  assert.ok(r.seedBytesPerFile < 3, `the seed sent ${r.seedBytesPerFile.toFixed(2)}× the file`);
});

Deno.test(
  "swarm: with shareDownloads off the downloaders upload nothing and the seed sends it all",
  none,
  () => {
    const r = runSwarm({ peers: 4, size: 4 * MiB, seedUpload: 5000, shareDownloads: false });
    assert.ok(r.exact);
    assert.equal(r.peerDataBytes, 0, "no file byte left a downloader");
    assert.ok(r.seedBytesPerFile >= 4, `the seed sent ${r.seedBytesPerFile.toFixed(2)}× the file`);
  },
);

/** A seed and `n` downloaders on one network; every upload 5 MB/s. */
function world(
  seed: number,
  n: number,
  options: (i: number) => Partial<SimPeerOptions> = () => ({}),
  seedOptions: Partial<SimPeerOptions> = {},
) {
  const net = new SimNetwork({ seed, link: { latencyMs: 2 } });
  net.addHost(TRACKER.hostname);
  const tracker = new SimTracker(net, TRACKER, { intervalMs: 5000, maxOwners: 16 });
  net.addHost("10.0.1.1", { upload: 5000 });
  const seedPeer = new SimPeer(net, {
    nodeId: "seed",
    addr: { hostname: "10.0.1.1", port: 7000 },
    tracker: TRACKER,
    ...seedOptions,
  });
  const peers = Array.from({ length: n }, (_, i) => {
    net.addHost(`10.0.2.${i}`, { upload: 5000 });
    return new SimPeer(net, {
      nodeId: `p${i}`,
      addr: { hostname: `10.0.2.${i}`, port: 7000 },
      tracker: TRACKER,
      ...options(i),
    });
  });
  return { net, tracker, seed: seedPeer, peers };
}

function finish(net: SimNetwork, downloads: SimDownload[]): void {
  const ok = net.run(() => downloads.every((d) => d.finishedAt !== undefined), {
    maxMs: net.now + 600_000,
  });
  assert.ok(ok, "every download ended");
}

Deno.test("swarm: a partial owner that crashes mid-transfer is replaced", none, () => {
  const file = swarmFile(16 * MiB, 3);
  const w = world(3, 5);
  w.seed.share(file);
  w.net.run(() => w.tracker.core.fileCount === 1, { maxMs: 5000 });
  const downloads = w.peers.map((p) => p.download(file.contentIdHex, { reference: file.bytes }));
  // p0 crashes once it has served others a few pieces: it is a partial owner in use
  const ok = w.net.run(() => w.peers[0]!.uploadedBytes >= 2 * MiB, { maxMs: w.net.now + 60_000 });
  assert.ok(ok, "p0 served pieces of its partial download");
  assert.equal(downloads[0]!.finishedAt, undefined, "p0 was still downloading");
  w.peers[0]!.crash();
  const rest = downloads.slice(1);
  finish(w.net, rest);
  for (const d of rest) {
    assert.equal(d.error, undefined);
    assert.equal(d.mismatchedPieces, 0);
    assert.ok(Buffer.compare(d.file!, file.bytes) === 0);
  }
});

Deno.test(
  "swarm: a partial owner that serves bad data is banned and every piece is exact",
  none,
  () => {
    const file = swarmFile(8 * MiB, 4);
    const w = world(4, 4, (i) => (i === 0 ? { corrupt: () => true } : {}));
    w.seed.share(file);
    w.net.run(() => w.tracker.core.fileCount === 1, { maxMs: 5000 });
    const downloads = w.peers.map((p) => p.download(file.contentIdHex, { reference: file.bytes }));
    finish(w.net, downloads);
    const honest = downloads.slice(1);
    for (const d of honest) {
      assert.equal(d.error, undefined);
      assert.equal(d.mismatchedPieces, 0);
    }
    const bad = honest.reduce((a, d) => a + d.result!.badPieces, 0);
    assert.ok(bad >= 1, "the liar's pieces failed verification");
    for (const d of honest) {
      const fromLiar = d.result!.owners.find((o) => o.nodeId === "p0")?.bytes ?? 0;
      assert.equal(fromLiar, 0, "no verified byte came from the liar");
    }
  },
);

Deno.test(
  "swarm: with upload slots a free-rider that never uploads starves nobody and still finishes",
  none,
  () => {
    const file = swarmFile(16 * MiB, 5);
    // p8 downloads but never uploads (shares nothing, tells no owner it could); two regular slots
    // and the optimistic one, so 9 downloaders contend for every owner's slots. The same swarm
    // with p8 uploading too is the yardstick.
    const run = (freeRider: boolean) => {
      const w = world(5, 9, (i) => ({
        uploadSlots: { slots: 2 },
        ...(freeRider && i === 8 ? { shareDownloads: false } : {}),
      }));
      w.seed.share(file);
      w.net.run(() => w.tracker.core.fileCount === 1, { maxMs: 5000 });
      const t0 = w.net.now;
      // 32 KiB datagrams, as the ratios below were measured: the slot policy is what this tests.
      // With the 8,952-byte datagrams owners on other hosts get (datagram_cap.ts) and 1500-byte
      // links (fragments modelled), seeds 5..12 gave 1.14–1.37× (mean 1.29) against 32 KiB's
      // 1.03–1.35× (mean 1.22), every download faster (4.2–4.5 s without the free-rider against
      // 5.0–6.0 s; 5.1–6.0 s with it against 6.1–6.8 s)
      const downloads = w.peers.map((p) =>
        p.download(file.contentIdHex, { reference: file.bytes, mtu: 32784 })
      );
      finish(w.net, downloads);
      for (const d of downloads) {
        assert.equal(d.error, undefined);
        assert.equal(d.mismatchedPieces, 0);
      }
      return { w, times: downloads.map((d) => d.finishedAt! - t0) };
    };
    const { w, times } = run(true);
    assert.equal(w.peers[8]!.uploadedBytes, 0, "the free-rider uploaded nothing");
    const lastContributor = Math.max(...times.slice(0, 8));
    const fair = Math.max(...run(false).times.slice(0, 8));
    // Not asserted: that it finishes later. In this simulator it mostly does not (first in 3 of
    // seeds 5..8): counted per grant, it won most of its slots as free slots, first come (its
    // requests never wait behind uploads of its own). A free regular slot is now kept for a
    // waiting contributor (upload_slots.ts), which made it 5 % slower on average (4.89 → 5.15 s
    // against the contributors' 5.36 → 5.42 s), but it still gets the optimistic slot and turns.
    // The slot policy is tested in tests/peer/upload_slots_test.ts (contributors get more than
    // 1.5× what free-riders get; a free slot waits for a contributor)
    const bound = (16 * MiB) / 5000;
    assert.ok(times[8]! <= 1.6 * bound, `the free-rider was done at ${times[8]} ms`);
    // Starves nobody: the swarm loses one uploader of ten (the seed and nine peers), so the
    // uploaders should need about 10/9 of the time they need without a free-rider, not more.
    // Measured over seeds 5..12: 1.03–1.21×, 1.12× on average.
    assert.ok(
      lastContributor <= 1.3 * fair,
      `the last uploader was done at ${lastContributor.toFixed(0)} ms with a free-rider, ` +
        `${fair.toFixed(0)} ms without`,
    );
  },
);

Deno.test(
  "swarm: a newcomer with nothing gets its first piece quickly while the slots are contended",
  none,
  () => {
    const file = swarmFile(16 * MiB, 6);
    // Two regular slots everywhere, so 8 downloaders contend for each owner's
    const slots = { uploadSlots: { slots: 2 } };
    const w = world(6, 9, () => slots, slots);
    w.seed.share(file);
    w.net.run(() => w.tracker.core.fileCount === 1, { maxMs: 5000 });
    const downloads = w.peers.slice(0, 8).map((p) =>
      p.download(file.contentIdHex, { reference: file.bytes })
    );
    // Join once the others are well under way: every owner's slots are taken
    w.net.run(() => false, { maxMs: w.net.now + 1500 });
    assert.ok(w.seed.rules.slots!.stats.choked > 0, "the seed's slots were contended");
    const joined = w.net.now;
    const late = w.peers[8]!.download(file.contentIdHex, { reference: file.bytes });
    const started = w.net.run(() => (late.have ?? []).some((b) => b === 1), {
      maxMs: joined + 10_000,
    });
    assert.ok(started, "the newcomer verified a piece");
    const firstPieceMs = w.net.now - joined;
    assert.ok(
      firstPieceMs <= 1500,
      `its first piece came ${firstPieceMs.toFixed(0)} ms after it joined`,
    );
    finish(w.net, [...downloads, late]);
    assert.equal(late.error, undefined);
  },
);

Deno.test(
  "swarm: downloaders learn the sharers that ask them (SHARER), beyond the owners the tracker lists",
  none,
  () => {
    const file = swarmFile(16 * MiB, 7);
    // Downloads announced before their first piece are listed by the tracker to everyone from the
    // start (PartialAnnounce), which this test of SHARER alone leaves out
    const w = world(7, 12, () => ({ announceEarly: false }));
    w.seed.share(file);
    w.net.run(() => w.tracker.core.fileCount === 1, { maxMs: 5000 });
    // Each NEED lists 2 owners, so a download keeps at most 4 from the tracker
    const downloads = w.peers.map((p) =>
      p.download(file.contentIdHex, { reference: file.bytes, maxOwners: 2 })
    );
    finish(w.net, downloads);
    for (const d of downloads) {
      assert.equal(d.error, undefined);
      assert.equal(d.mismatchedPieces, 0);
    }
    const sources = downloads.map((d) => d.result!.owners.filter((o) => o.bytes > 0).length);
    assert.ok(
      Math.max(...sources) > 4,
      `some download got verified bytes from more than 4 owners: ${sources.join(" ")}`,
    );
  },
);

Deno.test(
  "swarm: in a crowd the seed offers pieces only to its slot holders, so fewer leave it twice",
  none,
  () => {
    // 16 downloaders, the seed with 1 regular slot + the optimistic one: 8 askers per slot, over
    // the default offerCrowd of 4. The same swarm with offers to every asker is the yardstick.
    // One seed's figure is noisy (which one wins changes with the seed): the mean of eight is
    // compared. Measured (seeds 1..8, swarming downloads starting at a 1-block window): 1.18, 1.27,
    // 1.19, 1.13, 1.13, 1.16, 1.15, 1.24 F (mean 1.179) against 1.13, 1.19, 1.15, 1.25, 1.15,
    // 1.27, 1.24, 1.22 F (mean 1.200). (With 4-block windows, seeds 1..4: mean 1.19 against 1.21.)
    const seeds = [1, 2, 3, 4, 5, 6, 7, 8];
    let gatedSum = 0, openSum = 0;
    for (const seed of seeds) {
      const run = (offerCrowd: number) =>
        runSwarm({
          peers: 16,
          size: 8 * MiB,
          seedUpload: 5000,
          seed,
          seedSlots: { slots: 1, offerCrowd },
          // 32 KiB datagrams, as measured above (hosts here are not loopback: datagram_cap.ts)
          mtu: 32784,
        });
      const gated = run(4);
      const open = run(Infinity);
      assert.ok(gated.exact && open.exact);
      gatedSum += gated.seedBytesPerFile;
      openSum += open.seedBytesPerFile;
    }
    const gated = gatedSum / seeds.length, open = openSum / seeds.length;
    assert.ok(gated <= 1.2, `the seed sent ${gated.toFixed(3)} F with offers to slot holders only`);
    assert.ok(
      gated < open,
      `the seed sent ${gated.toFixed(3)} F on average with offers to slot holders only, ` +
        `${open.toFixed(3)} F with offers to every asker`,
    );
  },
);
