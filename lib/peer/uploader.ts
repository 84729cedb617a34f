/**
 * The upload side of a peer: answers PROBEs with an address cookie, and serves manifests and
 * file blocks of explicitly shared contents, by content id, with positional reads straight into
 * the datagram buffer, to requesters whose cookie proves their address.
 * @module
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { encodeMessage, writeBlockDataHeader } from "../wire/codec.ts";
import {
  BLOCK_DATA_HEADER_SIZE,
  MANIFEST_DATA_HEADER_SIZE,
  MAX_DATAGRAM,
  MAX_ERROR_TEXT_BYTES,
  PROBE_ACK_MIN_SIZE,
} from "../wire/limits.ts";
import {
  type BlockRequestMessage,
  ErrorCode,
  type ErrorCodeValue,
  type ManifestRequestMessage,
  type ProbeMessage,
} from "../wire/messages.ts";
import { AddressCookies, DEFAULT_COOKIE_EPOCH_MS } from "./core/address_cookies.ts";
import { contentIdOf, type Manifest, toHex } from "./manifest.ts";
import { diskError, TransferError } from "./transfer_error.ts";

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

/** Options for {@link Uploader}. */
export interface UploaderOptions {
  /** Sends a datagram; see {@link UploadSend} for the buffer rule. */
  send: UploadSend;
  /** File bytes one BLOCK_REQUEST may ask for (after clamping to the file). @default 4194304 */
  maxRequestBytes?: number;
  /** Datagrams one BLOCK_REQUEST may cause. @default 1024 */
  maxRequestDatagrams?: number;
  /** Upload rate per requester (address and port), bytes/s. @default 1073741824 */
  sourceRate?: number;
  /** Burst per requester, bytes; at least `maxRequestBytes`. @default 16777216 */
  sourceBurst?: number;
  /** Upload rate over all requesters, bytes/s. @default Infinity */
  totalRate?: number;
  /** Burst over all requesters, bytes; at least `maxRequestBytes`. @default 16777216 */
  totalBurst?: number;
  /** Datagrams handed to `send` whose promise has not settled; beyond this, requests get
   * ERROR busy (the socket is not keeping up). @default 512 */
  maxPendingSends?: number;
  /** Requesters whose counters are kept; the least recently seen are forgotten. @default 4096 */
  maxSources?: number;
  /**
   * How often the address-cookie key rotates, ms; a cookie handed out in PROBE_ACK is accepted
   * for one to two of these. @default 120000
   */
  cookieEpochMs?: number;
}

/** What to share. */
export interface ShareOptions {
  /** The file on disk (or the `.part` of a download in progress). */
  path: string;
  /** The file's manifest (its size must match the file). */
  manifest: Manifest;
  /** The encoded manifest; its SHA-256 is the content id. */
  encoded: Uint8Array;
  /**
   * Serve only these pieces (a download in progress); read at every request, so a live bit set
   * (`PartFile.verifiedPieces`) works. @default every piece
   */
  have?: { has(index: number): boolean };
}

/** One shared content. */
export interface SharedContentInfo {
  /** Lowercase hex content id. */
  contentIdHex: string;
  /** The file served. */
  path: string;
  /** File size in bytes. */
  size: number;
  /** File bytes sent for this content. */
  bytesServed: number;
  /** Requests answered for this content (data or ERROR). */
  requests: number;
}

/** Counters of one requester. */
export interface SourceStats {
  /** `host|port`. */
  address: string;
  /** Requests received. */
  requests: number;
  /** BLOCK_DATA datagrams sent. */
  blocks: number;
  /** File bytes sent. */
  bytes: number;
  /** ERROR replies sent (busy included). */
  errors: number;
  /** ERROR busy replies sent. */
  busy: number;
  /** `now` of the last request. */
  lastSeen: number;
}

/** Counters of an {@link Uploader}. */
export interface UploaderStats {
  /** Requests received (all contents, all requesters). */
  requests: number;
  /** BLOCK_DATA datagrams sent. */
  blocksSent: number;
  /** File bytes handed to `send` (what UPDATE reports). */
  bytesSent: number;
  /** Manifest bytes sent in MANIFEST_DATA. */
  manifestBytesSent: number;
  /** ERROR replies by reason (bad_cookie: no valid address cookie; nothing else was checked). */
  errors: { unknown_content: number; out_of_range: number; busy: number; bad_cookie: number };
  /** PROBEs answered with a PROBE_ACK (and a cookie). */
  probes: number;
  /** Sends that threw or rejected. */
  sendFailures: number;
  /** Requests dropped because a shared file got shorter than its manifest. */
  shortReads: number;
}

interface Entry {
  info: SharedContentInfo;
  contentId: Uint8Array;
  manifest: Manifest;
  encoded: Uint8Array;
  fd: number;
  have: { has(index: number): boolean } | undefined;
}

interface Bucket {
  tokens: number;
  at: number;
}

interface Source extends SourceStats {
  bucket: Bucket;
}

/** A send buffer; `release` is bound once so settling a send allocates no closure. */
interface Slot {
  bytes: Uint8Array;
  view: DataView;
  release: () => void;
  fail: () => void;
}

const MiB = 1024 * 1024;

/**
 * Serves shared contents. Driven by {@link handleProbe} and {@link handleRequest} (one decoded
 * datagram, its source and the current time in ms); replies go out through the injected `send`.
 * Only content ids passed to {@link share} are served — a request never names a path — and only
 * to a requester whose address cookie (from a PROBE_ACK of this uploader) is valid for its IP
 * (see address_cookies.ts): a forged source address gets an ERROR no larger than its request.
 *
 * Per block the work is one `readSync` at the block's offset straight into a send buffer after
 * the 16-byte header, and one `send`. Send buffers come from a pool and return to it when the
 * send settles, because `Deno.DatagramConn.send` may read the buffer after it returns (measured:
 * with one reused buffer and a socket under back-pressure, 40 of 2000 blocks arrived intact and
 * the rest were copies of later blocks).
 *
 * Limits, each answered with ERROR busy: bytes and datagrams per request, a token bucket per
 * requester and one for all, and the number of sends still pending.
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
 * const cookie = up.cookieFor(from.hostname, performance.now()); // what its PROBE_ACK carries
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
  /** Counters over all contents and requesters. */
  readonly stats: UploaderStats = {
    requests: 0,
    blocksSent: 0,
    bytesSent: 0,
    manifestBytesSent: 0,
    errors: { unknown_content: 0, out_of_range: 0, busy: 0, bad_cookie: 0 },
    probes: 0,
    sendFailures: 0,
    shortReads: 0,
  };
  readonly #send: UploadSend;
  readonly #entries = new Map<string, Entry>();
  readonly #sources = new Map<string, Source>();
  readonly #free: Slot[] = [];
  readonly #maxRequestBytes: number;
  readonly #maxRequestDatagrams: number;
  readonly #sourceRate: number;
  readonly #sourceBurst: number;
  readonly #totalRate: number;
  readonly #totalBurst: number;
  readonly #total: Bucket;
  readonly #maxPending: number;
  readonly #maxSources: number;
  readonly #cookies: AddressCookies;
  #pending = 0;
  #taken = 0;
  #closed = false;
  /** ERROR text bytes allowed for the request being answered (anti-amplification). */
  #errorRoom = MAX_ERROR_TEXT_BYTES;

  /**
   * Creates an uploader that shares nothing yet.
   *
   * @param options the send function and limits
   * @throws {RangeError} for a limit that is not positive
   */
  constructor(options: UploaderOptions) {
    this.#send = options.send;
    this.#maxRequestBytes = positive(options.maxRequestBytes ?? 4 * MiB, "maxRequestBytes");
    this.#maxRequestDatagrams = positive(
      options.maxRequestDatagrams ?? 1024,
      "maxRequestDatagrams",
    );
    this.#sourceRate = positive(options.sourceRate ?? 1024 * MiB, "sourceRate");
    this.#sourceBurst = Math.max(options.sourceBurst ?? 16 * MiB, this.#maxRequestBytes);
    this.#totalRate = positive(options.totalRate ?? Infinity, "totalRate");
    this.#totalBurst = Math.max(options.totalBurst ?? 16 * MiB, this.#maxRequestBytes);
    this.#total = { tokens: this.#totalBurst, at: -Infinity };
    this.#maxPending = positive(options.maxPendingSends ?? 512, "maxPendingSends");
    this.#maxSources = positive(options.maxSources ?? 4096, "maxSources");
    this.#cookies = new AddressCookies({
      epochMs: positive(options.cookieEpochMs ?? DEFAULT_COOKIE_EPOCH_MS, "cookieEpochMs"),
    });
  }

  /** File bytes sent so far (all contents). */
  get uploadedBytes(): number {
    return this.stats.bytesSent;
  }

  /** Sends handed out whose promise has not settled yet. */
  get pendingSends(): number {
    return this.#pending;
  }

  /**
   * File bytes sent since the previous call: what the next UPDATE reports.
   *
   * @returns bytes since the last call (all bytes on the first call)
   */
  takeUploaded(): number {
    const d = this.stats.bytesSent - this.#taken;
    this.#taken = this.stats.bytesSent;
    return d;
  }

  /**
   * Shares a content: opens the file for positional reads. Sharing the same content id again
   * replaces the previous entry (and closes its file).
   *
   * @returns the entry's counters
   * @throws {TransferError} `not_found`/`disk` when the file cannot be opened, `changed` when
   *   its size differs from the manifest's
   */
  share(options: ShareOptions): SharedContentInfo {
    if (this.#closed) throw new Error("Cannot share: the uploader is closed");
    const contentId = contentIdOf(options.encoded);
    const hex = toHex(contentId);
    let fd: number;
    try {
      fd = openSync(options.path, "r");
    } catch (e) {
      throw diskError(`Cannot share ${options.path}`, e);
    }
    let size: number;
    try {
      size = fstatSync(fd).size;
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
    this.unshare(hex);
    const info: SharedContentInfo = {
      contentIdHex: hex,
      path: options.path,
      size,
      bytesServed: 0,
      requests: 0,
    };
    this.#entries.set(hex, {
      info,
      contentId,
      manifest: options.manifest,
      encoded: options.encoded,
      fd,
      have: options.have,
    });
    return info;
  }

  /**
   * Stops serving a content and closes its file.
   *
   * @returns true when it was shared
   */
  unshare(contentIdHex: string): boolean {
    const hex = contentIdHex.toLowerCase();
    const e = this.#entries.get(hex);
    if (!e) return false;
    this.#entries.delete(hex);
    closeSync(e.fd);
    return true;
  }

  /** Tells whether a content id is shared. */
  has(contentIdHex: string): boolean {
    return this.#entries.has(contentIdHex.toLowerCase());
  }

  /** The counters of a shared content, or undefined. */
  get(contentIdHex: string): SharedContentInfo | undefined {
    return this.#entries.get(contentIdHex.toLowerCase())?.info;
  }

  /** Content ids (lowercase hex) currently shared. */
  contents(): string[] {
    return [...this.#entries.keys()];
  }

  /** Counters per requester, most recently seen last. */
  sources(): SourceStats[] {
    return [...this.#sources.values()].map(({ bucket: _, ...s }) => ({ ...s }));
  }

  /**
   * Answers a PROBE with a PROBE_ACK of the same size that carries the cookie for the prober's
   * IP address. A PROBE under 20 bytes has no room for it and gets no answer.
   *
   * @param msg a decoded PROBE
   * @param from the prober
   * @param now current time in ms (drives the cookie key's rotation)
   */
  handleProbe(msg: ProbeMessage, from: Deno.NetAddr, now: number): void {
    if (this.#closed || msg.size < PROBE_ACK_MIN_SIZE) return;
    this.stats.probes++;
    const cookie = this.#cookies.issue(from.hostname, now);
    this.#sendOwned(
      encodeMessage({ type: "probe_ack", txid: msg.txid, size: msg.size, cookie }),
      from,
    );
  }

  /**
   * The address cookie this uploader hands out to an IP address now (what a PROBE_ACK to it
   * carries).
   *
   * @param hostname the requester's IP address
   * @param now current time in ms
   * @returns the cookie
   */
  cookieFor(hostname: string, now: number): bigint {
    return this.#cookies.issue(hostname, now);
  }

  /**
   * Answers one request. A cookie that is not valid for the source IP (absent, forged, expired)
   * → ERROR bad_cookie and nothing else: the requester has proven nothing, so it gets no data
   * and no ERROR larger than its request. Unknown content → ERROR unknown_content; a range that
   * starts at or past
   * the end of the file, or covers a piece not yet verified → ERROR out_of_range (nothing is
   * sent for that request); over a limit → ERROR busy. Otherwise MANIFEST_DATA (one slice of at
   * most `maxDatagram` bytes at the requested offset) or BLOCK_DATA for every range, cut into
   * blocks of `blockSize` bytes that never cross the range's end, a piece boundary or the end of
   * the file.
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
    this.stats.requests++;
    // An ERROR is never larger than the request (docs/PROTOCOL.md, Anti-amplification): ERROR
    // is 11 + text bytes; MANIFEST_REQUEST is 56 bytes, BLOCK_REQUEST 53 + 12 per range.
    const requestBytes = msg.type === "manifest_request" ? 56 : 53 + 12 * msg.ranges.length;
    this.#errorRoom = Math.min(MAX_ERROR_TEXT_BYTES, requestBytes - 11);
    if (!this.#cookies.check(from.hostname, msg.cookie, now)) {
      // Before any per-source state: forged sources must not churn the requester table
      this.stats.errors.bad_cookie++;
      const text = "no valid address cookie: send a PROBE for one".slice(0, this.#errorRoom);
      this.#sendOwned(
        encodeMessage({ type: "error", txid: msg.txid, code: ErrorCode.bad_cookie, text }),
        from,
      );
      return;
    }
    const src = this.#source(from, now);
    src.requests++;
    const entry = this.#entries.get(toHex(msg.contentId));
    if (!entry) {
      return this.#error(
        msg.txid,
        ErrorCode.unknown_content,
        "content is not shared here",
        from,
        src,
      );
    }
    entry.info.requests++;
    if (msg.type === "manifest_request") return this.#manifest(entry, msg, from, src, now);
    return this.#blocks(entry, msg, from, src, now);
  }

  /** Stops serving and closes every file. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const hex of [...this.#entries.keys()]) this.unshare(hex);
    this.#free.length = 0;
  }

  #manifest(
    entry: Entry,
    msg: ManifestRequestMessage,
    from: Deno.NetAddr,
    src: Source,
    now: number,
  ): void {
    const total = entry.encoded.byteLength;
    if (msg.offset >= total) {
      return this.#error(
        msg.txid,
        ErrorCode.out_of_range,
        `manifest offset ${msg.offset} is past its ${total} bytes`,
        from,
        src,
      );
    }
    const len = Math.min(msg.maxDatagram - MANIFEST_DATA_HEADER_SIZE, total - msg.offset);
    if (!this.#admit(msg.txid, len, 1, from, src, now)) return;
    const bytes = encodeMessage({
      type: "manifest_data",
      txid: msg.txid,
      contentId: entry.contentId,
      total,
      offset: msg.offset,
      data: entry.encoded.subarray(msg.offset, msg.offset + len),
    });
    this.stats.manifestBytesSent += len;
    this.#sendOwned(bytes, from);
  }

  #blocks(
    entry: Entry,
    msg: BlockRequestMessage,
    from: Deno.NetAddr,
    src: Source,
    now: number,
  ): void {
    const size = entry.manifest.size;
    const ps = entry.manifest.pieceSize;
    const bs = msg.blockSize;
    let bytes = 0;
    let datagrams = 0;
    for (const r of msg.ranges) {
      if (r.offset >= size) {
        return this.#error(
          msg.txid,
          ErrorCode.out_of_range,
          `range at ${r.offset} starts past the end of the file (${size} bytes)`,
          from,
          src,
        );
      }
      const end = Math.min(r.offset + r.length, size);
      if (entry.have) {
        const last = Math.floor((end - 1) / ps);
        for (let p = Math.floor(r.offset / ps); p <= last; p++) {
          if (!entry.have.has(p)) {
            return this.#error(
              msg.txid,
              ErrorCode.out_of_range,
              `piece ${p} is not available here yet`,
              from,
              src,
            );
          }
        }
      }
      bytes += end - r.offset;
      // blocks, plus one more for every piece boundary inside the range
      datagrams += Math.ceil((end - r.offset) / bs) + Math.floor((end - 1) / ps) -
        Math.floor(r.offset / ps);
    }
    if (bytes > this.#maxRequestBytes || datagrams > this.#maxRequestDatagrams) {
      return this.#busy(
        msg.txid,
        `request asks ${bytes} bytes in ${datagrams} datagrams; at most ${this.#maxRequestBytes} bytes and ${this.#maxRequestDatagrams} datagrams`,
        from,
        src,
      );
    }
    if (!this.#admit(msg.txid, bytes, datagrams, from, src, now)) return;

    const fd = entry.fd;
    const txid = msg.txid;
    let sent = 0;
    let blocks = 0;
    for (const r of msg.ranges) {
      const end = Math.min(r.offset + r.length, size);
      let off = r.offset;
      while (off < end) {
        const pieceEnd = (Math.floor(off / ps) + 1) * ps;
        const stop = Math.min(off + bs, end, pieceEnd);
        const len = stop - off;
        const slot = this.#free.pop() ?? this.#newSlot();
        writeBlockDataHeader(slot.view, txid, off);
        let n: number;
        try {
          n = readSync(fd, slot.bytes, BLOCK_DATA_HEADER_SIZE, len, off);
        } catch {
          n = -1;
        }
        if (n !== len) {
          // The file got shorter (or unreadable) since it was shared: stop this request.
          this.#free.push(slot);
          this.stats.shortReads++;
          this.#account(entry, src, sent, blocks);
          return this.#error(
            txid,
            ErrorCode.out_of_range,
            `file changed on disk at offset ${off}`,
            from,
            src,
          );
        }
        this.#sendSlot(slot, BLOCK_DATA_HEADER_SIZE + len, from);
        sent += len;
        blocks++;
        off = stop;
      }
    }
    this.#account(entry, src, sent, blocks);
  }

  #account(entry: Entry, src: Source, bytes: number, blocks: number): void {
    this.stats.bytesSent += bytes;
    this.stats.blocksSent += blocks;
    entry.info.bytesServed += bytes;
    src.bytes += bytes;
    src.blocks += blocks;
  }

  /** Checks the pending-send cap and both token buckets; answers busy and returns false when over. */
  #admit(
    txid: number,
    bytes: number,
    datagrams: number,
    from: Deno.NetAddr,
    src: Source,
    now: number,
  ): boolean {
    if (this.#pending + datagrams > this.#maxPending && this.#pending > 0) {
      this.#busy(txid, `send queue full (${this.#pending} datagrams pending)`, from, src);
      return false;
    }
    const srcWait = waitFor(src.bucket, bytes, this.#sourceRate, this.#sourceBurst, now);
    const totalWait = waitFor(this.#total, bytes, this.#totalRate, this.#totalBurst, now);
    if (srcWait > 0 || totalWait > 0) {
      const ms = Math.ceil(Math.max(srcWait, totalWait));
      this.#busy(txid, `rate limit: retry in ${ms} ms`, from, src);
      return false;
    }
    src.bucket.tokens -= bytes;
    this.#total.tokens -= bytes;
    return true;
  }

  #busy(txid: number, text: string, from: Deno.NetAddr, src: Source): void {
    src.busy++;
    this.#error(txid, ErrorCode.busy, text, from, src);
  }

  #error(txid: number, code: ErrorCodeValue, text: string, to: Deno.NetAddr, src: Source): void {
    src.errors++;
    if (code === ErrorCode.unknown_content) this.stats.errors.unknown_content++;
    else if (code === ErrorCode.out_of_range) this.stats.errors.out_of_range++;
    else if (code === ErrorCode.busy) this.stats.errors.busy++;
    // The texts are ASCII, so characters are bytes.
    const room = this.#errorRoom;
    this.#sendOwned(encodeMessage({ type: "error", txid, code, text: text.slice(0, room) }), to);
  }

  /** Sends a datagram that nobody reuses (a fresh buffer). */
  #sendOwned(bytes: Uint8Array, to: Deno.NetAddr): void {
    try {
      const r = this.#send(bytes, to);
      if (r) r.then(undefined, () => this.stats.sendFailures++);
    } catch {
      this.stats.sendFailures++;
    }
  }

  /** Sends the first `len` bytes of a pooled buffer; the buffer returns when the send settles. */
  #sendSlot(slot: Slot, len: number, to: Deno.NetAddr): void {
    let r: void | PromiseLike<unknown>;
    try {
      r = this.#send(slot.bytes.subarray(0, len), to);
    } catch {
      this.stats.sendFailures++;
      this.#free.push(slot);
      return;
    }
    if (r) {
      this.#pending++;
      r.then(slot.release, slot.fail);
    } else {
      this.#free.push(slot);
    }
  }

  #newSlot(): Slot {
    const bytes = new Uint8Array(MAX_DATAGRAM);
    const slot: Slot = {
      bytes,
      view: new DataView(bytes.buffer),
      release: () => {
        this.#pending--;
        if (!this.#closed && this.#free.length < this.#maxPending) this.#free.push(slot);
      },
      fail: () => {
        this.stats.sendFailures++;
        slot.release();
      },
    };
    return slot;
  }

  #source(from: Deno.NetAddr, now: number): Source {
    const key = `${from.hostname}|${from.port}`;
    let s = this.#sources.get(key);
    if (s) {
      this.#sources.delete(key); // re-insert: the map stays ordered by last use
    } else {
      s = {
        address: key,
        requests: 0,
        blocks: 0,
        bytes: 0,
        errors: 0,
        busy: 0,
        lastSeen: now,
        bucket: { tokens: this.#sourceBurst, at: now },
      };
      if (this.#sources.size >= this.#maxSources) {
        const oldest = this.#sources.keys().next().value;
        if (oldest !== undefined) this.#sources.delete(oldest);
      }
    }
    s.lastSeen = now;
    this.#sources.set(key, s);
    return s;
  }
}

/**
 * Refills a token bucket to `now` and returns how long (ms) until it holds `cost` tokens
 * (0 when it already does).
 */
function waitFor(b: Bucket, cost: number, rate: number, burst: number, now: number): number {
  if (rate === Infinity) {
    b.tokens = burst;
    b.at = now;
    return 0;
  }
  if (now > b.at) {
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) * rate) / 1000);
    b.at = now;
  }
  return b.tokens >= cost ? 0 : ((cost - b.tokens) * 1000) / rate;
}

function positive(v: number, what: string): number {
  if (!(v > 0)) throw new RangeError(`Cannot create uploader: ${what} must be positive, got ${v}`);
  return v;
}
