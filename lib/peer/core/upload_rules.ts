/**
 * The uploader's rules, sans-I/O: which contents are shared (by content id, never a path), who
 * is answered (an address cookie that proves the source address and port), how much (per-request caps, a
 * token bucket per requester and one for all, the send queue), what the reply is (PROBE_ACK,
 * ERROR, MANIFEST_DATA slices, or a {@link BlockPlan} of BLOCK_DATA blocks to read and send),
 * and the counters (per content, per requester, in total, and the bytes the next UPDATE
 * reports).
 *
 * It holds no file, socket or timer: the clock comes in as `now` (ms), small replies go out as
 * encoded datagrams through {@link UploadRules.pollTransmit}, and block data — the only bytes
 * that come from disk — is described by a reused {@link BlockPlan} that the driver
 * (`lib/peer/uploader.ts`) walks block by block, reading each one straight into a send buffer.
 * Walking a plan allocates nothing.
 *
 * Which requesters are served at all comes first from the upload slots ({@link UploadSlots}:
 * a few at once, tit-for-tat and turns, one optimistic slot; the others get ERROR choked), and
 * path MTU probes draw their padded acks from a budget ({@link PROBE_PAD_RATE}).
 *
 * Fairness between requesters comes from the per-requester token bucket (one requester can
 * spend at most its own burst, then its rate) and, across requesters, from {@link FairShare}:
 * one IP address (or /24, /48 prefix) that opens many sockets gets, while others ask too, no more
 * than they leave it, so a flood of valid-cookie requests from a thousand ports cannot starve an
 * honest requester (issue 11).
 *
 * The user's upload cap (`uploadRate`, `--max-upload`) paces rather than refuses: a request
 * beyond it waits in a queue and its blocks go out when the cap allows ({@link
 * UploadRules.pollPlan}, {@link UploadRules.pollTimeout}). A downloader then sees a slower path
 * (a longer RTT its window adapts to), never a loss or an ERROR busy, which its engine would
 * treat as congestion and answer by re-requesting everything outstanding. Waiting requests go
 * in start-time fair queuing order (by bytes), so requesters share the cap equally; only a
 * requester with more than `maxRequestBytes` waiting, or a full queue, gets busy.
 *
 * Over 600 lines, most of them the JSDoc of the counters and limits: the rules are one decision
 * per request (cookie, content, ranges, caps, buckets, fair shares, the upload cap's queue) and
 * read best in one place.
 * @module
 */
import { encodeMessage } from "../../wire/codec.ts";
import { toHex } from "../../wire/hex.ts";
import {
  MANIFEST_DATA_HEADER_SIZE,
  MAX_ERROR_TEXT_BYTES,
  PROBE_ACK_MIN_SIZE,
} from "../../wire/limits.ts";
import {
  type BitfieldMessage,
  type BlockRequestMessage,
  ErrorCode,
  type ErrorCodeValue,
  type ManifestRequestMessage,
  type ProbeMessage,
  type SharerMessage,
} from "../../wire/messages.ts";
import { contentIdOf, type Manifest } from "../manifest.ts";
import { AddressCookies, type CookieSource, DEFAULT_COOKIE_EPOCH_MS } from "./address_cookies.ts";
import { BlockPlan } from "./block_plan.ts";
import { SwarmRules } from "./swarm_rules.ts";
import { FairShare } from "./fair_share.ts";
import { CHOKE_RETRY_MS, UploadSlots, type UploadSlotsOptions } from "./upload_slots.ts";
import { ManifestRepeats } from "./manifest_repeats.ts";
import { capBurst, TokenBucket } from "../../net/token_bucket.ts";

/** Limits of {@link UploadRules}. */
export interface UploadRulesOptions {
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
  /**
   * The user's upload cap over all requesters, bytes/s: requests beyond it are paced (queued),
   * not refused; see {@link UploadRules.setUploadRate}. @default Infinity
   */
  uploadRate?: number;
  /** Requests that may wait for the upload cap; beyond this they get ERROR busy. @default 1024 */
  maxQueuedRequests?: number;
  /** Datagrams whose send has not settled; beyond this, requests get ERROR busy (the socket is
   * not keeping up). @default 512 */
  maxPendingSends?: number;
  /** Requesters whose counters are kept; the least recently seen are forgotten. @default 4096 */
  maxSources?: number;
  /**
   * Share the upload fairly between requesters' IP addresses and prefixes ({@link FairShare}):
   * while several ask, one host's thousand ports get no more than one honest requester leaves.
   * @default true
   */
  fairShare?: boolean;
  /**
   * How often the address-cookie key rotates, ms; a cookie handed out in PROBE_ACK is accepted
   * for one to two of these. @default 120000
   */
  cookieEpochMs?: number;
  /** Source of the cookie key material. @default crypto.getRandomValues */
  randomBytes?: (n: number) => Uint8Array;
  /** The current time in ms, for the first cookie epoch. @default 0 */
  now?: number;
  /**
   * Send each piece of a complete file to the swarm about once before any piece again: while
   * two or more requesters asked for its availability within {@link superSeedWindowMs}, a
   * BITFIELD reply *offers* a few of the pieces offered least so far (see swarm_rules.ts).
   * @default true
   */
  superSeed?: boolean;
  /** Requesters count as downloading at once for this long after their BITFIELD, ms. @default 10000 */
  superSeedWindowMs?: number;
  /** Random numbers in [0, 1) (which of the equally offered pieces to offer). @default Math.random */
  random?: () => number;
  /**
   * Upload slots ({@link UploadSlots}): block requests are served for a few requesters at once,
   * chosen tit-for-tat with an optimistic slot; the others get ERROR choked. False turns them
   * off. @default {} (8 regular slots and 1 optimistic)
   */
  slots?: UploadSlotsOptions | false;
}

/** What to share. */
export interface ShareOptions {
  /** The file on disk (or the `.part` of a download in progress); a label for the counters. */
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
  /**
   * Super-seed this content (a complete file only). @default the rules' `superSeed` (a file this
   * peer downloaded is better shared plainly: pass false)
   */
  superSeed?: boolean;
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

/** Counters of an uploader. */
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
  errors: {
    unknown_content: number;
    out_of_range: number;
    busy: number;
    bad_cookie: number;
    /** Block requests refused because the upload slots were full (ERROR choked). */
    choked: number;
  };
  /** Requests refused (ERROR busy) because their IP address or prefix was over its fair share. */
  fairShareRefusals: number;
  /** PROBEs answered with a PROBE_ACK (and a cookie). */
  probes: number;
  /**
   * Large PROBEs not acknowledged: over the budget of padded acks ({@link PROBE_PAD_RATE}); the
   * first of a prober's in a second is answered ERROR probe_refused.
   */
  probesRefused: number;
  /** Sends that threw or rejected (reported by the driver, {@link UploadRules.handleSendFailed}). */
  sendFailures: number;
  /** Requests stopped because a shared file got shorter than its manifest. */
  shortReads: number;
}

/** A datagram to send: an encoded reply and its destination. */
export interface UploadTransmit {
  /** The encoded datagram (a fresh buffer the driver may hand to the socket as is). */
  bytes: Uint8Array;
  /** Where it goes. */
  to: Deno.NetAddr;
}

interface Entry {
  info: SharedContentInfo;
  contentId: Uint8Array;
  manifest: Manifest;
  encoded: Uint8Array;
  have: { has(index: number): boolean } | undefined;
  /** Availability, HAVE subscribers and offers (swarming). */
  swarm: SwarmRules;
}

interface Source extends SourceStats {
  bucket: TokenBucket;
  /** Fair queuing under the upload cap: its last request's finish tag, and bytes queued. */
  pace: { finish: number; queued: number };
}

/** A request waiting for the upload cap. */
interface Queued {
  msg: BlockRequestMessage;
  from: Deno.NetAddr;
  entry: Entry;
  src: Source;
  bytes: number;
  /** Start tag (start-time fair queuing): lowest goes first. */
  start: number;
}

const MiB = 1024 * 1024;

/** PROBE_ACKs up to this size (an Ethernet frame's UDP payload) are always answered. */
export const PROBE_PAD_FREE_BYTES = 1472;
/**
 * Larger PROBE_ACKs (path MTU probes) share this budget, bytes/s, with a burst of a second's
 * worth: about ten downloaders a second probe large datagrams; in a crowd at a seed the others
 * settle on Ethernet-sized ones in a few round trips instead of the seed's link carrying 91 KiB
 * of acks per downloader (measured in the simulator: a quarter of this made N = 8 slower, 1.15×
 * against 1.07× the bound, from Ethernet-sized blocks).
 */
export const PROBE_PAD_RATE = 1024 * 1024;

/**
 * The uploader's admission and fairness rules and its counters, sans-I/O.
 *
 * Events in: {@link share}/{@link unshare}, {@link handleProbe}, {@link handleRequest} (one
 * decoded datagram, its source and `now`), and from the driver's sends
 * {@link handleSendQueued}, {@link handleSendSettled}, {@link handleSendFailed} and
 * {@link handleShortRead}. Actions out: {@link pollTransmit} (encoded PROBE_ACK, ERROR and
 * MANIFEST_DATA datagrams) and the {@link BlockPlan} that `handleRequest` returns for a
 * BLOCK_REQUEST it admits.
 *
 * @example A request without a cookie gets a small ERROR; with one, a plan of blocks
 * ```ts
 * import assert from "node:assert/strict";
 * import { UploadRules } from "./upload_rules.ts";
 * import { encodeManifest, contentIdOf } from "../manifest.ts";
 *
 * const manifest = { size: 40_000, pieceSize: 32_768, pieceHashes: new Uint8Array(64) };
 * const encoded = encodeManifest(manifest);
 * const rules = new UploadRules({ randomBytes: (n) => new Uint8Array(n).fill(7) });
 * rules.share({ path: "f", manifest, encoded });
 * const from = { transport: "udp" as const, hostname: "192.0.2.1", port: 5000 };
 * const request = {
 *   type: "block_request" as const, txid: 1, cookie: 0n, contentId: contentIdOf(encoded),
 *   blockSize: 16_384, ranges: [{ offset: 0, length: 40_000 }],
 * };
 * assert.equal(rules.handleRequest(request, from, 0), undefined);
 * const reply = rules.pollTransmit()!; // ERROR bad_cookie, no larger than the 65-byte request
 * assert.ok(reply.bytes.byteLength <= 65);
 *
 * const cookie = rules.cookieFor(from, 0); // what a PROBE_ACK to that address and port carries
 * const plan = rules.handleRequest({ ...request, cookie }, from, 0)!;
 * const blocks: [number, number][] = [];
 * while (plan.next()) blocks.push([plan.offset, plan.length]);
 * assert.deepEqual(blocks, [[0, 16_384], [16_384, 16_384], [32_768, 7_232]]);
 * assert.equal(rules.takeUploaded(), 40_000);
 * ```
 */
export class UploadRules {
  /** Counters over all contents and requesters. */
  readonly stats: UploaderStats = {
    requests: 0,
    blocksSent: 0,
    bytesSent: 0,
    manifestBytesSent: 0,
    errors: { unknown_content: 0, out_of_range: 0, busy: 0, bad_cookie: 0, choked: 0 },
    fairShareRefusals: 0,
    probes: 0,
    probesRefused: 0,
    sendFailures: 0,
    shortReads: 0,
  };
  /** Datagrams whose send has not settled; beyond {@link maxPendingSends} requests get busy. */
  readonly maxPendingSends: number;
  readonly #entries = new Map<string, Entry>();
  readonly #sources = new Map<string, Source>();
  readonly #transmits: UploadTransmit[] = [];
  readonly #maxRequestBytes: number;
  readonly #maxRequestDatagrams: number;
  readonly #sourceRate: number;
  readonly #sourceBurst: number;
  readonly #total: TokenBucket;
  readonly #maxSources: number;
  readonly #cookies: AddressCookies;
  readonly #fair: FairShare | undefined;
  readonly #plan = new BlockPlan((p) => this.#planEnded(p));
  #planEntry: Entry | undefined;
  #planSource: Source | undefined;
  #pending = 0;
  #taken = 0;
  /** The user's upload cap (undefined: none), its queue and fair-queuing clock. */
  #cap: TokenBucket | undefined;
  readonly #queue: Queued[] = [];
  readonly #maxQueued: number;
  #vclock = 0;
  /** ERROR text bytes allowed for the request being answered (anti-amplification). */
  #errorRoom = MAX_ERROR_TEXT_BYTES;
  readonly #superSeed: boolean;
  readonly #superSeedWindowMs: number;
  readonly #random: () => number;
  readonly #slots: UploadSlots | undefined;
  readonly #probePad: TokenBucket;
  /** Probers refused lately (address → when), so each gets one ERROR a second at most. */
  readonly #probeRefusals = new Map<string, number>();
  /** A crowd's repeated manifest requests (manifest_repeats.ts). */
  readonly #manifestRepeats = new ManifestRepeats();

  /**
   * Creates rules that share nothing yet.
   *
   * @param options limits, cookie epoch, randomness and start time
   * @throws {RangeError} for a limit that is not positive
   */
  constructor(options: UploadRulesOptions = {}) {
    this.#maxRequestBytes = positive(options.maxRequestBytes ?? 4 * MiB, "maxRequestBytes");
    this.#maxRequestDatagrams = positive(
      options.maxRequestDatagrams ?? 1024,
      "maxRequestDatagrams",
    );
    this.#sourceRate = positive(options.sourceRate ?? 1024 * MiB, "sourceRate");
    this.#sourceBurst = Math.max(options.sourceBurst ?? 16 * MiB, this.#maxRequestBytes);
    this.#total = new TokenBucket({
      ratePerSecond: positive(options.totalRate ?? Infinity, "totalRate"),
      burst: Math.max(options.totalBurst ?? 16 * MiB, this.#maxRequestBytes),
    });
    this.maxPendingSends = positive(options.maxPendingSends ?? 512, "maxPendingSends");
    this.#maxQueued = positive(options.maxQueuedRequests ?? 1024, "maxQueuedRequests");
    this.setUploadRate(options.uploadRate ?? Infinity, options.now ?? 0);
    this.#maxSources = positive(options.maxSources ?? 4096, "maxSources");
    this.#fair = options.fairShare === false ? undefined : new FairShare();
    this.#cookies = new AddressCookies({
      epochMs: positive(options.cookieEpochMs ?? DEFAULT_COOKIE_EPOCH_MS, "cookieEpochMs"),
      ...(options.randomBytes ? { randomBytes: options.randomBytes } : {}),
      now: options.now ?? 0,
    });
    this.#superSeed = options.superSeed ?? true;
    this.#superSeedWindowMs = options.superSeedWindowMs ?? 10_000;
    this.#random = options.random ?? Math.random;
    this.#probePad = new TokenBucket({
      ratePerSecond: PROBE_PAD_RATE,
      burst: PROBE_PAD_RATE,
      now: options.now ?? 0,
    });
    this.#slots = options.slots === false
      ? undefined
      : new UploadSlots({ random: this.#random, ...options.slots });
  }

  /** The upload slots (undefined when turned off). */
  get slots(): UploadSlots | undefined {
    return this.#slots;
  }

  /** Sends queued and not settled yet. */
  get pendingSends(): number {
    return this.#pending;
  }

  /** The upload cap, bytes/s (Infinity: none). */
  get uploadRate(): number {
    return this.#cap?.ratePerSecond ?? Infinity;
  }

  /** Requests waiting for the upload cap. */
  get queuedRequests(): number {
    return this.#queue.length;
  }

  /**
   * Sets the upload cap over all requesters (the bytes saved up are kept up to its burst, see
   * `capBurst`). Requests waiting for the old cap wait for the new one; with none, they are
   * all due at once ({@link pollPlan}).
   *
   * @param ratePerSecond bytes per second; Infinity removes the cap
   * @param now the time, ms
   * @throws {RangeError} for a rate that is not positive
   */
  setUploadRate(ratePerSecond: number, now: number): void {
    positive(ratePerSecond, "uploadRate");
    if (ratePerSecond === Infinity) {
      this.#cap = undefined;
      return;
    }
    const old = this.#cap;
    this.#cap = new TokenBucket({ ratePerSecond, burst: capBurst(ratePerSecond), now });
    if (old) {
      old.refill(now);
      this.#cap.tokens = Math.min(old.tokens, this.#cap.burst);
    }
  }

  /**
   * When the next request waiting for the upload cap is due ({@link pollPlan}), ms.
   *
   * @returns the time, or undefined when none waits
   */
  pollTimeout(): number | undefined {
    const q = this.#nextQueued();
    if (q === undefined) return undefined;
    const cap = this.#cap;
    if (!cap) return -Infinity;
    const need = Math.min(q.bytes, cap.burst);
    // Whole ms, so the cap holds the bytes by then (no wake-up just short of it)
    return cap.tokens >= need
      ? cap.at
      : Math.ceil(cap.at + ((need - cap.tokens) * 1000) / cap.ratePerSecond);
  }

  /**
   * The next request the upload cap lets go now, fairest first: a {@link BlockPlan} to walk
   * like the one {@link handleRequest} returns (the same reused object). Call until undefined,
   * then re-arm the timer at {@link pollTimeout}.
   *
   * @param now the time, ms
   * @returns the plan, or undefined when nothing is due
   */
  pollPlan(now: number): BlockPlan | undefined {
    this.#plan.end();
    for (;;) {
      const q = this.#nextQueued();
      if (q === undefined) return undefined;
      const cap = this.#cap;
      if (cap && cap.waitFor(Math.min(q.bytes, cap.burst), now) > 0) return undefined;
      this.#queue.splice(this.#queue.indexOf(q), 1);
      q.src.pace.queued -= q.bytes;
      // Unshared while it waited: nothing to send
      if (this.#entries.get(q.entry.info.contentIdHex) !== q.entry) continue;
      cap?.spend(q.bytes);
      this.#vclock = q.start;
      return this.#beginPlan(q.entry, q.msg, q.from, q.src);
    }
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
   * Shares a content by its content id (the SHA-256 of `encoded`). Sharing the same content id
   * again replaces the previous entry.
   *
   * @param options the manifest, its encoding, which pieces to serve and a path for the counters
   * @returns the entry's counters
   */
  share(options: ShareOptions): SharedContentInfo {
    const contentId = contentIdOf(options.encoded);
    const hex = toHex(contentId);
    this.unshare(hex);
    const info: SharedContentInfo = {
      contentIdHex: hex,
      path: options.path,
      size: options.manifest.size,
      bytesServed: 0,
      requests: 0,
    };
    const pieceCount = options.manifest.pieceHashes.byteLength / 32;
    this.#entries.set(hex, {
      info,
      contentId,
      manifest: options.manifest,
      encoded: options.encoded,
      have: options.have,
      swarm: new SwarmRules({
        pieceCount,
        superSeed: (options.superSeed ?? this.#superSeed) && options.have === undefined,
        windowMs: this.#superSeedWindowMs,
        random: this.#random,
        size: options.manifest.size,
        pieceSize: options.manifest.pieceSize,
      }),
    });
    return info;
  }

  /**
   * Stops serving a content; a block plan of it under way ends (what it walked past counts).
   *
   * @param contentIdHex the content id in hex (any case)
   * @returns true when it was shared
   */
  unshare(contentIdHex: string): boolean {
    const hex = contentIdHex.toLowerCase();
    const e = this.#entries.get(hex);
    if (!e) return false;
    this.#entries.delete(hex);
    if (this.#planEntry === e) this.#plan.end();
    return true;
  }

  /**
   * Tells whether a content id is shared.
   *
   * @param contentIdHex the content id in hex (any case)
   * @returns true when it is
   */
  has(contentIdHex: string): boolean {
    return this.#entries.has(contentIdHex.toLowerCase());
  }

  /**
   * The counters of a shared content.
   *
   * @param contentIdHex the content id in hex (any case)
   * @returns its counters, or undefined when it is not shared
   */
  get(contentIdHex: string): SharedContentInfo | undefined {
    return this.#entries.get(contentIdHex.toLowerCase())?.info;
  }

  /** Content ids (lowercase hex) currently shared. */
  contents(): string[] {
    return [...this.#entries.keys()];
  }

  /** Counters per requester, most recently seen last. */
  sources(): SourceStats[] {
    return [...this.#sources.values()].map(({ bucket: _, pace: __, ...s }) => ({ ...s }));
  }

  /**
   * The address cookie handed out to an address and port now (what a PROBE_ACK to it carries).
   *
   * @param from the requester's IP address and port
   * @param now current time in ms
   * @returns the cookie
   */
  cookieFor(from: CookieSource, now: number): bigint {
    return this.#cookies.issue(from, now);
  }

  /**
   * Answers a PROBE with a PROBE_ACK of the same size that carries the cookie for the prober's
   * address and port. A PROBE under 20 bytes has no room for it and gets no answer.
   *
   * @param msg a decoded PROBE
   * @param from the prober
   * @param now current time in ms (drives the cookie key's rotation)
   */
  handleProbe(msg: ProbeMessage, from: Deno.NetAddr, now: number): void {
    if (msg.size < PROBE_ACK_MIN_SIZE) return;
    // Padding beyond an Ethernet frame comes from a budget: many downloaders probing a seed at
    // once would otherwise flood its own queue with acks of 32 KiB
    if (msg.size > PROBE_PAD_FREE_BYTES) {
      const pad = this.#probePad;
      if (pad.waitFor(msg.size, now) > 0) {
        // A small ERROR (the probe is larger), once per prober and second: it settles on the
        // smaller sizes this round acknowledges instead of probing round after round
        this.stats.probesRefused++;
        const key = `${from.hostname}|${from.port}`;
        const last = this.#probeRefusals.get(key);
        if (last === undefined || now - last >= 1000) {
          this.#probeRefusals.delete(key);
          if (this.#probeRefusals.size >= 1024) this.#probeRefusals.clear();
          this.#probeRefusals.set(key, now);
          const text = "path MTU probes over budget: use smaller datagrams";
          this.#transmit(
            encodeMessage({ type: "error", txid: msg.txid, code: ErrorCode.probe_refused, text }),
            from,
          );
        }
        return;
      }
      pad.spend(msg.size);
    }
    this.stats.probes++;
    const cookie = this.#cookies.issue(from, now);
    this.#transmit(
      encodeMessage({ type: "probe_ack", txid: msg.txid, size: msg.size, cookie }),
      from,
    );
  }

  /**
   * Decides the answer to one request. A cookie that is not valid for the source address and
   * port (absent, forged, expired, another port's) → ERROR bad_cookie and nothing else: the requester has proven nothing, so
   * it gets no data, leaves no per-requester state and gets no ERROR larger than its request.
   * Unknown content → ERROR unknown_content; a range that starts at or past the end of the
   * file, or covers a piece not yet verified → ERROR out_of_range (nothing is sent for that
   * request); over a limit → ERROR busy. Otherwise one MANIFEST_DATA slice of at most
   * `maxDatagram` bytes at the requested offset (queued for {@link pollTransmit}), or a
   * {@link BlockPlan} for every range.
   *
   * @param msg a decoded MANIFEST_REQUEST or BLOCK_REQUEST
   * @param from the requester
   * @param now current time in ms (drives the rate limits and the cookie key)
   * @returns the blocks to send (reused; walk it before the next call), or undefined when the
   *   answer is queued for {@link pollTransmit} or the request waits for the upload cap
   *   ({@link pollPlan})
   */
  handleRequest(
    msg: ManifestRequestMessage | BlockRequestMessage,
    from: Deno.NetAddr,
    now: number,
  ): BlockPlan | undefined {
    this.#plan.end(); // a plan left unfinished by the driver counts what it walked past
    this.stats.requests++;
    // An ERROR is never larger than the request (docs/PROTOCOL.md, Anti-amplification): ERROR
    // is 11 + text bytes; MANIFEST_REQUEST is 56 bytes, BLOCK_REQUEST 53 + 12 per range.
    const requestBytes = msg.type === "manifest_request" ? 56 : 53 + 12 * msg.ranges.length;
    this.#errorRoom = Math.min(MAX_ERROR_TEXT_BYTES, requestBytes - 11);
    // Before any per-source state: forged sources must not churn the requester table
    if (!this.#cookieOk(msg, from, now)) return undefined;
    const src = this.#source(from, now);
    src.requests++;
    const entry = this.#entries.get(toHex(msg.contentId));
    if (!entry) {
      this.#error(msg.txid, ErrorCode.unknown_content, "content is not shared here", from, src);
      return undefined;
    }
    entry.info.requests++;
    if (msg.type === "manifest_request") {
      this.#manifest(entry, msg, from, src, now);
      return undefined;
    }
    return this.#blocks(entry, msg, from, src, now);
  }

  /**
   * Answers a BITFIELD request with this uploader's bits for the same slice, in a reply of the
   * same size (so never larger than the request): what a partial download has verified, every
   * piece of a complete file, or a super-seeding offer (see {@link UploadRulesOptions.superSeed}).
   * Like a block request it needs a valid address cookie (else ERROR bad_cookie, no larger than
   * the request); a requester of a partial download is sent HAVEs from then on
   * ({@link noteVerified}). BITFIELD replies are not for the uploader and are ignored.
   *
   * @param msg a decoded BITFIELD
   * @param from the requester
   * @param now current time in ms
   */
  handleBitfield(msg: BitfieldMessage, from: Deno.NetAddr, now: number): void {
    if (msg.reply) return;
    this.stats.requests++;
    this.#errorRoom = Math.min(MAX_ERROR_TEXT_BYTES, 59 + msg.bits.byteLength - 11);
    if (!this.#cookieOk(msg, from, now)) return;
    const src = this.#source(from, now);
    src.requests++;
    const entry = this.#entries.get(toHex(msg.contentId));
    if (!entry) {
      this.#error(msg.txid, ErrorCode.unknown_content, "content is not shared here", from, src);
      return;
    }
    const swarm = entry.swarm;
    if (msg.pieceCount !== swarm.pieceCount) {
      const text = `content has ${swarm.pieceCount} pieces, not ${msg.pieceCount}`;
      this.#error(msg.txid, ErrorCode.out_of_range, text, from, src);
      return;
    }
    const slots = this.#slots;
    const mayOffer = slots &&
      ((askers: number) => slots.offer(src.address, from.hostname, now, askers));
    const answer = swarm.answer(msg, entry.have, from, now, mayOffer);
    this.#transmit(
      encodeMessage({
        type: "bitfield",
        txid: msg.txid,
        cookie: 0n,
        contentId: entry.contentId,
        reply: true,
        offer: answer.offer,
        pieceCount: swarm.pieceCount,
        firstPiece: msg.firstPiece,
        bits: answer.bits,
      }),
      from,
    );
  }

  /**
   * A SHARER (another downloader of a content says it serves what it verifies): true when its
   * address cookie is valid for its source and the content is shared here, so the driver may pass
   * it to this peer's download of that content (`DownloadCore.addSharer`). Never answered, not
   * even with an ERROR: a wrong one is dropped.
   *
   * @param msg a decoded SHARER
   * @param from its source
   * @param now current time in ms
   * @returns whether to pass it on
   */
  checkSharer(msg: SharerMessage, from: Deno.NetAddr, now: number): boolean {
    return this.#cookies.check(from, msg.cookie, now) && this.#entries.has(toHex(msg.contentId));
  }

  /**
   * A piece of a partial download was verified: queues a HAVE for each requester that asked for
   * its availability lately.
   *
   * @param contentIdHex the content id in hex (any case)
   * @param piece the piece index
   * @param now current time in ms
   */
  noteVerified(contentIdHex: string, piece: number, now: number): void {
    const entry = this.#entries.get(contentIdHex.toLowerCase());
    if (!entry) return;
    for (const h of entry.swarm.haves(piece, now)) {
      this.#transmit(
        encodeMessage({
          type: "have",
          txid: h.txid,
          contentId: entry.contentId,
          pieceCount: entry.swarm.pieceCount,
          firstPiece: h.firstPiece,
          bits: h.bits,
        }),
        h.to,
      );
    }
  }

  /**
   * The read of the plan's current block came back short (the file got shorter or unreadable
   * since it was shared): ends the plan without counting that block and queues ERROR
   * out_of_range.
   *
   * @param plan the plan {@link handleRequest} returned
   */
  handleShortRead(plan: BlockPlan): void {
    if (plan !== this.#plan || !plan.active) return;
    const src = this.#planSource!;
    const { txid, to, offset } = plan;
    this.stats.shortReads++;
    plan.end();
    this.#error(txid, ErrorCode.out_of_range, `file changed on disk at offset ${offset}`, to, src);
  }

  /** A datagram was handed to a send that has not settled yet. */
  handleSendQueued(): void {
    this.#pending++;
  }

  /** A send counted by {@link handleSendQueued} settled (sent or failed). */
  handleSendSettled(): void {
    this.#pending--;
  }

  /** A send threw or rejected. */
  handleSendFailed(): void {
    this.stats.sendFailures++;
  }

  /**
   * The next datagram to send (PROBE_ACK, ERROR or MANIFEST_DATA), oldest first.
   *
   * @returns the datagram and its destination, or undefined when none is queued
   */
  pollTransmit(): UploadTransmit | undefined {
    return this.#transmits.shift();
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
    // In a crowd, a slice answered to this requester moments ago is most likely still queued
    const repeats = this.#manifestRepeats;
    if (!repeats.answer(src.address, entry.info.path, msg.offset, now)) return;
    if (repeats.defer(src.address, now)) {
      return this.#busy(msg.txid, "manifest crowd: ask another owner", from, src);
    }
    if (!this.#admit(msg.txid, len, 1, from, src, now)) return;
    repeats.answered(src.address, entry.info.path, msg.offset, now);
    this.stats.manifestBytesSent += len;
    this.#transmit(
      encodeMessage({
        type: "manifest_data",
        txid: msg.txid,
        contentId: entry.contentId,
        total,
        offset: msg.offset,
        data: entry.encoded.subarray(msg.offset, msg.offset + len),
      }),
      from,
    );
  }

  #blocks(
    entry: Entry,
    msg: BlockRequestMessage,
    from: Deno.NetAddr,
    src: Source,
    now: number,
  ): BlockPlan | undefined {
    const size = entry.manifest.size;
    const ps = entry.manifest.pieceSize;
    let bytes = 0;
    let datagrams = 0;
    for (const r of msg.ranges) {
      if (r.offset >= size) {
        this.#error(
          msg.txid,
          ErrorCode.out_of_range,
          `range at ${r.offset} starts past the end of the file (${size} bytes)`,
          from,
          src,
        );
        return undefined;
      }
      const end = Math.min(r.offset + r.length, size);
      const missing = entry.have ? firstMissing(entry.have, r.offset, end, ps) : -1;
      if (missing >= 0) {
        const text = `piece ${missing} is not available here yet`;
        this.#error(msg.txid, ErrorCode.out_of_range, text, from, src);
        return undefined;
      }
      bytes += end - r.offset;
      // blocks, plus one more for every piece boundary inside the range
      datagrams += Math.ceil((end - r.offset) / msg.blockSize) + Math.floor((end - 1) / ps) -
        Math.floor(r.offset / ps);
    }
    if (bytes > this.#maxRequestBytes || datagrams > this.#maxRequestDatagrams) {
      this.#busy(
        msg.txid,
        `request asks ${bytes} bytes in ${datagrams} datagrams; at most ${this.#maxRequestBytes} bytes and ${this.#maxRequestDatagrams} datagrams`,
        from,
        src,
      );
      return undefined;
    }
    const slots = this.#slots;
    const lastRange = msg.ranges[msg.ranges.length - 1];
    const lastEnd = lastRange ? Math.min(lastRange.offset + lastRange.length, size) : 0;
    const endsPiece = lastEnd % ps === 0 || lastEnd === size;
    entry.swarm.noteActive(from, now);
    if (
      slots !== undefined &&
      !slots.admit(src.address, from.hostname, now, endsPiece, ps, entry.swarm.owes(from, now))
    ) {
      this.stats.errors.choked++;
      src.errors++;
      const text = `upload slots full: retry in ${CHOKE_RETRY_MS} ms`.slice(0, this.#errorRoom);
      this.#transmit(
        encodeMessage({ type: "error", txid: msg.txid, code: ErrorCode.choked, text }),
        from,
      );
      return undefined;
    }
    const paced = this.#cap !== undefined || this.#queue.length > 0;
    if (paced && !this.#queueHasRoom(msg.txid, from, src, bytes)) return undefined;
    if (!this.#admit(msg.txid, bytes, datagrams, from, src, now)) return undefined;
    entry.swarm.noteRequest(msg.ranges, ps, from, now);
    if (paced && this.#queued(msg, from, entry, src, bytes, now)) return undefined;
    return this.#beginPlan(entry, msg, from, src);
  }

  #beginPlan(entry: Entry, msg: BlockRequestMessage, to: Deno.NetAddr, src: Source): BlockPlan {
    this.#planEntry = entry;
    this.#planSource = src;
    this.#plan.begin({
      request: msg,
      to,
      contentIdHex: entry.info.contentIdHex,
      manifest: entry.manifest,
    });
    return this.#plan;
  }

  /** Room in the queue of the upload cap for this request? Answers busy and false when not. */
  #queueHasRoom(txid: number, from: Deno.NetAddr, src: Source, bytes: number): boolean {
    if (this.#queue.length < this.#maxQueued && src.pace.queued + bytes <= this.#maxRequestBytes) {
      return true;
    }
    let queued = 0;
    for (const q of this.#queue) queued += q.bytes;
    const ms = Math.ceil((queued * 1000) / this.uploadRate);
    this.#busy(txid, `upload cap: ${queued} bytes queued, retry in ${ms} ms`, from, src);
    return false;
  }

  /**
   * Under the upload cap: the request goes now (its bytes spent; returns false) when nothing
   * waits and the cap holds them, else it waits in the queue with its fair-queuing start tag.
   */
  #queued(
    msg: BlockRequestMessage,
    from: Deno.NetAddr,
    entry: Entry,
    src: Source,
    bytes: number,
    now: number,
  ): boolean {
    const cap = this.#cap;
    const start = Math.max(this.#vclock, src.pace.finish);
    src.pace.finish = start + bytes;
    if (
      this.#queue.length === 0 && (!cap || cap.waitFor(Math.min(bytes, cap.burst), now) === 0)
    ) {
      cap?.spend(bytes);
      this.#vclock = start;
      return false;
    }
    src.pace.queued += bytes;
    this.#queue.push({ msg, from, entry, src, bytes, start });
    return true;
  }

  /** The waiting request with the lowest start tag. */
  #nextQueued(): Queued | undefined {
    let best: Queued | undefined;
    for (const q of this.#queue) if (best === undefined || q.start < best.start) best = q;
    return best;
  }

  #planEnded(plan: BlockPlan): void {
    const entry = this.#planEntry!;
    const src = this.#planSource!;
    this.#planEntry = undefined;
    this.#planSource = undefined;
    this.stats.bytesSent += plan.bytes;
    this.stats.blocksSent += plan.blocks;
    entry.info.bytesServed += plan.bytes;
    src.bytes += plan.bytes;
    src.blocks += plan.blocks;
    this.#slots?.noteServed(src.address, plan.bytes);
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
    if (this.#pending + datagrams > this.maxPendingSends && this.#pending > 0) {
      this.#busy(txid, `send queue full (${this.#pending} datagrams pending)`, from, src);
      return false;
    }
    const srcWait = src.bucket.waitFor(bytes, now);
    const totalWait = this.#total.waitFor(bytes, now);
    if (srcWait > 0 || totalWait > 0) {
      const ms = Math.ceil(Math.max(srcWait, totalWait));
      this.#busy(txid, `rate limit: retry in ${ms} ms`, from, src);
      return false;
    }
    const fair = this.#fair;
    if (fair !== undefined && !fair.admit(from.hostname, bytes, now)) {
      this.stats.fairShareRefusals++;
      const ms = Math.ceil(fair.retryAfter(now));
      this.#busy(txid, `fair share: others are waiting; retry in ${ms} ms`, from, src);
      return false;
    }
    src.bucket.spend(bytes);
    this.#total.spend(bytes);
    return true;
  }

  /** Checks a request's cookie; answers ERROR bad_cookie (within the error room) when wrong. */
  #cookieOk(msg: { txid: number; cookie: bigint }, from: Deno.NetAddr, now: number): boolean {
    if (this.#cookies.check(from, msg.cookie, now)) return true;
    this.stats.errors.bad_cookie++;
    const text = "no valid address cookie: send a PROBE for one".slice(0, this.#errorRoom);
    this.#transmit(
      encodeMessage({ type: "error", txid: msg.txid, code: ErrorCode.bad_cookie, text }),
      from,
    );
    return false;
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
    this.#transmit(encodeMessage({ type: "error", txid, code, text: text.slice(0, room) }), to);
  }

  #transmit(bytes: Uint8Array, to: Deno.NetAddr): void {
    this.#transmits.push({ bytes, to });
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
        bucket: new TokenBucket({
          ratePerSecond: this.#sourceRate,
          burst: this.#sourceBurst,
          now,
        }),
        pace: { finish: 0, queued: 0 },
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

/** The first piece of `[start, end)` that `have` lacks, or -1. */
function firstMissing(
  have: { has(index: number): boolean },
  start: number,
  end: number,
  pieceSize: number,
): number {
  const last = Math.floor((end - 1) / pieceSize);
  for (let p = Math.floor(start / pieceSize); p <= last; p++) if (!have.has(p)) return p;
  return -1;
}

function positive(v: number, what: string): number {
  if (!(v > 0)) throw new RangeError(`Cannot create uploader: ${what} must be positive, got ${v}`);
  return v;
}
