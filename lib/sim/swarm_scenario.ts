/**
 * A swarm distribution scenario on the simulated network, shared by the swarm tests and
 * `scripts/bench_swarm_sim.ts`: a tracker, one seed and N downloaders of one file, every upload
 * limited (the seed's and the peers' rates may differ), downloads unlimited, peers starting at
 * once or one after another. It reports what the swarming issue measures: each completion time,
 * the all-done time against the Kumar–Ross bound, the first finisher, the spread, the seed's
 * bytes on the wire divided by the file size, and whether every byte is exact.
 *
 * Kumar & Ross (2006), the minimum distribution time of a file of F bytes from a seed of upload
 * u_s to N peers of upload u_i and download d_i: T = max(F/u_s, F/min d_i, N·F/(u_s + Σu_i)).
 * @module
 */
import { Buffer } from "node:buffer";
import { SimNetwork, UDP_IP_OVERHEAD } from "./sim_network.ts";
import { SimTracker } from "./sim_tracker.ts";
import { type SimContent, simContent, SimPeer, type SimPeerOptions } from "./sim_peer.ts";
import type { SimDownload } from "./sim_download.ts";

/** Options for {@link runSwarm}. */
export interface SwarmScenarioOptions {
  /** Downloaders. */
  peers: number;
  /** File size, bytes. */
  size: number;
  /** Bytes per piece of the file {@link runSwarm} builds when given none. @default 262144 */
  pieceSize?: number;
  /** The seed's upload, bytes per ms (5000 = 40 Mbit/s). */
  seedUpload: number;
  /** Each downloader's upload, bytes per ms. @default seedUpload */
  peerUpload?: number;
  /** Downloader i starts at i × this, ms. @default 0 (all at once) */
  joinEveryMs?: number;
  /** Owners per NEED. @default 8 */
  maxOwners?: number;
  /** One-way latency, ms. @default 2 */
  latencyMs?: number;
  /** Downloaders share what they have verified. @default true */
  shareDownloads?: boolean;
  /** The seed super-seeds. @default true */
  superSeed?: boolean;
  /** Downloaders announce themselves as soon as their part opens (SimPeer's). @default true */
  announceEarly?: boolean;
  /** The seed's upload slots (SimPeer's `uploadSlots`). @default its default */
  seedSlots?: SimPeerOptions["uploadSlots"];
  /** Seed of every random choice. @default 1 */
  seed?: number;
  /** Give up after this much virtual time, ms. @default 3_600_000 */
  maxMs?: number;
  /** Largest datagram of every download, or 0 to probe the path. @default 0 */
  mtu?: number;
  /**
   * Every host's upload link carries IP packets of at most this size (`SimHostOptions.fragmentMtu`:
   * larger datagrams leave as fragments, and a fragment lost at the queue loses the datagram), or 0
   * for whole datagrams. @default 0
   */
  fragmentMtu?: number;
  /** Sample every host's upload this often (a {@link SwarmSample} timeline), ms. @default none */
  sampleMs?: number;
  /** Sees every block the seed sends (SimPeer's `onUpload`), for a per-piece trace. */
  onSeedUpload?: SimPeerOptions["onUpload"];
  /**
   * Sees each downloader's verified pieces (1 per piece; undefined before its part opens) at
   * every timeline sample ({@link sampleMs}), for a per-piece spread trace.
   */
  onSample?: (atMs: number, have: readonly (Uint8Array | undefined)[]) => void;
}

/** One window of the timeline {@link SwarmScenarioOptions.sampleMs} asks for. */
export interface SwarmSample {
  /** End of the window, ms from the first start. */
  atMs: number;
  /** The seed's upload in the window over its capacity (wire bytes). */
  seedUtil: number;
  /** The downloaders' upload in the window over their capacity, on average (started ones). */
  peerUtil: number;
  /** Started, unfinished downloaders whose upload was under 10 % of capacity. */
  idlePeers: number;
  /** Started, unfinished downloaders. */
  activePeers: number;
  /** Verified pieces over all downloaders divided by N × pieces. */
  done: number;
  /** Owners in use per started, unfinished downloader, on average (its latest progress). */
  owners: number;
}

/** What {@link runSwarm} measured (virtual time, ms). */
export interface SwarmScenarioResult {
  peers: number;
  size: number;
  /** Completion time of each downloader from its own start, in start order. */
  completions: number[];
  /** From the first start to the last completion. */
  allDoneMs: number;
  /** The Kumar–Ross bound for the same swarm (all peers at once). */
  boundMs: number;
  /** allDoneMs / boundMs (with peers joining over time the bound is only a reference). */
  ratio: number;
  firstMs: number;
  /** Last completion minus first completion. */
  spreadMs: number;
  /** The seed's wire bytes (payload + 28 per datagram) divided by the file size. */
  seedBytesPerFile: number;
  /** Wire bytes all downloaders sent, divided by the file size. */
  peerBytesPerFile: number;
  /** File bytes (BLOCK_DATA payload) all downloaders sent. */
  peerDataBytes: number;
  /** Every download ended with the exact bytes and every piece verified. */
  exact: boolean;
  /** Downloads that failed. */
  failed: number;
  /** The errors of the downloads that failed (their messages). */
  errors: string[];
  /** From the first start until the seed's link first carried block data, ms. */
  seedBusyAfterMs: number;
  /** Pieces the seed sent once, twice, … (index: times sent, rounded to whole pieces). */
  seedCopies: number[];
  /** The seed's wire bytes over its capacity from the first start to the last completion. */
  seedUtil: number;
  /** The downloaders' wire bytes over their capacity while each was downloading. */
  peerUtil: number;
  /** File bytes the downloaders received beyond N × F (duplicates, losses), over F. */
  wastedPerFile: number;
  /** Datagrams dropped at full host queues. */
  queueDrops: number;
  /** Wire bytes of fragments that left for datagrams lost at a queue (`fragmentMtu`), over F. */
  fragmentWastePerFile: number;
  /** The timeline, when {@link SwarmScenarioOptions.sampleMs} asked for it. */
  samples: SwarmSample[];
}

const TRACKER = { hostname: "10.0.0.1", port: 6969 };

/** The Kumar–Ross minimum distribution time (ms) for a file of `size` bytes, rates in bytes/ms. */
export function kumarRossMs(
  size: number,
  seedUpload: number,
  peerUploads: readonly number[],
  minDownload = Infinity,
): number {
  const sum = peerUploads.reduce((a, b) => a + b, 0);
  return Math.max(
    size / seedUpload,
    size / minDownload,
    (peerUploads.length * size) / (seedUpload + sum),
  );
}

/** A deterministic file of `size` bytes, in pieces of `pieceSize` bytes (256 KiB by default). */
export function swarmFile(size: number, seed: number, pieceSize?: number): SimContent {
  const bytes = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  const words = new Uint32Array(bytes.buffer, 0, size >> 2);
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return simContent("swarm.bin", bytes, pieceSize);
}

/**
 * Runs the scenario to the end.
 *
 * @param options the swarm
 * @param content the file (built with {@link swarmFile} unless given)
 * @returns the figures
 */
export function runSwarm(options: SwarmScenarioOptions, content?: SimContent): SwarmScenarioResult {
  const file = content ?? swarmFile(options.size, options.seed ?? 1, options.pieceSize);
  const net = new SimNetwork({
    seed: options.seed ?? 1,
    link: { latencyMs: options.latencyMs ?? 2 },
  });
  net.addHost(TRACKER.hostname);
  const tracker = new SimTracker(net, TRACKER, { intervalMs: 5000, maxOwners: 16 });
  const peerUpload = options.peerUpload ?? options.seedUpload;
  const fragmentMtu = options.fragmentMtu ?? 0;
  net.addHost("10.0.1.1", { upload: options.seedUpload, fragmentMtu });
  const seed = new SimPeer(net, {
    nodeId: "seed",
    addr: { hostname: "10.0.1.1", port: 7000 },
    tracker: TRACKER,
    ...(options.superSeed === false ? { superSeed: false } : {}),
    ...(options.seedSlots === undefined ? {} : { uploadSlots: options.seedSlots }),
    ...(options.onSeedUpload === undefined ? {} : { onUpload: options.onSeedUpload }),
  });
  seed.share(file);
  const peers: SimPeer[] = [];
  for (let i = 0; i < options.peers; i++) {
    const hostname = `10.0.${2 + (i >> 8)}.${i & 0xff}`;
    net.addHost(hostname, { upload: peerUpload, fragmentMtu });
    peers.push(
      new SimPeer(net, {
        nodeId: `p${i}`,
        addr: { hostname, port: 7000 },
        tracker: TRACKER,
        shareDownloads: options.shareDownloads ?? true,
        ...(options.announceEarly === false ? { announceEarly: false } : {}),
      }),
    );
  }
  const reg = tracker.core;
  net.run(() => reg.peerCount === options.peers + 1 && reg.fileCount === 1, {
    maxMs: net.now + 10_000,
  });
  const t0 = net.now;
  const sentBefore = net.hostStats("10.0.1.1").sentWireBytes;
  const peerSentBefore = peers.map((p) => net.hostStats(p.socket.addr.hostname).sentWireBytes);
  const starts: number[] = [];
  const downloads: SimDownload[] = [];
  const every = options.joinEveryMs ?? 0;
  peers.forEach((p, i) =>
    net.at(t0 + every * i, (now) => {
      starts[i] = now;
      downloads[i] = p.download(file.contentIdHex, {
        reference: file.bytes,
        maxOwners: options.maxOwners ?? 8,
        ...(options.mtu === undefined ? {} : { mtu: options.mtu }),
      });
    })
  );
  // When did the seed's link first carry block data (its sent bytes jump past the handshakes)?
  let seedBusyAt = Infinity;
  const watch = (now: number) => {
    if (net.hostStats("10.0.1.1").sentBytes - sentBefore > 64 * 1024) seedBusyAt = now;
    else net.at(now + 5, watch);
  };
  net.at(t0, watch);
  const done = () =>
    downloads.length === options.peers && downloads.every((d) => d?.finishedAt !== undefined);
  // The timeline: each host's upload per window
  const samples: SwarmSample[] = [];
  const sampleMs = options.sampleMs ?? 0;
  const peerSentAt = (i: number) => net.hostStats(peers[i]!.socket.addr.hostname).sentWireBytes;
  let lastSeed = sentBefore;
  const lastPeers = peerSentBefore.slice();
  const sample = (now: number) => {
    const seedNow = net.hostStats("10.0.1.1").sentWireBytes;
    let util = 0, active = 0, idle = 0, verified = 0, owners = 0;
    for (let i = 0; i < peers.length; i++) {
      const d = downloads[i];
      for (const b of d?.have ?? []) verified += b;
      const sent = peerSentAt(i);
      if (d && d.finishedAt === undefined) {
        const u = (sent - lastPeers[i]!) / (sampleMs * peerUpload);
        util += u;
        active++;
        owners += d.core.progress?.owners.length ?? 0;
        if (u < 0.1) idle++;
      }
      lastPeers[i] = sent;
    }
    samples.push({
      atMs: now - t0,
      seedUtil: (seedNow - lastSeed) / (sampleMs * options.seedUpload),
      peerUtil: active > 0 ? util / active : 0,
      idlePeers: idle,
      activePeers: active,
      done: verified / (peers.length * pieceCount),
      owners: active > 0 ? owners / active : 0,
    });
    lastSeed = seedNow;
    options.onSample?.(now - t0, downloads.map((d) => d?.have));
    if (!done()) net.at(now + sampleMs, sample);
  };
  const pieceCount = Math.ceil(file.bytes.byteLength / file.manifest.pieceSize);
  if (sampleMs > 0) net.at(t0 + sampleMs, sample);
  net.run(done, { maxMs: t0 + (options.maxMs ?? 3_600_000) });
  const pieces = Math.ceil(file.bytes.byteLength / file.manifest.pieceSize);
  let exact = true, failed = 0;
  const completions: number[] = [];
  const errors: string[] = [];
  for (let i = 0; i < options.peers; i++) {
    const d = downloads[i];
    if (!d || d.finishedAt === undefined || d.error !== undefined) {
      failed++;
      errors.push(d?.error instanceof Error ? d.error.message : String(d?.error ?? "unfinished"));
      exact = false;
      completions.push(NaN);
      continue;
    }
    completions.push(d.finishedAt - starts[i]!);
    if (
      d.mismatchedPieces !== 0 || d.writtenPieces !== pieces ||
      Buffer.compare(d.file!, file.bytes) !== 0
    ) exact = false;
  }
  const ends = downloads.filter((d) => d?.finishedAt !== undefined).map((d) => d.finishedAt!);
  const last = Math.max(...ends), first = Math.min(...ends);
  const boundMs = kumarRossMs(
    file.bytes.byteLength,
    options.seedUpload,
    peers.map(() => peerUpload),
  );
  const size = file.bytes.byteLength;
  const peerSent = peers.reduce(
    (a, p, i) => a + net.hostStats(p.socket.addr.hostname).sentWireBytes - peerSentBefore[i]!,
    0,
  );
  void UDP_IP_OVERHEAD;
  const seedCopies: number[] = [];
  for (let p = 0; p < pieces; p++) {
    const len = Math.min(file.manifest.pieceSize, size - p * file.manifest.pieceSize);
    const copies = Math.round((seed.uploadedByPiece[p] ?? 0) / len);
    seedCopies[copies] = (seedCopies[copies] ?? 0) + 1;
  }
  for (let i = 0; i < seedCopies.length; i++) seedCopies[i] ??= 0;
  let peerCapacity = 0, received = 0;
  for (let i = 0; i < options.peers; i++) {
    const end = downloads[i]?.finishedAt ?? net.now;
    peerCapacity += (end - starts[i]!) * peerUpload;
    received += downloads[i]?.result?.receivedBytes ?? 0;
  }
  return {
    seedUtil: (net.hostStats("10.0.1.1").sentWireBytes - sentBefore) /
      ((last - t0) * options.seedUpload),
    peerUtil: peerSent / peerCapacity,
    wastedPerFile: received / size - options.peers,
    queueDrops: net.stats.queueDrops,
    fragmentWastePerFile:
      [net.hostStats("10.0.1.1"), ...peers.map((p) => net.hostStats(p.socket.addr.hostname))]
        .reduce((a, h) => a + h.wastedWireBytes, 0) / size,
    samples,
    seedCopies,
    peers: options.peers,
    size,
    completions,
    allDoneMs: last - t0,
    boundMs,
    ratio: (last - t0) / boundMs,
    firstMs: first - t0,
    spreadMs: last - first,
    seedBytesPerFile: (net.hostStats("10.0.1.1").sentWireBytes - sentBefore) / size,
    peerBytesPerFile: peerSent / size,
    peerDataBytes: peers.reduce((a, p) => a + p.uploadedBytes, 0),
    exact,
    failed,
    errors,
    seedBusyAfterMs: seedBusyAt - t0,
  };
}
