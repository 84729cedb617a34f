/**
 * The Peer: wires the download sessions, the uploader and the tracker client to one UDP socket
 * and the disk. Keeps the seed's Node concepts: `nodeId`, `files`, `isInSendMode`,
 * `downloadedFiles`.
 * @module
 */
import { basename, resolve } from "node:path";
import { decodeMessage } from "../wire/codec.ts";
import { blockDataTxid } from "../wire/block_data.ts";
import { UdpEndpoint } from "../net/udp_endpoint.ts";
import {
  DEFAULT_SOCKET_RECEIVE_BUFFER,
  raiseReceiveBuffer,
  receiveBufferNote,
} from "../net/socket_buffer.ts";
import { addressKey } from "../net/host_port.ts";
import { formatHostPort } from "../net/host_port.ts";
import { type OwnedFile, trackerAddresses, TrackerClient } from "./tracker_client.ts";
import type {
  DownloadHandle,
  DownloadOptions,
  DownloadProgress,
  DownloadResult,
  Peer,
  PeerOptions,
  PeerStats,
  RateLimits,
  SharedFile,
} from "./api.ts";
import { PartialAnnounce } from "./core/partial_announce.ts";
import { DownloadBudget } from "./core/download_budget.ts";
import { DownloadSession } from "./download_session.ts";
import { collectFileList, type FileList, listMatchFor, type ListOptions } from "./file_list.ts";
import type { PartialEvent, PartStore, SessionContext } from "./session_context.ts";
import { NEED_PARTIAL } from "../wire/messages.ts";
import { DEFAULT_PIECE_SIZE, type Manifest } from "./manifest.ts";
import { fromHex } from "../wire/hex.ts";
import { ManifestCache } from "./manifest_cache.ts";
import { randomNodeId } from "./node_id.ts";
import { PartFile } from "./part_file.ts";
import { TransferError } from "./transfer_error.ts";
import { Uploader } from "./uploader.ts";

const UPDATE_EVERY_MS = 2000;
const MALFORMED_LOG_EVERY_MS = 60_000;
/** The largest `mtu` at which data sockets turn UDP GRO on by default (PeerOptions.receiveGro). */
const GRO_MAX_MTU = 1500;

/**
 * Starts a peer: binds a UDP socket, registers with the tracker and starts serving.
 *
 * @param options tracker address, directories, node id, tuning; see {@link PeerOptions}
 * @returns a running peer; `await using` closes it (EXIT to the tracker, socket closed)
 * @throws {TrackerError} the tracker does not answer or refuses the registration
 * @throws {Deno.errors.AddrInUse} the local port is taken
 *
 * @example Sharing a file with a tracker
 * ```ts
 * import assert from "node:assert/strict";
 * import { startPeer, startTracker } from "@udpswarm/udpswarm";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/notes.txt`, "hello");
 * await using tracker = await startTracker({ port: 0 });
 * await using peer = await startPeer({
 *   tracker: `127.0.0.1:${tracker.address.port}`,
 *   dir,
 *   cacheDir: `${dir}/.cache`,
 * });
 * const file = await peer.share("notes.txt"); // hashed, then announced to the tracker
 * assert.equal(file.size, 5);
 * assert.equal(peer.files.get(file.contentId)?.name, "notes.txt");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function startPeer(options: PeerOptions = {}): Promise<Peer> {
  const peer = new PeerNode(options);
  try {
    await peer.start();
  } catch (e) {
    await peer.close();
    throw e;
  }
  return peer;
}

class PeerNode implements Peer {
  readonly nodeId: string;
  readonly files = new Map<string, SharedFile>();
  readonly downloadedFiles = new Map<string, string[]>();
  readonly downloads = new Map<string, DownloadHandle>();
  readonly #options: PeerOptions;
  readonly #endpoint: UdpEndpoint;
  readonly #tracker: TrackerClient;
  readonly #uploader: Uploader;
  /** The download cap all sessions draw on. */
  readonly #budget: DownloadBudget;
  readonly #cache: ManifestCache;
  readonly #sessions = new Map<number, DownloadSession>();
  readonly #dir: string;
  readonly #outDir: string;
  #updateTimer: ReturnType<typeof setInterval> | undefined;
  #reportedUpload = 0;
  #closed: Promise<void> | undefined;
  /** Downloaded files whose OWN failed (tracker away), by content id; retried every update. */
  readonly #unannounced = new Map<string, OwnedFile>();
  readonly #malformedLogged = new Map<string, number>();
  /** Downloads in progress served as partial owners, by content id. */
  readonly #partials = new Map<
    string,
    { file: OwnedFile; have: { count: number }; announce: PartialAnnounce }
  >();
  /** Datagrams that failed to decode. */
  malformed = 0;
  /** Each socket's kernel receive buffer when raised (`receiveBuffer`), else undefined. */
  readonly #receiveBuffer: number | undefined;

  constructor(options: PeerOptions) {
    this.#options = options;
    this.nodeId = options.nodeId ?? randomNodeId();
    this.#dir = resolve(options.dir ?? ".");
    this.#outDir = resolve(options.outDir ?? this.#dir);
    this.#endpoint = UdpEndpoint.open({
      hostname: options.hostname ?? "127.0.0.1",
      port: options.port ?? 0,
    });
    this.#receiveBuffer = this.#raiseReceiveBuffer(this.#endpoint);
    const [tracker, ...fallbacks] = trackerAddresses(options.tracker ?? "127.0.0.1:6969");
    this.#tracker = new TrackerClient({
      tracker: tracker!,
      fallbacks,
      nodeId: this.nodeId,
      send: (bytes, to) => this.#endpoint.send(bytes, to),
      log: (line) => this.#log(line),
    });
    this.#budget = new DownloadBudget({
      ratePerSecond: options.maxDownloadRate ?? Infinity,
      now: performance.now(),
    });
    this.#uploader = new Uploader({
      send: (bytes, to) =>
        this.#endpoint.trySendNow(bytes, to) ? undefined : this.#endpoint.sendAndWait(bytes, to),
      ...(options.gso !== false
        ? {
          sendSegments: (b: Uint8Array, seg: number, to: Deno.NetAddr) =>
            this.#endpoint.trySendSegments(b, seg, to),
          coalesce: true,
        }
        : {}),
      ...(options.sendFile !== false
        ? {
          sendFile: {
            accepts: (fd, identity) => this.#endpoint.canSendFile(fd, identity),
            size: (fd) => this.#endpoint.fileSize(fd),
            fits: (bytes) => this.#endpoint.fileSendFits(bytes),
            send: (h, fd, off, len, to) => this.#endpoint.trySendFile(h, fd, off, len, to),
          },
        }
        : {}),
      uploadRate: options.maxUploadRate ?? Infinity,
      ...(options.cookieEpochMs !== undefined ? { cookieEpochMs: options.cookieEpochMs } : {}),
      ...(options.fairShare === false ? { fairShare: false } : {}),
      slots: options.uploadSlots === false ? false : {
        ...(options.uploadSlots !== undefined ? { slots: options.uploadSlots } : {}),
        creditOf: (host) => {
          let bytes = 0;
          for (const s of this.#sessions.values()) bytes += s.verifiedFromHost(host);
          return bytes;
        },
      },
    });
    this.#cache = new ManifestCache(options.cacheDir ?? resolve(this.#dir, ".udpswarm"));
    this.#endpoint.onDatagram((bytes, from) => this.#onDatagram(bytes, from));
  }

  get address() {
    return this.#endpoint.address;
  }

  get rateLimits(): RateLimits {
    return { upload: this.#uploader.uploadRate, download: this.#budget.ratePerSecond };
  }

  setRateLimits(limits: Partial<RateLimits>): void {
    // Check both before changing either
    for (const [k, v] of Object.entries(limits)) {
      if (v !== undefined && !(v > 0)) {
        throw new RangeError(`Cannot set the ${k} rate limit: it must be positive, got ${v}`);
      }
    }
    if (limits.upload !== undefined) this.#uploader.setUploadRate(limits.upload);
    if (limits.download !== undefined) {
      this.#budget.setRate(limits.download, performance.now());
      for (const s of this.#sessions.values()) s.rateChanged();
    }
  }

  get isInSendMode(): boolean {
    return this.files.size > 0;
  }

  async start(): Promise<void> {
    this.#log(
      `peer ${this.nodeId} listening on ${formatHostPort(this.#endpoint.localAddr)}`,
    );
    this.#log(receiveBufferNote(this.#receiveBuffer, this.#options.receiveBuffer));
    if (this.#endpoint.gso && this.#options.gso !== false) {
      this.#log("UDP GSO on: path-MTU-sized blocks leave up to 64 to a system call");
    }
    if (this.#endpoint.fileSend && this.#options.sendFile !== false) {
      this.#log("sendfile on: large blocks go from the page cache into the datagram uncopied");
    }
    await this.#tracker.start();
    this.#updateTimer = setInterval(() => this.#sendUpdate(), UPDATE_EVERY_MS);
  }

  #groLogged = false;

  /** Whether data sockets turn UDP GRO on ({@link PeerOptions.receiveGro}). */
  get #receiveGro(): boolean {
    const o = this.#options, mtu = o.mtu ?? 0;
    return (o.fastPath ?? true) && (o.receiveGro ?? (mtu > 0 && mtu <= GRO_MAX_MTU));
  }

  /** Asks for the option's receive buffer on `s` (socket_buffer.ts): what it got, or undefined. */
  #raiseReceiveBuffer(s: UdpEndpoint): number | undefined {
    const want = this.#options.receiveBuffer ?? DEFAULT_SOCKET_RECEIVE_BUFFER;
    if (this.#options.fastPath ?? true) s.useFastPath();
    return want > 0 ? raiseReceiveBuffer(s.localAddr, want) : undefined;
  }

  #log(line: string): void {
    this.#options.log?.(line);
  }

  async share(path: string): Promise<SharedFile> {
    const abs = resolve(this.#dir, path);
    const built = await this.#cache.getOrBuild(abs, this.#options.pieceSize);
    return await this.#publish(
      abs,
      basename(abs),
      built.manifest,
      built.encoded,
      built.contentIdHex,
      built.contentId,
    );
  }

  async #publish(
    path: string,
    name: string,
    manifest: Manifest,
    encoded: Uint8Array,
    contentIdHex: string,
    contentId: Uint8Array,
  ): Promise<SharedFile> {
    this.#uploader.share({ path, manifest, encoded });
    await this.#tracker.own({ name, size: manifest.size, contentId });
    const file: SharedFile = {
      name,
      path,
      size: manifest.size,
      contentId: contentIdHex,
      pieces: manifest.pieceHashes.byteLength / 32,
    };
    this.files.set(contentIdHex, file);
    this.#log(`own ${name} ${contentIdHex} (${manifest.size} bytes)`);
    return file;
  }

  download(nameOrId: string, options: DownloadOptions = {}): DownloadHandle {
    if (this.#closed) {
      const signal = AbortSignal.abort(
        new TransferError("aborted", `Cannot download "${nameOrId}": the peer is closed`),
      );
      options = { ...options, signal };
    }
    const session = new DownloadSession(this.#sessionContext(), nameOrId, options);
    const key = `${nameOrId}#${session.txid}`;
    this.downloads.set(key, session);
    this.#sessions.set(session.txid, session);
    this.#totals.transfersStarted++;
    session.done.then(
      () => this.#totals.transfersCompleted++,
      () => this.#totals.transfersFailed++,
    ).finally(() => {
      this.downloads.delete(key);
      this.#sessions.delete(session.txid);
      this.#addTotals(session.progress);
    }).catch(() => {});
    return session;
  }

  /** Totals of finished downloads; running ones are added in {@link stats}. */
  readonly #totals = {
    transfersStarted: 0,
    transfersCompleted: 0,
    transfersFailed: 0,
    downloadedBytes: 0,
    retransmits: 0,
    badPieces: 0,
    ownersBanned: 0,
  };

  #addTotals(p: DownloadProgress | undefined, into = this.#totals): void {
    if (!p) return;
    into.downloadedBytes += p.receivedBytes;
    into.retransmits += p.retransmits;
    into.badPieces += p.badPieces;
    into.ownersBanned += p.ownersBanned ?? 0;
  }

  get stats(): PeerStats {
    const t = { ...this.#totals };
    for (const s of this.#sessions.values()) this.#addTotals(s.progress, t);
    return {
      ...t,
      transfersActive: this.#sessions.size,
      uploadedBytes: this.#uploader.uploadedBytes,
    };
  }

  list(pattern = "", options: ListOptions = {}): Promise<FileList> {
    const match = options.match ?? listMatchFor(pattern);
    return collectFileList(
      (cursor) => this.#tracker.list({ pattern, match, cursor }),
      options.limit,
    );
  }

  #sessionContext(): SessionContext {
    return {
      nodeId: this.nodeId,
      outDir: this.#outDir,
      maxOwners: this.#options.maxOwners ?? 4,
      mtu: this.#options.mtu ? Math.max(576, this.#options.mtu - 48) : 0,
      verifyInWorker: this.#options.verifyInWorker ?? false,
      maxBlock: this.#options.maxBlock ?? 0,
      receiveBuffer: this.#receiveBuffer,
      trace: this.#options.trace,
      budget: this.#budget,
      need: (want, max, exclude, partial) =>
        this.#tracker.need(want, max, exclude, partial ? NEED_PARTIAL : 0),
      swarm: true,
      ...((this.#options.shareDownloads ?? true) && (this.#options.sharePartial ?? true)
        ? { sharePort: this.#endpoint.localAddr.port }
        : {}),
      partial: (ev) => this.#partial(ev),
      report: (contentId, entries) =>
        void this.#tracker.report(contentId, entries).catch((e) =>
          this.#log(`REPORT failed: ${e instanceof Error ? e.message : e}`)
        ),
      send: (bytes, to) => this.#endpoint.send(bytes, to),
      openDataSocket: (this.#options.dataSockets ?? true)
        ? () => {
          const s = UdpEndpoint.open({ hostname: this.#endpoint.localAddr.hostname, port: 0 });
          if (this.#receiveGro && s.useFastPath({ gro: true }) && s.gro && !this.#groLogged) {
            this.#groLogged = true; // turned on before the first read; logged once per peer
            this.#log("UDP GRO on: download data sockets read a burst of datagrams per call");
          }
          this.#raiseReceiveBuffer(s);
          return s;
        }
        : undefined,
      log: (line) => this.#log(line),
      mapOwnerAddress: this.#options.mapOwnerAddress,
      loadResumeManifest: (id, name, outDir) => PartFile.loadManifest(outDir, name, id),
      openPart: async (a): Promise<PartStore> => {
        const part = await PartFile.open(a.outDir, a.name, a.contentIdHex, a.manifest, {
          overwrite: a.overwrite,
          encodedManifest: a.encodedManifest,
          directWrites: this.#options.directWrites ?? false,
        });
        if (part.freeBytesAtOpen === undefined) {
          this.#log(
            `free space on ${a.outDir} unknown (grant --allow-sys=statfs to check it before a download): a disk too small fails on a write`,
          );
        }
        return {
          verifiedPieces: part.verifiedPieces, // a live set: the partial share reads it
          partPath: part.paths.part,
          partIdentity: part.identity,
          resumeCheck: part.resumeCheck,
          markVerified: (i) => void part.markVerified(i),
          writePiece: (i, d) => part.writePiece(i, d),
          newPieceBuffer: part.newPieceBuffer,
          writePieceDirect: (i, d) => part.writePieceDirect(i, d),
          directWrites: () => part.directWrites,
          complete: () => part.complete(),
          close: () => part.close(),
        };
      },
      sharedPath: (id) => this.files.get(id)?.path,
      hasContent: (path, id) => this.#hasContent(path, id),
      completed: (result, manifest, encoded) => this.#completed(result, manifest, encoded),
    };
  }

  /**
   * Tells whether the file at `path` has content `id`: hashed with this peer's piece size (the
   * default for its size), and with 256 KiB pieces, the default of peers before
   * `defaultPieceSizeFor`, when that differs.
   */
  async #hasContent(path: string, id: string): Promise<boolean> {
    const built = await this.#cache.getOrBuild(path, this.#options.pieceSize);
    if (built.contentIdHex === id) return true;
    if (this.#options.pieceSize !== undefined || built.manifest.pieceSize === DEFAULT_PIECE_SIZE) {
      return false;
    }
    return (await this.#cache.getOrBuild(path, DEFAULT_PIECE_SIZE)).contentIdHex === id;
  }

  /**
   * Shares a finished download: served and listed in `files` at once, announced to the tracker
   * without holding back the download's result (an absent tracker takes ~8 s to time out), and
   * announced again on every update tick until the tracker takes it.
   */
  #completed(result: DownloadResult, manifest: Manifest, encoded: Uint8Array): Promise<void> {
    this.downloadedFiles.set(result.name, result.owners.map((o) => o.nodeId));
    if (!(this.#options.shareDownloads ?? true)) return Promise.resolve();
    this.#uploader.share({ path: result.path, manifest, encoded, superSeed: false });
    this.files.set(result.contentId, {
      name: result.name,
      path: result.path,
      size: manifest.size,
      contentId: result.contentId,
      pieces: manifest.pieceHashes.byteLength / 32,
    });
    const contentId = fromHex(result.contentId)!;
    this.#announce(result.contentId, { name: result.name, size: manifest.size, contentId });
    return Promise.resolve();
  }

  /**
   * A download in progress (swarming): served from its `.part` file from the first verified
   * piece, announced with its progress (OWN with `progress`, at most every update tick), and
   * dropped from the uploader if it fails. Off with `shareDownloads: false` or
   * `sharePartial: false`.
   */
  #partial(ev: PartialEvent): void {
    const o = this.#options;
    if (!(o.shareDownloads ?? true) || !(o.sharePartial ?? true) || this.#closed) return;
    const now = performance.now();
    switch (ev.kind) {
      case "opened": {
        if (this.files.has(ev.contentIdHex)) return;
        const verified = ev.part.verifiedPieces as Iterable<number> & {
          has(i: number): boolean;
          count: number;
        };
        try {
          this.#uploader.share({
            path: ev.part.partPath,
            manifest: ev.manifest,
            encoded: ev.encoded,
            have: verified,
            superSeed: false,
          });
        } catch (e) {
          this.#log(
            `cannot serve ${ev.name} while it downloads: ${e instanceof Error ? e.message : e}`,
          );
          return;
        }
        const contentId = fromHex(ev.contentIdHex)!;
        const pieces = ev.manifest.pieceHashes.byteLength / 32;
        this.#partials.set(ev.contentIdHex, {
          file: { name: ev.name, size: ev.manifest.size, contentId },
          have: verified,
          announce: new PartialAnnounce({ pieces, everyMs: UPDATE_EVERY_MS }),
        });
        this.#ownPartial(ev.contentIdHex, now);
        return;
      }
      case "verified":
        if (!this.#partials.has(ev.contentIdHex)) return;
        this.#uploader.noteVerified(ev.contentIdHex, ev.index, now);
        this.#ownPartial(ev.contentIdHex, now);
        return;
      case "ended":
        if (!this.#partials.delete(ev.contentIdHex)) return;
        if (!ev.completed && !this.files.has(ev.contentIdHex)) {
          this.#uploader.unshare(ev.contentIdHex);
        }
        return;
    }
  }

  /** OWN with the progress of a partial download when PartialAnnounce says so. */
  #ownPartial(hex: string, now: number): void {
    const p = this.#partials.get(hex);
    if (!p) return;
    const progress = p.announce.due(p.have.count, now);
    if (progress === undefined) return;
    this.#tracker.own({ ...p.file, progress }).catch((e) =>
      this.#log(
        `could not announce ${p.file.name} in progress: ${e instanceof Error ? e.message : e}`,
      )
    );
  }

  #announce(key: string, file: OwnedFile): void {
    this.#unannounced.delete(key);
    this.#tracker.own(file).then(
      () => this.#log(`own ${file.name} ${key} (${file.size} bytes)`),
      (e) => {
        if (this.#closed || !this.files.has(key)) return;
        this.#unannounced.set(key, file);
        this.#log(
          `could not announce ${file.name} after download, trying again: ${
            e instanceof Error ? e.message : e
          }`,
        );
      },
    );
  }

  #onDatagram(bytes: Uint8Array, from: Deno.NetAddr): void {
    // Fast path: block data for a running download.
    const blockTxid = blockDataTxid(bytes);
    if (blockTxid >= 0) {
      this.#sessions.get(blockTxid)?.onBlockData(bytes, from);
      return;
    }
    if (this.#tracker.handleDatagram(bytes, from)) return;
    let msg;
    try {
      msg = decodeMessage(bytes);
    } catch (e) {
      this.malformed++;
      const key = addressKey(from);
      const now = performance.now();
      const last = this.#malformedLogged.get(key);
      if (last === undefined || now - last > MALFORMED_LOG_EVERY_MS) {
        if (this.#malformedLogged.size > 1024) this.#malformedLogged.clear();
        this.#malformedLogged.set(key, now);
        this.#log(
          `dropped malformed datagram from ${formatHostPort(from)}: ${
            e instanceof Error ? e.message : e
          }`,
        );
      }
      return;
    }
    switch (msg.type) {
      case "manifest_request":
      case "block_request":
        this.#uploader.handleRequest(msg, from, performance.now());
        return;
      case "probe":
        this.#uploader.handleProbe(msg, from, performance.now());
        return;
      case "sharer":
        if (!this.#uploader.checkSharer(msg, from, performance.now())) return;
        for (const s of this.#sessions.values()) s.addSharer(msg, from);
        return;
      case "bitfield":
        if (!msg.reply) this.#uploader.handleBitfield(msg, from, performance.now());
        else this.#sessions.get(msg.txid)?.onMessage(msg, from);
        return;
      case "probe_ack":
      case "manifest_data":
      case "error":
      case "have":
        this.#sessions.get(msg.txid)?.onMessage(msg, from);
        return;
      default:
        return;
    }
  }

  #sendUpdate(): void {
    if (!this.#closed) { for (const [key, file] of this.#unannounced) this.#announce(key, file); }
    if (!this.#closed) {
      for (const hex of this.#partials.keys()) this.#ownPartial(hex, performance.now());
    }
    const total = this.#uploader.uploadedBytes;
    const delta = total - this.#reportedUpload;
    if (delta <= 0) return;
    this.#reportedUpload = total;
    this.#tracker.update(delta).catch((e) =>
      this.#log(`UPDATE failed: ${e instanceof Error ? e.message : e}`)
    );
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      clearInterval(this.#updateTimer);
      const running = [...this.#sessions.values()];
      for (const s of running) s.cancel();
      await Promise.allSettled(running.map((s) => s.done));
      this.#sendUpdate();
      try {
        await this.#tracker.exit();
        this.#log(
          this.#tracker.exitAcknowledged
            ? `exit: told the tracker`
            : `exit: not registered with the tracker, nothing to tell it`,
        );
      } catch (e) {
        this.#log(`exit: the tracker did not acknowledge (${e instanceof Error ? e.message : e})`);
      }
      await this.#tracker.close();
      this.#uploader.close();
      await this.#endpoint.close();
    })();
    return this.#closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
