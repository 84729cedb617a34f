/**
 * The upload side of a peer, the driver of {@link UploadRules}: it opens shared files (one file
 * descriptor per content), reads each block the rules plan with one positional read straight into
 * a pooled datagram buffer, and sends. Which contents are shared, who is answered, how much, and
 * every counter live in `lib/peer/core/upload_rules.ts`. Under an upload cap it owns the one
 * timer that sends the requests the rules hold back when they are due.
 *
 * Three send paths share the pooled buffers and the pending-send accounting, which is why it is
 * one file of over 600 lines (about half JSDoc): copies (`readSync` into a buffer, then `send`),
 * zero-copy sends of large blocks (lib/net/file_send.ts) and GSO batches of path-MTU-sized
 * blocks kept open to the end of a receive turn; the read-ahead of small blocks is read_ahead.ts.
 * @module
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { writeBlockDataHeader } from "../wire/block_data.ts";
import { BLOCK_DATA_HEADER_SIZE, MAX_DATAGRAM } from "../wire/limits.ts";
import type {
  BitfieldMessage,
  BlockRequestMessage,
  ManifestRequestMessage,
  ProbeMessage,
  SharerMessage,
} from "../wire/messages.ts";
import type { BlockPlan } from "./core/block_plan.ts";
import type { CookieSource } from "./core/address_cookies.ts";
import {
  type SharedContentInfo,
  type ShareOptions,
  type SourceStats,
  type UploaderStats,
  UploadRules,
  type UploadRulesOptions,
} from "./core/upload_rules.ts";
import { diskError, TransferError } from "./transfer_error.ts";
import { ReadAhead } from "./read_ahead.ts";

/**
 * Sends one datagram. If it returns a promise (as `Deno.DatagramConn.send` does), the uploader
 * does not touch `bytes` again until the promise settles; if it returns nothing, it must be done
 * with `bytes` when it returns (sent synchronously or copied).
 *
 * `Deno.DatagramConn.send` reads the buffer when the kernel accepts the datagram, which can be
 * after it returned (when the socket buffer is full): pass its promise through, never a wrapper
 * that drops it.
 */
export type UploadSend = (bytes: Uint8Array, to: Deno.NetAddr) => void | PromiseLike<unknown>;

/** Options for {@link Uploader}: the send function and the limits of {@link UploadRules}. */
export interface UploaderOptions extends Omit<UploadRulesOptions, "randomBytes" | "now"> {
  /** Sends a datagram; see {@link UploadSend} for the buffer rule. */
  send: UploadSend;
  /**
   * Sends consecutive datagrams of `segment` bytes each (the last may be shorter) in one call
   * (UDP GSO, `UdpEndpoint.trySendSegments`), synchronously; false when it did not, and the
   * uploader then sends each one with `send`. Without it every block is its own send.
   */
  sendSegments?: (bytes: Uint8Array, segment: number, to: Deno.NetAddr) => boolean;
  /**
   * With `sendSegments`: keep the GSO batch open after a request and send it from a microtask,
   * at the end of the current task, so that the path-MTU-sized blocks of the several requests
   * one receive turn reads (from one downloader) leave in one GSO send rather than one per
   * request (~10 blocks each at `--mtu 1500`). A batch goes out before any other datagram of
   * this uploader (an ERROR must not overtake the blocks before it), when the destination
   * changes and when it is full. Without it every request's batch is sent before
   * {@link Uploader.handleRequest} returns.
   * @default false
   */
  coalesce?: boolean;
  /**
   * Zero-copy sends of a block from the shared file (`UdpEndpoint.trySendFile`), used for blocks
   * of at least {@link FILE_SEND_MIN} bytes of the files whose descriptor it accepts. Without it
   * every block is read into a buffer and sent with `send`.
   */
  sendFile?: UploadFileSend;
}

/** Zero-copy block sends from a file descriptor (`UdpEndpoint.canSendFile`/`trySendFile`). */
export interface UploadFileSend {
  /** Whether `fd` (a node:fs descriptor with this device and inode) can be sent from. */
  accepts(fd: number, identity: { dev: number; ino: number }): boolean;
  /** The file's current size (-1: unknown); only blocks within it are sent with {@link send}. */
  size(fd: number): number;
  /**
   * Whether {@link send} would try a datagram of this many bytes (`UdpEndpoint.fileSendFits`):
   * when it would not, the block goes the ordinary way without asking {@link size} (an `fstat`).
   * Without it every large block is tried.
   */
  fits?(datagramBytes: number): boolean;
  /**
   * Sends `header` then `length` bytes of `fd` from `offset` (within {@link size}) as one
   * datagram, synchronously; false when nothing was sent (the uploader then sends the block the
   * ordinary way).
   */
  send(header: Uint8Array, fd: number, offset: number, length: number, to: Deno.NetAddr): boolean;
}

/**
 * The smallest block sent with {@link UploaderOptions.sendFile}: below it the two system calls
 * (header, then file bytes) cost as much as the copies they save or more (measured at 1436,
 * 4096, 8936, 16,384 and 32,768 bytes: docs/TRANSFER.md, _Owner side_).
 */
export const FILE_SEND_MIN = 8192;

/** A send buffer; `release` is bound once so settling a send allocates no closure. */
interface Slot {
  bytes: Uint8Array;
  view: DataView;
  release: () => void;
  fail: () => void;
}

/** The kernel's cap on datagrams per GSO send (UDP_MAX_SEGMENTS). */
const MAX_SEGMENTS = 64;
/**
 * The largest datagram sent in GSO batches: path-MTU-sized ones (1452, 1472 bytes), where the
 * per-datagram cost dominates. Larger blocks (8952 and 16,400 bytes, which the MTU probe falls
 * back to under loss) go one by one: a GSO send is one packet until it is delivered, so a drop
 * before that (a queue, or the loss benchmark's netfilter rule) loses all of its datagrams at
 * once, and at 16 KiB (3 per send) that made lossy single-owner downloads 7× slower for a
 * saving of two system calls (docs/TRANSFER.md).
 */
const MAX_SEGMENT = 1500;

/** Datagrams gathered for one GSO send: `count` of `segment` bytes, the last maybe shorter. */
interface SegmentBatch {
  slot: Slot | undefined;
  to: Deno.NetAddr;
  segment: number;
  used: number;
  count: number;
  /** The last datagram is shorter than `segment`: nothing may follow it. */
  short: boolean;
}

/**
 * Serves shared contents. Driven by {@link handleProbe} and {@link handleRequest} (one decoded
 * datagram, its source and the current time in ms); replies go out through the injected `send`.
 * Only content ids passed to {@link share} are served — a request never names a path — and only
 * to a requester whose address cookie (from a PROBE_ACK of this uploader) is valid for its
 * address and port (see core/address_cookies.ts): a forged source address gets an ERROR no larger than its
 * request. The rules (admission, limits, counters) are {@link UploadRules}.
 *
 * Per block the work is one `readSync` at the block's offset straight into a send buffer after
 * the 16-byte header, and one `send`; with {@link UploaderOptions.sendFile}, blocks of at least
 * {@link FILE_SEND_MIN} bytes go from the page cache into the datagram without either copy.
 * Send buffers come from a pool and return to it when the send settles, because
 * `Deno.DatagramConn.send` may read the buffer after it returns (measured: with one reused
 * buffer and a socket under back-pressure, 40 of 2000 blocks arrived intact and the rest were
 * copies of later blocks).
 *
 * @example Serving one file to a loopback socket
 * ```ts
 * import { Uploader } from "./uploader.ts";
 * import { buildManifest } from "./manifest.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeFile(`${dir}/f`, new Uint8Array(100_000));
 * const built = await buildManifest(`${dir}/f`, { pieceSize: 65536 });
 * const sent: Uint8Array[] = [];
 * const up = new Uploader({ send: (b) => void sent.push(b.slice()) });
 * up.share({ path: `${dir}/f`, manifest: built.manifest, encoded: built.encoded });
 * const from = { transport: "udp" as const, hostname: "127.0.0.1", port: 5000 };
 * const cookie = up.cookieFor(from, performance.now()); // what its PROBE_ACK carries
 * up.handleRequest({
 *   type: "block_request", txid: 1, cookie, contentId: built.contentId, blockSize: 32768,
 *   ranges: [{ offset: 0, length: 65536 }],
 * }, from, performance.now());
 * console.log(sent.length, up.stats.bytesSent); // 2 65536
 * up.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class Uploader {
  readonly #send: UploadSend;
  readonly #sendSegments: UploaderOptions["sendSegments"];
  readonly #sendFile: UploadFileSend | undefined;
  /** Descriptors {@link UploaderOptions.sendFile} accepted. */
  readonly #zeroCopy = new Set<number>();
  /** The BLOCK_DATA header of a zero-copy send. */
  readonly #header = new Uint8Array(new ArrayBuffer(BLOCK_DATA_HEADER_SIZE));
  readonly #headerView = new DataView(this.#header.buffer);
  readonly #rules: UploadRules;
  /** Open file descriptors by content id (lowercase hex). */
  readonly #fds = new Map<string, number>();
  readonly #free: Slot[] = [];
  /** The GSO batch being filled ({@link UploaderOptions.sendSegments}). */
  readonly #batch: SegmentBatch = {
    slot: undefined,
    to: { transport: "udp", hostname: "", port: 0 },
    segment: 0,
    used: 0,
    count: 0,
    short: false,
  };
  readonly #coalesce: boolean;
  /** A microtask will send the open GSO batch ({@link UploaderOptions.coalesce}). */
  #endTurnQueued = false;
  readonly #endTurn = (): void => {
    this.#endTurnQueued = false;
    if (!this.#closed) return this.#flushSegments();
    const b = this.#batch;
    b.slot = undefined;
    b.used = b.count = 0;
  };
  /** File bytes read ahead for the GSO batches (valid within one `#sendBlocks`). */
  readonly #ahead = new ReadAhead();
  #closed = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;

  /**
   * Creates an uploader that shares nothing yet.
   *
   * @param options the send function and limits
   * @throws {RangeError} for a limit that is not positive
   */
  constructor(options: UploaderOptions) {
    const { send, sendSegments, sendFile, coalesce, ...limits } = options;
    this.#coalesce = coalesce === true && sendSegments !== undefined;
    this.#send = send;
    this.#sendSegments = sendSegments;
    this.#sendFile = sendFile;
    this.#rules = new UploadRules(limits);
  }

  /** Counters over all contents and requesters. */
  get stats(): UploaderStats {
    return this.#rules.stats;
  }

  /** File bytes sent so far (all contents). */
  get uploadedBytes(): number {
    return this.#rules.stats.bytesSent;
  }

  /** Sends handed out whose promise has not settled yet. */
  get pendingSends(): number {
    return this.#rules.pendingSends;
  }

  /**
   * File bytes sent since the previous call: what the next UPDATE reports.
   *
   * @returns bytes since the last call (all bytes on the first call)
   */
  takeUploaded(): number {
    return this.#rules.takeUploaded();
  }

  /**
   * Shares a content: opens the file for positional reads. Sharing the same content id again
   * replaces the previous entry (and closes its file).
   *
   * @param options the file, its manifest and which pieces to serve
   * @returns the entry's counters
   * @throws {TransferError} `not_found`/`disk` when the file cannot be opened, `changed` when
   *   its size differs from the manifest's
   */
  share(options: ShareOptions): SharedContentInfo {
    if (this.#closed) throw new Error("Cannot share: the uploader is closed");
    let fd: number;
    try {
      fd = openSync(options.path, "r");
    } catch (e) {
      throw diskError(`Cannot share ${options.path}`, e);
    }
    let size: number;
    let identity: { dev: number; ino: number };
    try {
      const st = fstatSync(fd);
      size = st.size;
      identity = { dev: st.dev, ino: st.ino };
    } catch (e) {
      closeSync(fd);
      throw diskError(`Cannot share ${options.path}`, e);
    }
    if (size !== options.manifest.size) {
      closeSync(fd);
      throw new TransferError(
        "changed",
        `Cannot share ${options.path}: it has ${size} bytes, its manifest says ${options.manifest.size}; share it again to rehash`,
      );
    }
    const info = this.#rules.share(options);
    const old = this.#fds.get(info.contentIdHex);
    if (old !== undefined) this.#closeFile(old);
    this.#fds.set(info.contentIdHex, fd);
    if (this.#sendFile?.accepts(fd, identity)) this.#zeroCopy.add(fd);
    return info;
  }

  /**
   * Stops serving a content and closes its file.
   *
   * @param contentIdHex the content id in hex (any case)
   * @returns true when it was shared
   */
  unshare(contentIdHex: string): boolean {
    const hex = contentIdHex.toLowerCase();
    if (!this.#rules.unshare(hex)) return false;
    const fd = this.#fds.get(hex);
    this.#fds.delete(hex);
    if (fd !== undefined) this.#closeFile(fd);
    return true;
  }

  #closeFile(fd: number): void {
    this.#zeroCopy.delete(fd);
    closeSync(fd);
  }

  /**
   * Tells whether a content id is shared.
   *
   * @param contentIdHex the content id in hex (any case)
   * @returns true when it is
   */
  has(contentIdHex: string): boolean {
    return this.#rules.has(contentIdHex);
  }

  /**
   * The counters of a shared content.
   *
   * @param contentIdHex the content id in hex (any case)
   * @returns its counters, or undefined when it is not shared
   */
  get(contentIdHex: string): SharedContentInfo | undefined {
    return this.#rules.get(contentIdHex);
  }

  /** Content ids (lowercase hex) currently shared. */
  contents(): string[] {
    return this.#rules.contents();
  }

  /** Counters per requester, most recently seen last. */
  sources(): SourceStats[] {
    return this.#rules.sources();
  }

  /**
   * Answers a PROBE with a PROBE_ACK of the same size that carries the cookie for the prober's
   * address and port ({@link UploadRules.handleProbe}).
   *
   * @param msg a decoded PROBE
   * @param from the prober
   * @param now current time in ms (drives the cookie key's rotation)
   */
  handleProbe(msg: ProbeMessage, from: Deno.NetAddr, now: number): void {
    if (this.#closed) return;
    this.#rules.handleProbe(msg, from, now);
    this.#flush();
  }

  /**
   * The address cookie this uploader hands out to an address and port now (what a PROBE_ACK to
   * it carries).
   *
   * @param from the requester's IP address and port
   * @param now current time in ms
   * @returns the cookie
   */
  cookieFor(from: CookieSource, now: number): bigint {
    return this.#rules.cookieFor(from, now);
  }

  /**
   * Answers one request as {@link UploadRules.handleRequest} decides: an ERROR or MANIFEST_DATA
   * datagram, or BLOCK_DATA for every block of the request, each read from the file at its
   * offset. A read that comes back short (the file got shorter since it was shared) stops the
   * request with ERROR out_of_range.
   *
   * @param msg a decoded MANIFEST_REQUEST or BLOCK_REQUEST
   * @param from the requester
   * @param now current time in ms (drives the rate limits)
   */
  handleRequest(
    msg: ManifestRequestMessage | BlockRequestMessage,
    from: Deno.NetAddr,
    now: number,
  ): void {
    if (this.#closed) return;
    const plan = this.#rules.handleRequest(msg, from, now);
    if (plan !== undefined) this.#sendBlocks(plan);
    this.#flush();
    this.#arm();
  }

  /** The upload cap, bytes/s (Infinity: none). */
  get uploadRate(): number {
    return this.#rules.uploadRate;
  }

  /**
   * Sets the upload cap over all requesters; requests beyond it wait and go out paced
   * ({@link UploadRules.setUploadRate}).
   *
   * @param ratePerSecond bytes per second; Infinity removes the cap
   * @throws {RangeError} for a rate that is not positive
   */
  setUploadRate(ratePerSecond: number): void {
    this.#rules.setUploadRate(ratePerSecond, performance.now());
    this.#clearTimer();
    this.#arm();
  }

  /** Sends what the upload cap lets go now, then re-arms the timer for the rest. */
  #paced(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    if (this.#closed) return;
    const now = performance.now();
    for (let p = this.#rules.pollPlan(now); p !== undefined; p = this.#rules.pollPlan(now)) {
      this.#sendBlocks(p);
    }
    this.#flush();
    this.#arm();
  }

  #arm(): void {
    const at = this.#rules.pollTimeout();
    if (at === undefined || at >= this.#timerAt) return;
    this.#clearTimer();
    this.#timerAt = at;
    this.#timer = setTimeout(() => this.#paced(), Math.max(0, at - performance.now()));
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  /**
   * Checks a SHARER ({@link UploadRules.checkSharer}): true when it may go to this peer's
   * download of that content.
   *
   * @param msg the decoded SHARER
   * @param from its source
   * @param now current time in ms
   * @returns whether to pass it on
   */
  checkSharer(msg: SharerMessage, from: Deno.NetAddr, now: number): boolean {
    return this.#rules.checkSharer(msg, from, now);
  }

  /**
   * Answers a BITFIELD request ({@link UploadRules.handleBitfield}): this uploader's pieces of a
   * content, in a reply as large as the request.
   *
   * @param msg a decoded BITFIELD
   * @param from the requester
   * @param now current time in ms
   */
  handleBitfield(msg: BitfieldMessage, from: Deno.NetAddr, now: number): void {
    if (this.#closed) return;
    this.#rules.handleBitfield(msg, from, now);
    this.#flush();
  }

  /**
   * A piece of a partial download this uploader serves was verified: HAVEs go to the peers that
   * asked for its availability ({@link UploadRules.noteVerified}).
   *
   * @param contentIdHex the content id in hex
   * @param piece the piece index
   * @param now current time in ms
   */
  noteVerified(contentIdHex: string, piece: number, now: number): void {
    if (this.#closed) return;
    this.#rules.noteVerified(contentIdHex, piece, now);
    this.#flush();
  }

  /** Stops serving and closes every file. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clearTimer();
    for (const hex of this.#rules.contents()) this.unshare(hex);
    this.#free.length = 0;
  }

  /** Reads and sends every block of `plan`. */
  #sendBlocks(plan: BlockPlan): void {
    const fd = this.#fds.get(plan.contentIdHex)!;
    const txid = plan.txid;
    const to = plan.to;
    const gso = this.#sendSegments !== undefined;
    const zeroCopy = this.#zeroCopy.has(fd);
    // Zero-copy only within the file's size now (sendfile past the end sends a short datagram),
    // asked once per request that has a large block
    let zeroCopyEnd = -1;
    this.#ahead.reset(); // the file may have changed since the last request
    while (plan.next()) {
      const off = plan.offset;
      const len = plan.length;
      if (gso && BLOCK_DATA_HEADER_SIZE + len <= MAX_SEGMENT) {
        if (!this.#addSegment(fd, txid, off, len, plan.rangeEnd, to)) {
          this.#flushSegments();
          this.#rules.handleShortRead(plan);
          return;
        }
        continue;
      }
      this.#flushSegments();
      if (
        zeroCopy && len >= FILE_SEND_MIN &&
        (this.#sendFile!.fits?.(BLOCK_DATA_HEADER_SIZE + len) ?? true)
      ) {
        if (zeroCopyEnd < 0) zeroCopyEnd = this.#sendFile!.size(fd);
        writeBlockDataHeader(this.#headerView, txid, off);
        if (off + len <= zeroCopyEnd && this.#sendFile!.send(this.#header, fd, off, len, to)) {
          continue;
        }
      }
      const slot = this.#free.pop() ?? this.#newSlot();
      writeBlockDataHeader(slot.view, txid, off);
      let n: number;
      try {
        n = readSync(fd, slot.bytes, BLOCK_DATA_HEADER_SIZE, len, off);
      } catch {
        n = -1;
      }
      if (n !== len) {
        this.#free.push(slot);
        this.#rules.handleShortRead(plan);
        return;
      }
      this.#sendSlot(slot, BLOCK_DATA_HEADER_SIZE + len, to);
    }
    if (!this.#coalesce) {
      this.#flushSegments();
    } else if (this.#batch.slot !== undefined && !this.#endTurnQueued) {
      this.#endTurnQueued = true;
      queueMicrotask(this.#endTurn);
    }
  }

  /**
   * Reads one block as the next datagram of the GSO batch (consecutive datagrams of one size,
   * the last may be shorter), sending the batch first when the block does not fit it.
   *
   * @returns false on a short read (the batch so far stays, to be flushed)
   */
  #addSegment(
    fd: number,
    txid: number,
    off: number,
    len: number,
    rangeEnd: number,
    to: Deno.NetAddr,
  ): boolean {
    const size = BLOCK_DATA_HEADER_SIZE + len;
    const b = this.#batch;
    if (
      b.slot !== undefined &&
      (size > b.segment || b.short || b.used + size > MAX_DATAGRAM || b.count >= MAX_SEGMENTS ||
        to.port !== b.to.port || to.hostname !== b.to.hostname)
    ) this.#flushSegments();
    if (b.slot === undefined) {
      b.slot = this.#free.pop() ?? this.#newSlot();
      b.segment = size;
      b.to = to;
    }
    writeBlockDataHeader(b.slot.view, txid, off, b.used);
    const at = b.used + BLOCK_DATA_HEADER_SIZE;
    if (!this.#ahead.copy(fd, off, len, rangeEnd, b.slot.bytes, at)) return false;
    b.used += size;
    b.count++;
    b.short = size < b.segment;
    return true;
  }

  /** Sends the GSO batch: in one call, or datagram by datagram when that is refused. */
  #flushSegments(): void {
    const b = this.#batch;
    const slot = b.slot;
    if (slot === undefined) return;
    const { used, segment, count, to } = b;
    b.slot = undefined;
    b.used = b.count = 0;
    b.short = false;
    if (count === 0) {
      this.#free.push(slot);
    } else if (count === 1) {
      this.#sendSlot(slot, used, to);
    } else if (this.#sendSegments!(slot.bytes.subarray(0, used), segment, to)) {
      this.#free.push(slot);
    } else {
      // Each datagram in a buffer of its own size: a pooled 64 KiB slot per 1.4 KiB datagram
      // held by a pending send grew the owner's RSS by ~10 MiB at --mtu 1500
      for (let at = 0; at < used; at += segment) {
        this.#sendCopy(slot.bytes.slice(at, Math.min(used, at + segment)), to);
      }
      this.#free.push(slot);
    }
  }

  /** Sends the rules' queued datagrams (fresh buffers that nobody reuses). */
  #flush(): void {
    let t = this.#rules.pollTransmit();
    if (t !== undefined) this.#flushSegments(); // nothing overtakes the blocks before it
    for (; t !== undefined; t = this.#rules.pollTransmit()) {
      try {
        const r = this.#send(t.bytes, t.to);
        if (r) r.then(undefined, () => this.#rules.handleSendFailed());
      } catch {
        this.#rules.handleSendFailed();
      }
    }
  }

  /** Sends the first `len` bytes of a pooled buffer; the buffer returns when the send settles. */
  #sendSlot(slot: Slot, len: number, to: Deno.NetAddr): void {
    let r: void | PromiseLike<unknown>;
    try {
      r = this.#send(slot.bytes.subarray(0, len), to);
    } catch {
      this.#rules.handleSendFailed();
      this.#free.push(slot);
      return;
    }
    if (r) {
      this.#rules.handleSendQueued();
      r.then(slot.release, slot.fail);
    } else {
      this.#free.push(slot);
    }
  }

  /** Sends a buffer nobody reuses, counted as pending until its send settles. */
  #sendCopy(bytes: Uint8Array, to: Deno.NetAddr): void {
    let r: void | PromiseLike<unknown>;
    try {
      r = this.#send(bytes, to);
    } catch {
      this.#rules.handleSendFailed();
      return;
    }
    if (r) {
      this.#rules.handleSendQueued();
      r.then(this.#copySettled, this.#copyFailed);
    }
  }

  readonly #copySettled = (): void => this.#rules.handleSendSettled();
  readonly #copyFailed = (): void => {
    this.#rules.handleSendFailed();
    this.#rules.handleSendSettled();
  };

  #newSlot(): Slot {
    const bytes = new Uint8Array(MAX_DATAGRAM);
    const rules = this.#rules;
    const slot: Slot = {
      bytes,
      view: new DataView(bytes.buffer),
      release: () => {
        rules.handleSendSettled();
        if (!this.#closed && this.#free.length < rules.maxPendingSends) this.#free.push(slot);
      },
      fail: () => {
        rules.handleSendFailed();
        slot.release();
      },
    };
    return slot;
  }
}
