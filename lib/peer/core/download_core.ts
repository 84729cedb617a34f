/**
 * One download as a sans-I/O state machine: every rule of a download that is not block
 * scheduling (that is the {@link DownloadEngine}'s) lives here.
 *
 * - The phases: ask the tracker (NEED) → check the target → probe the path MTU and every owner
 *   for its address cookie ({@link MtuProbe}, {@link CookieProbe}) → load a resume manifest or
 *   fetch one from the owners ({@link ManifestFetch}) → open the `.part` file → transfer
 *   ({@link DownloadEngine}) → complete the file.
 * - Owners' addresses ({@link OwnerAddresses}): an owner listed at a new address (it
 *   restarted) is reached there, with a new cookie. Everything sent to one owner (PROBEs,
 *   manifest and block requests) leaves from one socket, the owner's data socket when it has one:
 *   its address cookie is bound to that socket's address and port.
 * - Routing: PROBE_ACK, MANIFEST_DATA, ERROR (a refused cookie is renewed) and BLOCK_DATA to the
 *   sub-core of the running phase.
 * - Owners running out: re-ask the tracker at most every second, give up after 8 s with no live
 *   owner.
 * - Progress ({@link ProgressMeter}): a report every 250 ms (a smoothed rate) and a final one.
 *
 * Drive it with `start`, `handle*(…, now)`, `cancel` / `abort` / `fail`; after every call drain
 * `pollEvent()` (the driver's jobs: tracker calls, disk, logs, progress, the outcome; a
 * `write_piece` view is valid until the next call into the core), then `pollTransmit()`
 * (datagrams), then re-arm one timer at `pollTimeout()` and call `handleTimeout(now)` when it
 * fires. No sockets, timers, clock or disk. A driver that reads datagrams in bursts may wrap
 * one burst in {@link DownloadCore.startBatch} / {@link DownloadCore.endBatch}: the blocks are
 * taken one by one, the requests and events they lead to are worked out once, at the end.
 *
 * Over 600 lines: one phase machine whose phases hand their state (owners, cookies, datagram
 * size, manifest) to the next; the sub-cores it drives each have their own file.
 * @module
 */
import { formatHostPort } from "../../net/host_port.ts";
import { join } from "node:path";
import { decodeMessage, encodeMessage } from "../../wire/codec.ts";
import { blockDataTxid, readBlockDataOffset } from "../../wire/block_data.ts";
import { BLOCK_DATA_HEADER_SIZE, MAX_DATAGRAM, SAFE_DATAGRAM } from "../../wire/limits.ts";
import {
  ErrorCode,
  type Message,
  type NeedTarget,
  type OwnerEntry,
  type OwnersMessage,
} from "../../wire/messages.ts";
import type { DownloadProgress, DownloadResult } from "../api.ts";
import { decodeManifest, type Manifest } from "../manifest.ts";
import { fromHex, toHex } from "../../wire/hex.ts";
import type { PieceVerdict } from "../piece_writer.ts";
import { safeName } from "../safe_name.ts";
import { TransferError } from "../transfer_error.ts";
import { BlockLayout, DEFAULT_MAX_BLOCK } from "./block_layout.ts";
import { CookieProbe } from "./cookie_probe.ts";
import { DownloadEngine } from "./download_engine.ts";
import { manifestBound, ManifestFetch } from "./manifest_fetch.ts";
import { MtuProbe, PROBE_SIZES } from "./mtu_probe.ts";
import { defaultDatagramCap, isLoopback } from "./datagram_cap.ts";
import { inFlightBudget } from "./receive_budget.ts";
import { SwarmView } from "./swarm_view.ts";
import { CHOKE_RETRY_MS } from "./upload_slots.ts";
import { MAX_DATA_SOCKETS, OwnerAddresses } from "./owner_addresses.ts";
import { canonicalAddress } from "../../wire/address.ts";
import { ProgressMeter } from "./progress_meter.ts";
import type {
  DownloadCoreEvent,
  DownloadCoreOptions,
  DownloadTransmit,
  OpenedPart,
} from "./download_core_event.ts";

/** A query that is a content id (64 hex digits) rather than a name. */
const CONTENT_ID = /^[0-9a-fA-F]{64}$/;

/** Re-asks the tracker at most this often when owners run out, ms. */
export const RENEED_MS = 1000;
/** With no live owner for this long, the download fails, ms. */
export const NO_OWNER_GIVE_UP_MS = 8000;
/** During a transfer, the verified bytes per owner go to the tracker (REPORT) this often, ms. */
export const REPORT_EVERY_MS = 30_000;
/** While swarming with a single owner (a sharing download's start), the tracker is asked this often, ms. */
export const SWARM_START_RENEED_MS = 250;
/** Sharers (SHARER) a download takes beyond the owners the tracker lists it. */
export const MAX_SHARERS = 16;
/**
 * While swarming, a block request asks for at least this many blocks (at most half the owner's
 * window; DownloadEngine's `minBatchBlocks`): requests use the downloader's upload, which the swarm
 * needs.
 */
export const SWARM_MIN_BATCH_BLOCKS = 4;
/**
 * A swarming download's initial congestion window per owner, blocks (DownloadEngine's
 * `initialWindowBlocks`; 4 otherwise): an uploader serves nine requesters at once, whose first
 * windows would otherwise overflow its queue together.
 */
export const SWARM_INITIAL_WINDOW_BLOCKS = 1;
/** While swarming, the tracker is asked for new owners this often, ms. */
export const SWARM_RENEED_MS = 3000;

type Phase =
  | "idle"
  | "resolve"
  | "target"
  | "probe"
  | "resume"
  | "manifest"
  | "part"
  | "transfer"
  | "complete"
  | "finished";

/**
 * See the module doc.
 *
 * @example The first steps: ask the tracker, then check the target
 * ```ts
 * import assert from "node:assert/strict";
 * import { DownloadCore } from "./download_core.ts";
 *
 * const core = new DownloadCore({
 *   query: "notes.txt", txid: 1, nodeId: "me", outDir: "/tmp", maxOwners: 4,
 *   mtu: 0, maxBlock: 0, verifyInWorker: false, dataSockets: false,
 * });
 * core.start(0);
 * assert.deepEqual(core.pollEvent(), {
 *   kind: "need", want: { kind: "name", name: "notes.txt" }, maxOwners: 4,
 * });
 * core.handleNeedFailed(Object.assign(new Error("not found"), { code: "not_found" }), 5);
 * const ev = core.pollEvent();
 * assert.equal(ev?.kind === "failed" && (ev.error as Error).message,
 *   'Cannot download "notes.txt": no peer shares it');
 * ```
 */
export class DownloadCore {
  /** This download's transfer id. */
  readonly txid: number;
  readonly #o: DownloadCoreOptions;
  #phase: Phase = "idle";
  readonly #events: DownloadCoreEvent[] = [];
  readonly #transmits: DownloadTransmit[] = [];
  /** The running phase's next deadline (the one timer), apart from progress. */
  #deadline: number | undefined;
  readonly #meter = new ProgressMeter();
  #progress: DownloadProgress | undefined;
  #started = 0;
  /** Owners by node id and by address, and which use a data socket. */
  readonly #owners: OwnerAddresses;
  /** Owners' address cookies: every request to an owner carries its cookie. */
  readonly #cookies: CookieProbe;
  #probe: MtuProbe | undefined;
  #probeOwner: string | undefined;
  #maxDatagram = SAFE_DATAGRAM;
  #fetch: ManifestFetch | undefined;
  /** An owner answered a manifest request busy (a crowd): look for other owners meanwhile. */
  #manifestBusy = false;
  #engine: DownloadEngine | undefined;
  #swarm: SwarmView | undefined;
  #manifest: Manifest | undefined;
  #encoded: Uint8Array | undefined;
  #listedOwners: OwnerEntry[] = [];
  #contentId: Uint8Array | undefined;
  #contentIdHex = "";
  #name = "";
  #size = 0;
  #lastNeed = -Infinity;
  #needing = false;
  #noOwnerSince: number | undefined;
  /** Owners that failed us: left out of re-NEEDs (the tracker may still list them). */
  readonly #failedOwners = new Set<string>();
  /** Verified bytes per owner already reported, and when to report next. */
  readonly #reported = new Map<string, number>();
  #reportAt = Infinity;
  /** When the first NEED was asked for. */
  #needAt = 0;
  /** Owners told that this peer shares the download too (SHARER). */
  readonly #greeted = new Set<string>();
  /** Owners that answered ERROR choked (upload_slots.ts): paused until then. */
  readonly #chokedUntil = new Map<string, number>();
  /** Inside {@link startBatch} … {@link endBatch}: BLOCK_DATA does not pump. */
  #batching = false;

  /**
   * Creates an idle download; nothing happens before {@link DownloadCore.start}.
   *
   * @param options what to download, where to, and the peer's tuning
   */
  constructor(options: DownloadCoreOptions) {
    this.#o = options;
    this.txid = options.txid;
    this.#owners = new OwnerAddresses({
      selfId: options.nodeId,
      dataSockets: options.dataSockets,
      mapAddress: options.mapOwnerAddress,
    });
    this.#cookies = new CookieProbe({
      size: options.mtu > 0 ? Math.min(SAFE_DATAGRAM, options.mtu) : SAFE_DATAGRAM,
      copies: 2,
    });
  }

  /** True once the download succeeded or failed: every later call is ignored. */
  get finished(): boolean {
    return this.#phase === "finished";
  }

  /**
   * Another downloader of this content said it serves what it verifies (a SHARER whose address
   * cookie the uploader checked): it is taken as a partial owner, probed at `port` of the
   * address the SHARER came from, and used once its PROBE_ACK and BITFIELD reply come. A claim
   * only: an owner known already (under any address) is left as it is, and at most
   * {@link MAX_SHARERS} are taken beyond the owners in use.
   *
   * @param contentIdHex the content it downloads (nothing happens unless it is this one's)
   * @param nodeId its node id
   * @param hostname the (proven) address the SHARER came from
   * @param port the port it says it serves on
   * @param now the time, ms
   */
  addSharer(
    contentIdHex: string,
    nodeId: string,
    hostname: string,
    port: number,
    now: number,
  ): void {
    const engine = this.#engine;
    if (this.#phase !== "transfer" || !engine || !this.#swarm) return;
    if (contentIdHex.toLowerCase() !== this.#contentIdHex.toLowerCase()) return;
    if (nodeId === this.#o.nodeId || this.#failedOwners.has(nodeId)) return;
    if (this.#owners.addressOf(nodeId) !== undefined || engine.isBanned(nodeId)) return;
    if (engine.liveOwnerCount >= 2 * this.#o.maxOwners + MAX_SHARERS) return;
    let address;
    try {
      address = canonicalAddress(hostname, port);
    } catch {
      return;
    }
    this.#swarm.noteListed(nodeId, 0);
    this.#addOwners([{ nodeId, address, rate: 0 }]);
    this.#cookies.add(nodeId, now); // added to the engine once it answers the PROBE
    this.#pump(now);
  }

  /**
   * Verified file bytes this download received from owners on `host` so far (the credit of
   * upload slots' tit-for-tat, upload_slots.ts).
   *
   * @param host an IP address
   * @returns bytes
   */
  verifiedFromHost(host: string): number {
    let bytes = 0;
    for (const [owner, n] of this.#engine?.deliveredByOwner ?? []) {
      if (this.#owners.addressOf(owner)?.hostname === host) bytes += n;
    }
    return bytes;
  }

  /** The latest progress report, undefined before the first. */
  get progress(): DownloadProgress | undefined {
    return this.#progress;
  }

  /** Starts the download: the first event asks the tracker. */
  start(now: number): void {
    if (this.#phase !== "idle") return;
    this.#started = now;
    this.#phase = "resolve";
    const id = CONTENT_ID.test(this.#o.query) ? fromHex(this.#o.query) : null;
    const want: NeedTarget = id
      ? { kind: "content", contentId: id }
      : { kind: "name", name: this.#o.query };
    this.#needAt = now;
    this.#events.push({
      kind: "need",
      want,
      maxOwners: this.#o.maxOwners,
      ...(this.#o.swarm ? { partial: true as const } : {}),
    });
  }

  /** Stops the download (the `.part` file is kept for a resume). */
  cancel(reason = "the peer is shutting down"): void {
    this.fail(
      new TransferError("aborted", `Download of "${this.#o.query}" stopped: ${reason}`),
    );
  }

  /** The caller's AbortSignal fired: fails with its reason if that is a `TransferError`. */
  abort(reason?: unknown): void {
    this.fail(
      reason instanceof TransferError
        ? reason
        : new TransferError("aborted", `Download of "${this.#o.query}" was cancelled`),
    );
  }

  /** Fails the download with `error` (what a driver's disk or tracker call threw). */
  fail(error: unknown): void {
    if (this.#phase === "finished") return;
    this.#emitReport();
    this.#finish();
    this.#events.push({ kind: "failed", error });
  }

  /** The tracker answered a NEED. */
  handleNeedReply(reply: OwnersMessage, now: number): void {
    this.#guard(() => {
      if (this.#phase === "resolve") {
        // The tracker's round trip: the best guess at the owners' until one answers a PROBE
        this.#cookies.hintRtt(now - this.#needAt, now);
        return this.#resolved(reply);
      }
      this.#needing = false;
      if (this.#phase === "transfer") this.#addListed(reply, now);
      else if (this.#phase === "probe" || this.#phase === "manifest") this.#addProbed(reply, now);
      this.#pump(now);
    });
  }

  /** A NEED failed (no answer, or an ERROR whose `code` is `not_found` or another). */
  handleNeedFailed(error: unknown, now: number): void {
    if (this.#phase === "resolve") {
      const q = this.#o.query;
      const code = (error as { code?: unknown }).code;
      return this.fail(
        code === ErrorCode.not_found || code === "not_found"
          ? new TransferError("not_found", `Cannot download "${q}": no peer shares it`, {
            cause: error,
          })
          : new TransferError(
            "no_owners",
            `Cannot download "${q}": the tracker did not answer (${errorText(error)})`,
            { cause: error },
          ),
      );
    }
    this.#log(`re-asking the tracker for owners failed: ${errorText(error)}`);
    this.#needing = false;
    this.#guard(() => this.#pump(now));
  }

  /**
   * Answers `check_target`: a shared file with this content id, whether the path exists, and
   * whether the existing file already has this content (then nothing is downloaded).
   */
  handleTargetChecked(
    target: { sharedPath: string | undefined; exists: boolean; sameContent?: boolean },
    now: number,
  ): void {
    if (this.#phase !== "target") return;
    if (target.sharedPath !== undefined) {
      this.#log(`already have ${this.#name} (${target.sharedPath}); nothing to download`);
      return this.#succeed({ ...this.#result(target.sharedPath, now, [], 0), alreadyHad: true });
    }
    const path = join(this.#o.outDir, this.#name);
    if (target.exists && target.sameContent) {
      this.#log(`already have ${this.#name} (${path} has this content); nothing to download`);
      return this.#succeed({ ...this.#result(path, now, [], 0), alreadyHad: true });
    }
    if (target.exists) {
      return this.fail(
        new TransferError(
          "exists",
          `Cannot save ${this.#name}: ${path} exists with other content; pass overwrite to replace it`,
        ),
      );
    }
    this.#guard(() => {
      this.#addOwners(this.#listedOwners);
      if (this.#owners.size === 0) {
        throw new TransferError(
          "no_owners",
          `Cannot download ${this.#name}: no other peer shares it right now`,
        );
      }
      this.#meter.start(now);
      this.#startProbe(now);
    });
  }

  /** Answers `load_resume_manifest`: the stored manifest, or undefined to fetch it. */
  handleManifestLoaded(encoded: Uint8Array | undefined, now: number): void {
    if (this.#phase !== "resume") return;
    this.#guard(() => encoded ? this.#manifestReady(encoded) : this.#startFetch(now));
  }

  /** Answers `open_part`: the transfer starts. */
  handlePartOpened(part: OpenedPart, now: number): void {
    if (this.#phase !== "part") return;
    this.#guard(() => this.#startTransfer(part, now));
  }

  /** Answers `verify_piece`: the piece was verified (and written if good) off the loop. */
  handlePieceVerdict(v: PieceVerdict, now: number): void {
    const engine = this.#engine;
    if (!engine || this.#phase === "finished") return;
    if (v.error) {
      return this.fail(
        new TransferError(
          "disk",
          `Cannot write ${this.#name}: ${v.error.message} (${v.error.code}); verified pieces are kept in the .part file for a resume`,
        ),
      );
    }
    if (v.ok) this.#events.push({ kind: "mark_verified", index: v.index });
    engine.handleVerified(v.index, v.ok, now, v.buffer);
    this.#pump(now);
  }

  /** Answers `complete_file`: the file is complete under its final `path`. */
  handleFileCompleted(path: string, now: number): void {
    const engine = this.#engine;
    if (this.#phase !== "complete" || !engine) return;
    this.#emitProgress(now); // the final state, even if no 250 ms tick came
    const owners = [...engine.deliveredByOwner].filter(([, b]) => b > 0)
      .map(([nodeId, bytes]) => ({ nodeId, bytes }));
    const result = this.#result(path, now, owners, engine.resumedBytes);
    this.#emitReport();
    this.#log(
      `completed ${this.#name}: ${result.size} bytes in ${result.elapsedMs.toFixed(0)} ms ` +
        `(${(result.size / 1048.576 / Math.max(1, result.elapsedMs)).toFixed(1)} MiB/s), ` +
        `owners ${owners.map((o) => `${o.nodeId}=${o.bytes}`).join(" ")}, ` +
        `retransmits ${result.retransmits}, bad pieces ${result.badPieces}, resumed ${result.resumedBytes}` +
        `, unasked blocks ${engine.stats.unaskedBlocks} (${engine.stats.unaskedBytes} bytes, never used)` +
        `, stray blocks ${engine.stats.strayBlocks}`,
    );
    this.#succeed(result, this.#manifest, this.#encoded);
  }

  /** Any datagram for this download (from the peer's socket or an owner's data socket). */
  handleDatagram(bytes: Uint8Array, from: Deno.NetAddr, now: number): void {
    const txid = blockDataTxid(bytes);
    if (txid >= 0) {
      if (txid === this.txid) this.handleBlockData(bytes, from, now);
      return;
    }
    let msg: Message;
    try {
      msg = decodeMessage(bytes);
    } catch {
      return; // not ours
    }
    if (msg.txid === this.txid) this.handleMessage(msg, from, now);
  }

  /** The BLOCK_DATA fast path: `bytes` is the whole datagram (a view into a reused buffer). */
  handleBlockData(bytes: Uint8Array, from: Deno.NetAddr, now: number): void {
    this.#takeBlock(bytes, bytes.subarray(BLOCK_DATA_HEADER_SIZE), from, now);
  }

  /**
   * Where a data socket may read the payload of the next datagram from `owner` (the engine's
   * {@link DownloadEngine.expectedSlot}), or undefined. None while any event is waiting for the
   * driver: a `write_piece` holds a view of a piece buffer the engine may already have handed to
   * a new piece (a pump inside a burst, on a message other than BLOCK_DATA), whose slot the
   * kernel would then overwrite before the piece is written.
   */
  expectedSlot(owner: string): Uint8Array | undefined {
    return this.#events.length === 0 ? this.#engine?.expectedSlot(owner) : undefined;
  }

  /**
   * A datagram read in two parts: `head`, its first {@link BLOCK_DATA_HEADER_SIZE} bytes, and
   * `body`, the rest (read straight into the slot {@link expectedSlot} named, which makes it a
   * block copied nowhere when it is the block expected).
   *
   * @returns true when taken (BLOCK_DATA, for this download or not); false for any other
   *   message, untouched (hand the whole datagram to {@link handleDatagram})
   */
  handleBlockParts(head: Uint8Array, body: Uint8Array, from: Deno.NetAddr, now: number): boolean {
    const txid = blockDataTxid(head);
    if (txid < 0) return false;
    if (txid === this.txid) this.#takeBlock(head, body, from, now);
    return true;
  }

  #takeBlock(head: Uint8Array, data: Uint8Array, from: Deno.NetAddr, now: number): void {
    const engine = this.#engine;
    if (!engine) return;
    const owner = this.#owners.ownerAt(from);
    if (owner === undefined) return;
    engine.handleBlock(owner, readBlockDataOffset(head), data, now);
    this.#meter.count(data.byteLength);
    if (!this.#batching) this.#pump(now);
  }

  /**
   * Starts a burst of datagrams read at once: until {@link endBatch}, BLOCK_DATA is taken
   * without working out the requests and events it leads to (a block request then asks for the
   * room the whole burst freed). Other messages are handled as ever.
   */
  startBatch(): void {
    this.#batching = true;
  }

  /** Ends the burst {@link startBatch} began: the requests and events of its blocks, now. */
  endBatch(now: number): void {
    if (!this.#batching) return;
    this.#batching = false;
    this.#pump(now);
  }

  /**
   * A decoded answer for this download: PROBE_ACK, MANIFEST_DATA, ERROR, BLOCK_DATA, or (when
   * swarming) a BITFIELD reply or a HAVE.
   */
  handleMessage(msg: Message, from: Deno.NetAddr, now: number): void {
    const owner = this.#owners.ownerAt(from);
    if (owner === undefined) return;
    switch (msg.type) {
      case "probe_ack":
        this.#cookies.handleAck(owner, msg.cookie, now);
        if (this.#probe && this.#probeOwner === undefined) this.#probeOwner = owner;
        if (owner === this.#probeOwner && this.#probe) this.#probe.handleAck(msg.size, now);
        break;
      case "manifest_data":
        if (!this.#fetch) return;
        this.#fetch.handleData(owner, msg.total, msg.offset, msg.data, now);
        break;
      case "error":
        this.#onError(owner, msg.code, msg.text, now);
        break;
      case "block_data":
        if (!this.#engine) return;
        this.#engine.handleBlock(owner, msg.offset, msg.data, now);
        this.#meter.count(msg.data.byteLength);
        break;
      case "bitfield":
        if (!this.#engine || !this.#swarm) return;
        this.#swarm.handleBitfield(owner, msg, this.#engine, now);
        break;
      case "have":
        if (!this.#engine || !this.#swarm) return;
        this.#swarm.handleHave(owner, msg, this.#engine);
        break;
      default:
        return;
    }
    this.#pump(now);
  }

  /** The timer fired: sub-cores' deadlines, and the progress report. */
  handleTimeout(now: number): void {
    if (this.#meter.tick(now)) this.#emitProgress(now);
    if (this.#deadline === undefined || now < this.#deadline) return;
    this.#guard(() => {
      switch (this.#phase) {
        case "probe":
          this.#probe?.handleTimeout(now);
          break;
        case "manifest":
          this.#fetch!.handleTimeout(now);
          break;
        case "transfer":
          this.#engine!.handleTimeout(now);
          break;
        default:
          return;
      }
      this.#cookies.handleTimeout(now);
      this.#pump(now);
    });
  }

  /**
   * The peer's download cap changed: the engine asks again now rather than at the wake-up the
   * old cap set.
   *
   * @param now the time, ms
   */
  handleRateChange(now: number): void {
    if (this.#phase !== "transfer") return;
    this.#deadline = now;
    this.handleTimeout(now);
  }

  /** The next thing for the driver to do, or undefined. */
  pollEvent(): DownloadCoreEvent | undefined {
    return this.#events.length === 0 ? undefined : this.#events.shift();
  }

  /** The next datagram to send, or undefined. */
  pollTransmit(): DownloadTransmit | undefined {
    return this.#transmits.length === 0 ? undefined : this.#transmits.shift();
  }

  /** When to call {@link handleTimeout}, or undefined. */
  pollTimeout(): number | undefined {
    return earliest(this.#deadline, this.#meter.dueAt);
  }

  // ---- phases ----

  #resolved(reply: OwnersMessage): void {
    if (reply.alternatives > 0 && !CONTENT_ID.test(this.#o.query)) {
      // A name is not an identity: never pick one of several contents silently.
      throw new TransferError(
        "ambiguous",
        `Cannot download "${this.#o.query}": ${
          reply.alternatives + 1
        } different contents share this name; choose one by content id`,
      );
    }
    this.#contentId = reply.contentId;
    this.#contentIdHex = toHex(reply.contentId);
    this.#size = reply.size;
    this.#log(
      `need ${this.#o.query}: content ${
        this.#contentIdHex.slice(0, 16)
      }… ${reply.size} bytes, ${reply.owners.length} owner(s)` +
        (reply.alternatives > 0 ? `, ${reply.alternatives} other content(s) share this name` : ""),
    );
    this.#name = safeName(this.#o.saveAs ?? reply.name);
    this.#listedOwners = reply.owners;
    this.#phase = "target";
    this.#events.push({
      kind: "check_target",
      contentIdHex: this.#contentIdHex,
      path: join(this.#o.outDir, this.#name),
      checkExists: !this.#o.overwrite,
      size: reply.size,
    });
  }

  /**
   * Probes the path MTU to the first owner, and every owner for its address cookie (the MTU
   * probe's ACKs carry the first owner's). Done once the MTU is known, some owner's cookie is,
   * and no owner is still in its first PROBE's timeout: the others join when they answer.
   */
  #startProbe(now: number): void {
    for (const owner of this.#owners.owners()) this.#cookies.add(owner, now);
    // A block cap above what the largest default probe carries asks for up to 64 KiB datagrams
    // With neither, owners on other hosts get datagrams that fragment less (datagram_cap.ts)
    const cap = this.#o.mtu > 0
      ? this.#o.mtu
      : this.#o.maxBlock > PROBE_SIZES[0] - BLOCK_DATA_HEADER_SIZE
      ? MAX_DATAGRAM
      : this.#o.maxBlock > 0
      ? undefined
      : defaultDatagramCap(this.#ownerHostnames());
    if (cap === undefined || cap > SAFE_DATAGRAM) {
      // Probed against the first owner that answers its cookie PROBE: a listed owner may be
      // gone (or stopped), and probing it would settle on 1200-byte datagrams for everyone.
      this.#probe = new MtuProbe(cap !== undefined ? { max: cap, copies: 2 } : { copies: 2 });
      this.#probeOwner = undefined;
    } else {
      this.#maxDatagram = cap;
    }
    this.#phase = "probe";
    this.#pump(now);
  }

  *#ownerHostnames(): Generator<string> {
    for (const owner of this.#owners.owners()) {
      const a = this.#owners.addressOf(owner);
      if (a) yield a.hostname;
    }
  }

  #probeDone(): void {
    const probe = this.#probe;
    this.#probe = undefined;
    if (probe) {
      this.#log(`path to ${this.#probeOwner} carries ${probe.result}-byte datagrams`);
      this.#maxDatagram = probe.result;
    }
    this.#await("resume");
    this.#events.push({
      kind: "load_resume_manifest",
      contentIdHex: this.#contentIdHex,
      name: this.#name,
      outDir: this.#o.outDir,
    });
  }

  #startFetch(now: number): void {
    const fetch = new ManifestFetch({
      contentId: this.#contentId!,
      maxDatagram: this.#maxDatagram,
      maxBytes: manifestBound(this.#size),
      ...this.#rttOption(),
    });
    for (const owner of this.#owners.owners()) {
      if (this.#cookies.has(owner)) fetch.addOwner(owner);
    }
    this.#fetch = fetch;
    this.#phase = "manifest";
    this.#pump(now);
  }

  #manifestReady(encoded: Uint8Array): void {
    let manifest: Manifest;
    try {
      manifest = decodeManifest(encoded);
    } catch (e) {
      throw new TransferError(
        "bad_manifest",
        `Cannot download ${this.#name}: its manifest is malformed (${String(e)})`,
      );
    }
    const expected = this.#o.expectedSize;
    if (expected !== undefined && manifest.size !== expected) {
      throw new TransferError(
        "size_mismatch",
        `Cannot download ${this.#name}: content ${this.#contentIdHex} is ${manifest.size} bytes, ` +
          `the link says ${expected}; the link is wrong or was altered`,
      );
    }
    if (manifest.size !== this.#size) {
      this.#log(
        `manifest says ${manifest.size} bytes, tracker said ${this.#size}; trusting the verified manifest`,
      );
      this.#size = manifest.size;
    }
    this.#manifest = manifest;
    this.#encoded = encoded;
    this.#await("part");
    this.#events.push({
      kind: "open_part",
      outDir: this.#o.outDir,
      name: this.#name,
      contentIdHex: this.#contentIdHex,
      manifest,
      encodedManifest: encoded,
      overwrite: this.#o.overwrite ?? false,
    });
  }

  #startTransfer(part: OpenedPart, now: number): void {
    const o = this.#o;
    const manifest = this.#manifest!;
    const blockSize = BlockLayout.blockSizeFor(
      manifest.pieceSize,
      this.#maxDatagram,
      o.maxBlock > 0 ? o.maxBlock : DEFAULT_MAX_BLOCK,
    );
    const perSocket = inFlightBudget(blockSize, BLOCK_DATA_HEADER_SIZE, o.receiveBuffer);
    // Swarming adds owners as they appear: room for as many as a NEED lists
    const ownerCount = Math.max(1, this.#owners.size, o.swarm ? o.maxOwners : 1);
    const engine = new DownloadEngine({
      manifest,
      blockSize,
      maxInFlight: perSocket * (o.dataSockets ? Math.min(MAX_DATA_SOCKETS, ownerCount) : 1),
      maxOwnerInFlight: perSocket,
      verifiedPieces: part.verifiedPieces,
      wantOwners: Math.min(this.#owners.size, o.maxOwners),
      verifyInWorker: o.verifyInWorker || part.newPieceBuffer !== undefined,
      trace: o.trace,
      budget: o.budget?.join(),
      // No uplink queue to burst into on loopback: larger requests past slow start
      noUplinkQueue: (owner) => isLoopback(this.#owners.addressOf(owner)?.hostname ?? ""),
      ...(o.verifyInWorker
        ? { newPieceBuffer: (size: number) => new Uint8Array(new SharedArrayBuffer(size)) }
        : part.newPieceBuffer
        ? { newPieceBuffer: part.newPieceBuffer }
        : {}),
      ...(o.random ? { random: o.random } : {}),
      ...(o.swarm
        ? {
          randomStart: true,
          minBatchBlocks: SWARM_MIN_BATCH_BLOCKS,
          initialWindowBlocks: SWARM_INITIAL_WINDOW_BLOCKS,
        }
        : {}),
    });
    this.#engine = engine;
    if (o.swarm) {
      const swarm = new SwarmView({
        contentId: this.#contentId!,
        pieceCount: engine.layout.pieceCount,
        txid: this.txid,
      });
      for (const l of this.#listedOwners) swarm.noteListed(l.nodeId, l.have);
      this.#swarm = swarm;
    }
    for (const owner of this.#owners.owners()) {
      if (!this.#cookies.has(owner)) continue; // joins when its PROBE_ACK comes
      engine.addOwner(owner, now, this.#cookies.rtt(owner));
      this.#swarm?.ownerAdded(owner, engine, now);
    }
    engine.start(now);
    const check = part.resumeCheck;
    if (check !== undefined && check.failed > 0) {
      this.#log(
        `resuming ${this.#name}: ${check.failed} of ${check.checked} pieces the state file claimed did not match their hash on disk; fetching them again`,
      );
    }
    if (engine.resumedBytes > 0) {
      this.#log(
        `resuming ${this.#name}: ${engine.resumedBytes} bytes already verified (hashed again on open)`,
      );
    }
    for (const owner of engine.liveOwners) {
      const r = engine.ownerRange(owner);
      if (r) this.#log(`owner ${owner}: pieces ${r[0]}..${r[1]} of ${engine.layout.pieceCount}`);
    }
    this.#phase = "transfer";
    this.#noOwnerSince = undefined;
    this.#reportAt = now + REPORT_EVERY_MS;
    this.#pump(now);
  }

  // ---- the running phase ----

  /** Drains the running phase's sub-cores into events and datagrams; sets the deadline. */
  #pump(now: number): void {
    try {
      switch (this.#phase) {
        case "probe":
          return this.#pumpProbe(now);
        case "manifest":
          return this.#pumpManifest(now);
        case "transfer":
          return this.#pumpTransfer(now);
      }
    } catch (e) {
      this.fail(e);
    }
  }

  #pumpProbe(now: number): void {
    const probe = this.#probe;
    const to = this.#probeOwner === undefined
      ? undefined
      : this.#owners.addressOf(this.#probeOwner);
    if (probe && to) {
      for (const size of probe.pollTransmit(now)) {
        this.#send(this.#probeOwner!, encodeMessage({ type: "probe", txid: this.txid, size }));
      }
    }
    this.#pumpCookies(now);
    const cookies = this.#cookies;
    if ((!probe || probe.done) && cookies.ready > 0 && cookies.waiting === 0) {
      return this.#probeDone();
    }
    if (cookies.ready === 0 && cookies.probing === 0) {
      // Every listed owner is dead (or a liar): ask again without them, for a while.
      this.#noOwnerSince ??= now;
      if (now - this.#noOwnerSince < NO_OWNER_GIVE_UP_MS) {
        this.#reNeed(now);
        this.#deadline = Math.min(
          this.#needing ? Infinity : this.#lastNeed + RENEED_MS,
          this.#noOwnerSince + NO_OWNER_GIVE_UP_MS,
        );
        return;
      }
      return this.fail(
        new TransferError(
          "all_owners_failed",
          `Cannot download ${this.#name}: no owner answered a PROBE (${this.#owners.size} tried)`,
        ),
      );
    }
    this.#deadline = earliest(probe?.pollTimeout(), cookies.pollTimeout());
  }

  /** Sends due PROBEs for cookies and acts on owners whose cookie arrived or who never answer. */
  #pumpCookies(now: number): void {
    const cookies = this.#cookies;
    if (!cookies.busy) return;
    for (const owner of cookies.pollTransmit(now)) {
      this.#send(owner, encodeMessage({ type: "probe", txid: this.txid, size: cookies.size }));
    }
    for (let ev = cookies.pollEvent(); ev; ev = cookies.pollEvent()) {
      const engine = this.#phase === "transfer" ? this.#engine : undefined;
      if (ev.kind === "ready") {
        if (this.#phase === "manifest") this.#fetch?.addOwner(ev.owner);
        if (!engine) continue;
        if (engine.isPaused(ev.owner)) {
          engine.resumeOwner(ev.owner, now);
        } else if (
          !engine.isBanned(ev.owner) && engine.addOwner(ev.owner, now, cookies.rtt(ev.owner))
        ) {
          this.#swarm?.ownerAdded(ev.owner, engine, now);
          this.#log(`added owner ${ev.owner}: its address cookie arrived`);
        }
      } else {
        this.#failedOwners.add(ev.owner);
        this.#log(
          `owner ${ev.owner} answered none of ${ev.attempts} PROBEs${
            ev.renewal ? " for a new address cookie" : ""
          }; not using it`,
        );
        engine?.removeOwner(ev.owner, "did not answer PROBEs for an address cookie", now);
      }
    }
  }

  #pumpManifest(now: number): void {
    const fetch = this.#fetch!;
    this.#pumpCookies(now);
    if (fetch.result) {
      for (const bad of fetch.badOwners) {
        this.#log(`owner ${bad} sent a manifest that does not match the content id`);
      }
      this.#fetch = undefined;
      return this.#manifestReady(fetch.result);
    }
    if (fetch.failed && this.#cookies.probing === 0) {
      const bad = fetch.badOwners.length > 0;
      return this.fail(
        new TransferError(
          bad ? "bad_manifest" : "all_owners_failed",
          bad
            ? `Cannot download ${this.#name}: every owner sent a manifest that does not match the content id`
            : `Cannot download ${this.#name}: no owner answered the manifest request`,
        ),
      );
    }
    for (const t of fetch.pollTransmit(now)) {
      this.#send(
        t.owner,
        encodeMessage({
          type: "manifest_request",
          txid: this.txid,
          cookie: this.#cookies.cookie(t.owner) ?? 0n,
          contentId: this.#contentId!,
          offset: t.offset,
          maxDatagram: t.maxDatagram,
        }),
      );
    }
    // Told busy (a seed in a crowd sends manifests to a few and busy to the rest), a sharing
    // download looks for the other downloaders: any that opened its part has the manifest
    let reNeedAt: number | undefined;
    if (this.#sharing && this.#manifestBusy) {
      this.#reNeed(now); // every SWARM_START_RENEED_MS in this state (#reNeed's gap)
      if (!this.#needing) reNeedAt = this.#lastNeed + SWARM_START_RENEED_MS;
    }
    this.#deadline = earliest(earliest(fetch.pollTimeout(), this.#cookies.pollTimeout()), reNeedAt);
  }

  /** A swarming download that serves its verified pieces (so others download from it). */
  get #sharing(): boolean {
    return this.#o.swarm === true && this.#o.sharePort !== undefined;
  }

  #pumpTransfer(now: number): void {
    const engine = this.#engine!;
    const cookies = this.#cookies;
    if (cookies.busy) this.#pumpCookies(now);
    for (let ev = engine.pollEvent(); ev; ev = engine.pollEvent()) {
      switch (ev.kind) {
        case "piece":
          this.#events.push({ kind: "write_piece", index: ev.index, data: ev.data });
          break;
        case "verify":
          this.#events.push({
            kind: "verify_piece",
            index: ev.index,
            offset: ev.offset,
            data: ev.data,
          });
          break;
        case "bad_piece":
          this.#log(
            `piece ${ev.index} failed verification (from ${
              ev.owners.join(", ")
            }); fetching it again`,
          );
          break;
        case "owner_dropped":
          // Bad data bans it for good; a stall may pass (it is listed again on a re-NEED).
          if (engine.isBanned(ev.owner)) this.#failedOwners.add(ev.owner);
          this.#log(`dropped owner ${ev.owner}: ${ev.reason}`);
          break;
        case "need_owners":
          this.#reNeed(now);
          break;
        case "done":
          // The seeds asked stop counting this download for super-seeding (swarm_view.ts)
          for (const f of this.#swarm?.farewells(engine, (o) => cookies.cookie(o)) ?? []) {
            this.#send(f.owner, f.bytes);
          }
          this.#await("complete");
          this.#events.push({ kind: "complete_file" });
          return;
      }
    }
    for (const [owner, at] of this.#chokedUntil) {
      if (at > now) continue;
      this.#chokedUntil.delete(owner);
      if (engine.isPaused(owner) && cookies.cookie(owner) !== undefined) {
        engine.resumeOwner(owner, now);
      }
    }
    for (let t = engine.pollTransmit(now); t; t = engine.pollTransmit(now)) {
      const bytes = encodeMessage({
        type: "block_request",
        txid: this.txid,
        cookie: cookies.cookie(t.owner) ?? 0n,
        contentId: this.#contentId!,
        blockSize: engine.layout.blockSize,
        ranges: t.ranges,
      });
      this.#send(t.owner, bytes);
    }
    if (now >= this.#reportAt) {
      this.#reportAt = now + REPORT_EVERY_MS;
      this.#emitReport();
    }
    const swarm = this.#swarm;
    if (swarm) {
      const asks = swarm.pollAsks(
        now,
        engine,
        (owner) => cookies.cookie(owner),
        (owner) => cookies.rtt(owner),
      );
      for (const ask of asks) {
        this.#send(ask.owner, ask.bytes);
        const port = this.#o.sharePort;
        // Only partial owners download and can use it (a seed never does)
        if (port !== undefined && !this.#greeted.has(ask.owner) && swarm.listedPartial(ask.owner)) {
          this.#greeted.add(ask.owner);
          this.#send(
            ask.owner,
            encodeMessage({
              type: "sharer",
              txid: this.txid,
              cookie: cookies.cookie(ask.owner) ?? 0n,
              contentId: this.#contentId!,
              port,
              nodeId: this.#o.nodeId,
            }),
          );
        }
      }
      if (now >= this.#lastNeed + this.#swarmReNeedMs(engine)) this.#reNeed(now);
    }
    const live = engine.liveOwnerCount;
    let deadline = earliest(engine.pollTimeout(), cookies.pollTimeout());
    for (const at of this.#chokedUntil.values()) deadline = earliest(deadline, at);
    if (swarm) {
      deadline = earliest(deadline, swarm.pollTimeout());
      if (!this.#needing) {
        deadline = earliest(deadline, this.#lastNeed + this.#swarmReNeedMs(engine));
      }
    }
    if (live === 0) {
      this.#noOwnerSince ??= now;
      this.#reNeed(now);
      if (now - this.#noOwnerSince >= NO_OWNER_GIVE_UP_MS) {
        return this.fail(
          new TransferError(
            "all_owners_failed",
            `Cannot finish ${this.#name}: every owner failed or left; ${engine.verifiedCount}/${engine.layout.pieceCount} pieces are kept in the .part file for a resume`,
          ),
        );
      }
      // wake for the next re-NEED (unless one is under way: its answer pumps) and to give up
      const wake = Math.min(
        this.#needing ? Infinity : this.#lastNeed + RENEED_MS,
        this.#noOwnerSince + NO_OWNER_GIVE_UP_MS,
      );
      deadline = Math.min(deadline ?? Infinity, wake);
    } else {
      this.#noOwnerSince = undefined;
    }
    this.#deadline = deadline;
  }

  /** Swarming asks the tracker for new owners every second while fewer than N are in use. */
  #swarmReNeedMs(engine: DownloadEngine): number {
    const live = engine.liveOwnerCount;
    // A lone owner (the seed, at the start): partial owners appear within its first pieces
    if (live < 2 && this.#o.sharePort !== undefined) return SWARM_START_RENEED_MS;
    return live < this.#o.maxOwners ? RENEED_MS : SWARM_RENEED_MS;
  }

  #onError(owner: string, code: number, text: string, now: number): void {
    if (code === ErrorCode.probe_refused) {
      // It answers no large path MTU probes now (a crowd probes it): settle on what it acknowledged
      if (this.#phase === "probe" && owner === this.#probeOwner) this.#probe?.handleRefused(now);
      return;
    }
    if (code === ErrorCode.bad_cookie) {
      // Its key rotated (or it restarted): probe it for a new cookie and carry on; the requests
      // it refused are re-sent (block requests: to whoever is free; the owner pauses meanwhile)
      if (this.#cookies.renew(owner, now)) {
        this.#log(`owner ${owner} refused our address cookie; probing it for a new one`);
        if (this.#phase === "transfer") this.#engine?.pauseOwner(owner, now);
      }
      return;
    }
    if (code === ErrorCode.choked && this.#phase === "transfer" && this.#engine) {
      // Its upload slots are full: other owners meanwhile, this one again in a while (jittered)
      const r = this.#o.random?.() ?? Math.random();
      this.#chokedUntil.set(owner, now + CHOKE_RETRY_MS * (0.75 + 0.5 * r));
      this.#engine.pauseOwner(owner, now);
      return;
    }
    this.#log(`owner ${owner} answered error ${code}: ${text}`);
    // Busy (its rate limit or send queue, or a seed in a crowd of manifest requesters): another
    // owner is asked, or this one again when the request times out; it is not given up at once
    if (this.#phase === "manifest" && code === ErrorCode.busy) {
      this.#manifestBusy = true;
      return this.#fetch?.handleBusy(owner, now);
    }
    if (this.#phase === "manifest") this.#fetch?.handleError(owner);
    else if (this.#engine) {
      const kind = code === ErrorCode.unknown_content
        ? "unknown_content"
        : code === ErrorCode.out_of_range
        ? "out_of_range"
        : "busy";
      this.#engine.handleError(owner, kind, now);
    }
  }

  #reNeed(now: number): void {
    const gap = this.#engine && this.#swarm
      ? this.#swarmReNeedMs(this.#engine)
      : this.#phase === "manifest" && this.#sharing && this.#manifestBusy
      ? SWARM_START_RENEED_MS
      : RENEED_MS;
    if (this.#needing || now < this.#lastNeed + Math.min(gap, RENEED_MS) || !this.#contentId) {
      return;
    }
    this.#needing = true;
    this.#lastNeed = now;
    this.#events.push({
      kind: "need",
      want: { kind: "content", contentId: this.#contentId },
      maxOwners: this.#o.maxOwners,
      ...(this.#o.swarm ? { partial: true as const } : {}),
      ...(this.#failedOwners.size > 0 ? { exclude: [...this.#failedOwners] } : {}),
    });
  }

  /** Owners from a re-NEED while every owner probed so far failed: probe the new ones. */
  #addProbed(reply: OwnersMessage, now: number): void {
    const fresh = reply.owners.filter((o) =>
      !this.#failedOwners.has(o.nodeId) && !this.#cookies.has(o.nodeId)
    );
    this.#addOwners(fresh);
    for (const o of fresh) {
      if (o.nodeId !== this.#o.nodeId) this.#cookies.add(o.nodeId, now);
    }
    if (fresh.length > 0) this.#log(`probing ${fresh.length} more owner(s) from the tracker`);
  }

  /** Queues a REPORT of the verified bytes per owner since the last one. */
  #emitReport(): void {
    const engine = this.#engine;
    if (engine === undefined || this.#contentId === undefined) return;
    const entries: { nodeId: string; bytes: number }[] = [];
    for (const [nodeId, bytes] of engine.deliveredByOwner) {
      const delta = bytes - (this.#reported.get(nodeId) ?? 0);
      if (delta <= 0) continue;
      this.#reported.set(nodeId, bytes);
      entries.push({ nodeId, bytes: delta });
    }
    if (entries.length > 0) {
      this.#events.push({ kind: "report", contentId: this.#contentId, entries });
    }
  }

  /** Owners from a re-NEED: new ones (or dropped ones back on another port) are probed. */
  #addListed(reply: OwnersMessage, now: number): void {
    const engine = this.#engine!;
    const live = engine.liveOwners;
    const fresh = reply.owners.filter((o) =>
      !engine.isBanned(o.nodeId) && !live.includes(o.nodeId) && o.nodeId !== this.#o.nodeId
    );
    // Swarming re-asks the tracker now and then: the owners in use stay bounded
    const room = this.#swarm ? Math.max(0, 2 * this.#o.maxOwners - live.length) : Infinity;
    for (const o of fresh.slice(0, room)) {
      this.#swarm?.noteListed(o.nodeId, o.have);
      this.#addOwners([o]);
      if (!this.#cookies.has(o.nodeId)) {
        this.#cookies.add(o.nodeId, now); // added to the engine once it answers the PROBE
      } else if (engine.addOwner(o.nodeId, now, this.#cookies.rtt(o.nodeId))) {
        this.#swarm?.ownerAdded(o.nodeId, engine, now);
        this.#log(`added owner ${o.nodeId} from the tracker`);
      }
    }
  }

  /** Adds owners; a known owner at a new address (it restarted) is reached there from now on. */
  #addOwners(owners: OwnerEntry[]): void {
    for (const moved of this.#owners.add(owners)) {
      this.#cookies.forget(moved); // another address (a restart): another cookie
      const net = this.#owners.addressOf(moved)!;
      this.#log(`owner ${moved} moved to ${formatHostPort(net)}`);
    }
  }

  // ---- helpers ----

  /** The smallest PROBE round trip measured to any owner, as a ManifestFetch option. */
  #rttOption(): { rttMs?: number } {
    let best: number | undefined;
    for (const owner of this.#owners.owners()) {
      const r = this.#cookies.rtt(owner);
      if (r !== undefined && (best === undefined || r < best)) best = r;
    }
    return best === undefined ? {} : { rttMs: best };
  }

  /** Runs `step`; a throw fails the download. */
  #guard(step: () => void): void {
    if (this.#phase === "finished") return;
    try {
      step();
    } catch (e) {
      this.fail(e);
    }
  }

  /** Leaves the running phase for one that waits on the driver. */
  #await(phase: Phase): void {
    this.#phase = phase;
    this.#deadline = undefined;
  }

  #finish(): void {
    this.#phase = "finished";
    this.#deadline = undefined;
    this.#meter.stop();
  }

  #succeed(result: DownloadResult, manifest?: Manifest, encoded?: Uint8Array): void {
    this.#finish();
    this.#events.push(
      manifest && encoded
        ? { kind: "done", result, manifest, encodedManifest: encoded }
        : { kind: "done", result },
    );
  }

  /**
   * Sends to an owner from the socket all of its traffic uses (its data socket, or the peer's):
   * the owner's address cookie is bound to that socket's port, so PROBEs, manifest and block
   * requests to one owner must never leave from two ports.
   */
  #send(owner: string, bytes: Uint8Array): void {
    const to = this.#owners.addressOf(owner);
    if (to) this.#transmits.push({ bytes, to, dataSocket: this.#owners.dataSocketOf(owner) });
  }

  #log(line: string): void {
    this.#events.push({ kind: "log", line });
  }

  #result(
    path: string,
    now: number,
    owners: { nodeId: string; bytes: number }[],
    resumed: number,
  ): DownloadResult {
    const s = this.#engine?.stats;
    return {
      path,
      name: this.#name,
      contentId: this.#contentIdHex,
      size: this.#size,
      elapsedMs: now - this.#started,
      owners,
      resumedBytes: resumed,
      receivedBytes: s?.receivedBytes ?? 0,
      retransmits: s?.retransmits ?? 0,
      retransmittedBytes: s?.retransmittedBytes ?? 0,
      badPieces: s?.badPieces ?? 0,
    };
  }

  #emitProgress(now: number): void {
    const rate = this.#meter.sample(now);
    const e = this.#engine;
    const progress: DownloadProgress = {
      name: this.#name,
      contentId: this.#contentIdHex,
      size: this.#size,
      verifiedBytes: e?.stats.verifiedBytes ?? 0,
      resumedBytes: e?.resumedBytes ?? 0,
      receivedBytes: e?.stats.receivedBytes ?? 0,
      rate,
      owners: e ? e.liveOwners : [...this.#owners.owners()],
      retransmits: e?.stats.retransmits ?? 0,
      badPieces: e?.stats.badPieces ?? 0,
      ownersBanned: e?.bannedCount ?? 0,
    };
    this.#progress = progress;
    this.#events.push({ kind: "progress", progress });
  }
}

/** The earlier of two deadlines, either of which may be absent. */
function earliest(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
