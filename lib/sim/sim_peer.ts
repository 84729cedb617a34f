/**
 * A whole peer on the simulated network, made of the real cores: a {@link TrackerSession}
 * (register, heartbeat, OWN, NEED, UPDATE, EXIT), {@link UploadRules} (cookies, admission,
 * fairness) serving files held in memory, and one {@link SimDownload} per download. It routes
 * datagrams the way lib/peer/peer.ts does; only the file system and the clock are simulated.
 * @module
 */
import { createHash } from "node:crypto";
import { decodeMessage } from "../wire/codec.ts";
import { blockDataTxid, writeBlockDataHeader } from "../wire/block_data.ts";
import { BLOCK_DATA_HEADER_SIZE } from "../wire/limits.ts";
import { NEED_PARTIAL, type NeedTarget, type OwnersMessage } from "../wire/messages.ts";
import { contentIdOf, encodeManifest, type Manifest } from "../peer/manifest.ts";
import { toHex } from "../wire/hex.ts";
import { TrackerSession } from "../peer/core/tracker_session.ts";
import { UploadRules } from "../peer/core/upload_rules.ts";
import type { UploadSlotsOptions } from "../peer/core/upload_slots.ts";
import { DownloadBudget } from "../peer/core/download_budget.ts";
import { PartialAnnounce } from "../peer/core/partial_announce.ts";
import type { SimAddr, SimNetwork, SimSocket, SimTimer } from "./sim_network.ts";
import { SimDownload, type SimDownloadOptions } from "./sim_download.ts";

/**
 * Bytes of one slab the BLOCK_DATA datagrams a peer sends are cut from: one allocation per slab,
 * not per datagram (the simulator's hottest allocation). A slab is never written again once cut,
 * so every datagram stays the receiver's own bytes; the garbage collector frees a slab when the
 * last of its datagrams is dropped.
 */
const SLAB_BYTES = 1 << 20;

/** How often a peer reports its upload to the tracker, ms (as lib/peer/peer.ts). */
const UPDATE_EVERY_MS = 2000;

/** Options for {@link SimPeer}. */
export interface SimPeerOptions {
  /** The peer's node id. */
  nodeId: string;
  /** The host (added to the network beforehand) and port of the peer's main socket. */
  addr: SimAddr;
  /** The tracker's address. */
  tracker: SimAddr;
  /** Share every download: its verified pieces while it runs, the whole file once complete. @default true */
  shareDownloads?: boolean;
  /** Super-seed complete files (UploadRules' `superSeed`). @default true */
  superSeed?: boolean;
  /** Announce a served download as soon as its part opens (PartialAnnounce's `early`). @default true */
  announceEarly?: boolean;
  /** Receives the peer's log lines. */
  log?: (line: string) => void;
  /** A lying owner: flips a byte of every block this says yes to. */
  corrupt?: (offset: number, length: number) => boolean;
  /**
   * A lying claim: every 2 s, UPDATE says this many bytes were uploaded, whatever was (the
   * attack of issue 11: 2^53−1 to buy the ranking).
   */
  claimUploaded?: number;
  /** A fake owner: registers and announces, but answers no peer-protocol datagram. */
  deaf?: boolean;
  /** Upload cap over all requesters, bytes/s (`--max-upload`). @default Infinity */
  maxUploadRate?: number;
  /** Download cap shared by all its downloads, bytes/s (`--max-download`). @default Infinity */
  maxDownloadRate?: number;
  /**
   * A spraying owner: after serving each block request correctly, sends this many blocks nobody
   * asked it for (random blocks of the file, with wrong bytes) to the requester, to spoil the
   * pieces other owners are sending. @default 0
   */
  sprayUnasked?: number;
  /** Upload slots (UploadRules' `slots`; the credit is this peer's downloads'). @default {} */
  uploadSlots?: Omit<UploadSlotsOptions, "creditOf"> | false;
  /** Sees every block this peer sends (a trace for tuning): file offset, length, receiver. */
  onUpload?: (
    offset: number,
    length: number,
    to: Deno.NetAddr,
    now: number,
    dropped: boolean,
  ) => void;
}

/** A file in memory with its manifest. */
export interface SimContent {
  /** The name it is shared under. */
  name: string;
  /** The file's bytes. */
  bytes: Uint8Array;
  /** Its manifest. */
  manifest: Manifest;
  /** The encoded manifest. */
  encoded: Uint8Array;
  /** The content id (SHA-256 of the encoded manifest). */
  contentId: Uint8Array;
  /** The content id in hex. */
  contentIdHex: string;
}

/**
 * Builds the manifest of bytes in memory (as `buildManifest` does for a file).
 *
 * @param name the name to share it under
 * @param bytes the file's bytes
 * @param pieceSize bytes per piece, a power of two ≥ 16 KiB
 * @returns the bytes with their manifest and content id
 *
 * @example A 100 kB file in four 32 KiB pieces
 * ```ts
 * import assert from "node:assert/strict";
 * import { simContent } from "@udpswarm/udpswarm";
 *
 * const content = simContent("a.bin", new Uint8Array(100_000), 32 * 1024);
 * assert.equal(content.manifest.pieceHashes.byteLength, 4 * 32);
 * assert.equal(content.contentIdHex.length, 64);
 * ```
 */
export function simContent(name: string, bytes: Uint8Array, pieceSize = 256 * 1024): SimContent {
  const count = Math.ceil(bytes.byteLength / pieceSize);
  const pieceHashes = new Uint8Array(count * 32);
  for (let i = 0; i < count; i++) {
    const piece = bytes.subarray(i * pieceSize, Math.min(bytes.byteLength, (i + 1) * pieceSize));
    pieceHashes.set(createHash("sha256").update(piece).digest(), i * 32);
  }
  const manifest: Manifest = { size: bytes.byteLength, pieceSize, pieceHashes };
  const encoded = encodeManifest(manifest);
  const contentId = contentIdOf(encoded);
  return { name, bytes, manifest, encoded, contentId, contentIdHex: toHex(contentId) };
}

interface Partial {
  name: string;
  contentId: Uint8Array;
  size: number;
  /** 1 per verified piece (the download's own array). */
  have: Uint8Array;
  /** When to announce its progress. */
  announce: PartialAnnounce;
}

/**
 * A peer of real cores on a {@link SimNetwork} (see the module doc). It registers with the
 * tracker as soon as it is created.
 *
 * @example One peer shares, another downloads
 * ```ts
 * import assert from "node:assert/strict";
 * import { SimNetwork, SimPeer, simContent, SimTracker } from "@udpswarm/udpswarm";
 *
 * const net = new SimNetwork({ seed: 1, link: { latencyMs: 2 } });
 * for (const host of ["10.0.0.1", "10.0.1.1", "10.0.1.2"]) net.addHost(host);
 * const tracker = new SimTracker(net, { hostname: "10.0.0.1", port: 6969 });
 * const peer = (n: number) =>
 *   new SimPeer(net, { nodeId: `p${n}`, addr: { hostname: `10.0.1.${n}`, port: 7000 }, tracker: tracker.addr });
 * const content = simContent("hello.bin", new Uint8Array(100_000).fill(7), 32 * 1024);
 * peer(1).share(content);
 * const getter = peer(2);
 * net.run(() => tracker.core.fileCount === 1, { maxMs: 5_000 });
 * const download = getter.download("hello.bin");
 * assert.ok(net.run(() => download.finishedAt !== undefined, { maxMs: 60_000 }));
 * assert.deepEqual(download.file, content.bytes);
 * assert.deepEqual(download.result?.owners.map((o) => o.nodeId), ["p1"]);
 * ```
 */
export class SimPeer {
  /** The peer's node id. */
  readonly nodeId: string;
  /** The network it lives on. */
  readonly net: SimNetwork;
  /** Its main socket. */
  readonly socket: SimSocket;
  /** Its tracker client core. */
  readonly session: TrackerSession;
  /** Its uploader core. */
  readonly rules: UploadRules;
  /** Shared files by content id (hex). */
  readonly files = new Map<string, SimContent>();
  /** Downloads by txid. */
  readonly downloads = new Map<number, SimDownload>();
  /** Bytes of BLOCK_DATA payload this peer sent. */
  uploadedBytes = 0;
  /** Bytes of BLOCK_DATA payload sent per piece index (of any content). */
  readonly uploadedByPiece: number[] = [];
  /** The download cap its downloads share. */
  readonly budget: DownloadBudget;
  /** Bytes of unasked BLOCK_DATA payload this peer sprayed (`sprayUnasked`). */
  sprayedBytes = 0;
  readonly #options: SimPeerOptions;
  readonly #timer: SimTimer;
  readonly #updateTimer: SimTimer;
  readonly #paceTimer: SimTimer;
  readonly #waiting = new Map<number, (value: unknown, error?: Error) => void>();
  /** Downloads in progress that are served (partial owners), by content id (hex). */
  readonly #partials = new Map<string, Partial>();
  #nextPort: number;
  #closed = false;
  #slab = new Uint8Array(0);
  #slabUsed = 0;
  readonly #header = new Uint8Array(BLOCK_DATA_HEADER_SIZE);
  readonly #headerView = new DataView(this.#header.buffer);

  /**
   * Binds the peer's socket and registers with the tracker.
   *
   * @param net the network (its host added beforehand)
   * @param options node id, addresses and behaviour
   */
  constructor(net: SimNetwork, options: SimPeerOptions) {
    this.net = net;
    this.nodeId = options.nodeId;
    this.#options = options;
    this.#nextPort = options.addr.port + 1;
    this.socket = net.bind(options.addr, (bytes, from, now) => this.#onDatagram(bytes, from, now));
    this.session = new TrackerSession({
      tracker: options.tracker,
      nodeId: options.nodeId,
      random: () => net.random(),
    });
    this.rules = new UploadRules({
      random: () => net.random(),
      ...(options.superSeed === false ? { superSeed: false } : {}),
      randomBytes: (n) => {
        const b = new Uint8Array(n);
        for (let i = 0; i < n; i++) b[i] = Math.floor(net.random() * 256);
        return b;
      },
      now: net.now,
      uploadRate: options.maxUploadRate ?? Infinity,
      slots: options.uploadSlots === false ? false : {
        ...options.uploadSlots,
        creditOf: (host) => {
          let bytes = 0;
          for (const d of this.downloads.values()) bytes += d.core.verifiedFromHost(host);
          return bytes;
        },
      },
    });
    this.budget = new DownloadBudget({
      ratePerSecond: options.maxDownloadRate ?? Infinity,
      now: net.now,
    });
    this.#paceTimer = net.timer((now) => {
      for (let p = this.rules.pollPlan(now); p; p = this.rules.pollPlan(now)) this.#serve(p);
      this.#paceTimer.arm(this.rules.pollTimeout());
    });
    this.#timer = net.timer((now) => {
      this.session.handleTimeout(now);
      this.#pumpSession();
    });
    this.#updateTimer = net.timer((now) => this.#update(now));
    this.#updateTimer.arm(net.now + UPDATE_EVERY_MS);
    this.session.register(net.now);
    this.#pumpSession();
  }

  /** Shares a file held in memory: serves it and announces it with OWN. */
  share(content: SimContent, superSeed?: boolean): void {
    this.files.set(content.contentIdHex, content);
    this.rules.share({
      path: content.name,
      manifest: content.manifest,
      encoded: content.encoded,
      ...(superSeed === undefined ? {} : { superSeed }),
    });
    this.session.own(
      { name: content.name, size: content.bytes.byteLength, contentId: content.contentId },
      this.net.now,
    );
    this.#pumpSession();
  }

  /** Starts a download of a name or content id. */
  download(query: string, options: Omit<SimDownloadOptions, "query" | "txid"> = {}): SimDownload {
    const txid = 1 + Math.floor(this.net.random() * 0x7ffffffe);
    const d = new SimDownload(this.#downloadHost(), {
      ...options,
      query,
      txid,
      ...(this.#options.shareDownloads === false ? {} : { sharePort: this.#options.addr.port }),
    });
    this.downloads.set(txid, d);
    return d;
  }

  /** Leaves politely: EXIT to the tracker, then nothing more. */
  exit(): void {
    this.session.exit(this.net.now);
    this.#pumpSession();
  }

  /** Stops at once, saying nothing (a crash or a cut cable). */
  crash(): void {
    this.#closed = true;
    this.socket.close();
    this.#timer.cancel();
    this.#updateTimer.cancel();
    this.#paceTimer.cancel();
    for (const d of this.downloads.values()) d.core.cancel("crashed");
  }

  #downloadHost() {
    return {
      net: this.net,
      socket: this.socket,
      nodeId: this.nodeId,
      budget: this.budget,
      need: (
        want: NeedTarget,
        maxOwners: number,
        answer: (r: OwnersMessage | Error) => void,
        exclude?: readonly string[],
        partial?: boolean,
      ) => {
        const id = this.session.need(
          want,
          maxOwners,
          this.net.now,
          exclude,
          partial ? NEED_PARTIAL : 0,
        );
        this.#waiting.set(id, (value, error) => answer(error ?? (value as OwnersMessage)));
        this.#pumpSession();
      },
      report: (contentId: Uint8Array, entries: { nodeId: string; bytes: number }[]) => {
        this.session.report(contentId, entries, this.net.now);
        this.#pumpSession();
      },
      openDataSocket: (receive: (bytes: Uint8Array, from: Deno.NetAddr, now: number) => void) =>
        this.net.bind({ hostname: this.#options.addr.hostname, port: this.#nextPort++ }, receive),
      partOpened: (
        _d: SimDownload,
        manifest: Manifest,
        encoded: Uint8Array,
        have: Uint8Array,
        file: Uint8Array,
      ) => {
        if (this.#options.shareDownloads === false || this.#closed) return;
        const contentId = contentIdOf(encoded);
        const hex = toHex(contentId);
        const name = `download-${hex.slice(0, 8)}`;
        this.files.set(hex, { name, bytes: file, manifest, encoded, contentId, contentIdHex: hex });
        this.rules.share({ path: name, manifest, encoded, have: { has: (i) => have[i] === 1 } });
        const announce = new PartialAnnounce({
          pieces: have.length,
          everyMs: UPDATE_EVERY_MS,
          ...(this.#options.announceEarly === false ? { early: false } : {}),
        });
        const p = { name, contentId, have, size: manifest.size, announce };
        this.#partials.set(hex, p);
        this.#ownPartial(p);
      },
      pieceVerified: (_d: SimDownload, index: number) => {
        if (this.#closed) return;
        for (const [hex, p] of this.#partials) {
          if (p.have !== _d.have) continue;
          this.rules.noteVerified(hex, index, this.net.now);
          this.#flushSends();
          this.#ownPartial(p);
        }
      },
      completed: (_r: unknown, manifest: Manifest, encoded: Uint8Array, file: Uint8Array) => {
        const contentId = contentIdOf(encoded);
        const hex = toHex(contentId);
        this.#partials.delete(hex);
        if (this.#options.shareDownloads === false || this.#closed) return;
        const name = `download-${hex.slice(0, 8)}`;
        this.share({ name, bytes: file, manifest, encoded, contentId, contentIdHex: hex }, false);
      },
      log: (line: string) => this.#options.log?.(`${this.nodeId}: ${line}`),
    };
  }

  #onDatagram(bytes: Uint8Array, from: Deno.NetAddr, now: number): void {
    if (this.#closed) return;
    const txid = blockDataTxid(bytes);
    if (txid >= 0) return this.downloads.get(txid)?.handleDatagram(bytes, from, now);
    if (this.session.handleDatagram(bytes, from, now)) return this.#pumpSession();
    let msg;
    try {
      msg = decodeMessage(bytes);
    } catch {
      return;
    }
    if (this.#options.deaf) return;
    switch (msg.type) {
      case "probe":
        this.rules.handleProbe(msg, from, now);
        break;
      case "manifest_request":
      case "block_request": {
        const plan = this.rules.handleRequest(msg, from, now);
        if (plan) this.#serve(plan);
        break;
      }
      case "sharer":
        if (!this.rules.checkSharer(msg, from, now)) break;
        for (const d of this.downloads.values()) {
          d.core.addSharer(toHex(msg.contentId), msg.nodeId, from.hostname, msg.port, now);
          d.flush();
        }
        break;
      case "bitfield":
        if (!msg.reply) this.rules.handleBitfield(msg, from, now);
        else this.downloads.get(msg.txid)?.handleDatagram(bytes, from, now);
        break;
      case "probe_ack":
      case "manifest_data":
      case "error":
      case "have":
        this.downloads.get(msg.txid)?.handleDatagram(bytes, from, now);
        break;
    }
    this.#flushSends();
  }

  /** Sends the blocks of an admitted BLOCK_REQUEST from the file in memory. */
  #serve(plan: NonNullable<ReturnType<UploadRules["handleRequest"]>>): void {
    const file = this.files.get(plan.contentIdHex);
    if (!file) return this.rules.handleShortRead(plan);
    const { txid, to } = plan;
    let blockSize = 0;
    while (plan.next()) {
      blockSize ||= plan.length;
      const datagram = this.#datagram(BLOCK_DATA_HEADER_SIZE + plan.length);
      writeBlockDataHeader(this.#headerView, plan.txid, plan.offset);
      datagram.set(this.#header);
      datagram.set(
        file.bytes.subarray(plan.offset, plan.offset + plan.length),
        BLOCK_DATA_HEADER_SIZE,
      );
      if (this.#options.corrupt?.(plan.offset, plan.length)) datagram[datagram.length - 1]! ^= 0x5a;
      const onUpload = this.#options.onUpload;
      const drops = onUpload && this.net.hostStats(this.socket.addr.hostname).queueDrops;
      this.socket.transfer(datagram, plan.to);
      this.uploadedBytes += plan.length;
      const piece = Math.floor(plan.offset / file.manifest.pieceSize);
      this.uploadedByPiece[piece] = (this.uploadedByPiece[piece] ?? 0) + plan.length;
      onUpload?.(
        plan.offset,
        plan.length,
        plan.to,
        this.net.now,
        this.net.hostStats(this.socket.addr.hostname).queueDrops !== drops,
      );
    }
    this.#spray(file, txid, to, blockSize);
  }

  /** A fresh datagram buffer of `size` bytes, cut from the current slab (see SLAB_BYTES). */
  #datagram(size: number): Uint8Array {
    if (this.#slabUsed + size > this.#slab.byteLength) {
      this.#slab = new Uint8Array(Math.max(SLAB_BYTES, size));
      this.#slabUsed = 0;
    }
    const d = this.#slab.subarray(this.#slabUsed, this.#slabUsed + size);
    this.#slabUsed += size;
    return d;
  }

  /** Announces a partial download's progress (OWN with progress) when PartialAnnounce says so. */
  #ownPartial(p: Partial): void {
    let have = 0;
    for (const b of p.have) have += b;
    const progress = p.announce.due(have, this.net.now);
    if (progress === undefined) return;
    this.session.own(
      { name: p.name, size: p.size, contentId: p.contentId, progress },
      this.net.now,
    );
    this.#pumpSession();
  }

  #flushSends(): void {
    for (let t = this.rules.pollTransmit(); t; t = this.rules.pollTransmit()) {
      this.socket.send(t.bytes, t.to);
    }
    this.#paceTimer.arm(this.rules.pollTimeout());
  }

  /** `sprayUnasked` blocks at block boundaries of random pieces, with wrong bytes. */
  #spray(file: SimContent, txid: number, to: Deno.NetAddr, blockSize: number): void {
    const n = this.#options.sprayUnasked ?? 0;
    const { size, pieceSize } = file.manifest;
    if (n <= 0 || blockSize <= 0) return;
    for (let i = 0; i < n; i++) {
      const piece = Math.floor(this.net.random() * Math.ceil(size / pieceSize));
      const block = Math.floor(this.net.random() * Math.ceil(pieceSize / blockSize));
      const offset = piece * pieceSize + block * blockSize;
      if (offset >= size) continue;
      const length = Math.min(blockSize, size - offset, (piece + 1) * pieceSize - offset);
      const datagram = new Uint8Array(BLOCK_DATA_HEADER_SIZE + length);
      writeBlockDataHeader(new DataView(datagram.buffer), txid, offset);
      datagram.fill(0xa5, BLOCK_DATA_HEADER_SIZE);
      this.socket.transfer(datagram, to);
      this.sprayedBytes += length;
    }
  }

  #update(now: number): void {
    for (const p of this.#partials.values()) this.#ownPartial(p);
    const delta = this.#options.claimUploaded ?? this.rules.takeUploaded();
    if (delta > 0) {
      this.session.update(delta, now);
      this.#pumpSession();
    }
    this.#updateTimer.arm(now + UPDATE_EVERY_MS);
  }

  #pumpSession(): void {
    const s = this.session;
    for (let e = s.pollEvent(); e; e = s.pollEvent()) {
      if (e.type === "done") this.#settle(e.id, e.value);
      else if (e.type === "failed") this.#settle(e.id, undefined, e.error);
      else if (e.type === "log") this.#options.log?.(`${this.nodeId}: ${e.line}`);
    }
    for (let b = s.pollTransmit(); b; b = s.pollTransmit()) {
      this.socket.send(b, this.#options.tracker);
    }
    this.#timer.arm(s.pollTimeout());
  }

  #settle(id: number, value: unknown, error?: Error): void {
    const w = this.#waiting.get(id);
    if (!w) return;
    this.#waiting.delete(id);
    w(value, error);
  }
}
