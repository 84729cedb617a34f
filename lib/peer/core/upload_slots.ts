/**
 * Upload slots (fair upload in a swarm), sans-I/O: how many requesters an uploader serves at once
 * and which ones. The idea of BitTorrent's choking, made for a receiver-driven protocol: an
 * uploader answers a block request from a requester without a slot with ERROR `choked` (a small
 * reply, never larger than the request), and the requester pauses asking it for a while and
 * fetches from other owners meanwhile (download_core.ts, {@link CHOKE_RETRY_MS}).
 *
 * - **Slots.** At most `slots` regular holders and one optimistic holder are served at once. While
 *   a slot is free, any requester takes it on its next request, so with as many requesters as
 *   slots (a lone downloader) everybody is served exactly as without slots; except that a free
 *   regular slot is not taken by a requester whose host gave this peer nothing while one whose
 *   host gave something waits (was choked within two retry pauses): it comes back within one. A holder that asked
 *   nothing for `idleMs` frees its slot.
 * - **Regular slots: tit-for-tat and turns.** Every `rechokeMs`, half the regular slots (rounded
 *   up) go to the requesters whose host gave this peer the most verified bytes lately
 *   (`creditOf`, a decayed sum; only those that gave something), the rest by turns: to the
 *   requesters whose host is least in this peer's debt, that is served least lately minus what
 *   it gave (decayed sums; one host's many ports count as one), random among equals. A complete seed receives nothing, so all its slots go by turns. The
 *   chosen hold the regular
 *   slots until the next rechoke; a holder that was not chosen keeps its slot only until a
 *   chosen one shows up (then its next request is choked), so the link never idles in a
 *   handover. A holder is choked only between pieces: one in the middle of a piece keeps its slot
 *   while its slot is young or that piece has taken under two pieces' bytes, and one the seed owes
 *   the rest of an offered piece (`owed`, swarm_rules.ts) keeps it until the piece is sent. A
 *   free-rider never earns credit, so while contributing peers ask it is served only
 *   in its turn of the rotation or the optimistic slot.
 * - **The optimistic slot.** Every `optimisticMs`, one requester that holds no regular slot is
 *   picked at random: a random host (one never served weighs three times as much), then one of
 *   its requesters, so a peer with nothing to give gets started and can earn credit.
 * - **Hosts, not ports.** Turns go to one requester per host before a host gets a second, and a
 *   requester whose host holds no slot takes one at once from a host that holds several, so a
 *   host that opens a thousand ports cannot keep another host waiting.
 *
 * Requesters are keyed by address and port (one download's data socket); credit is by host, as
 * that is where this peer's own downloads saw the bytes come from. At most `maxRequesters` are
 * remembered (the least recently seen non-holder is forgotten first).
 * @module
 */

/** Per rechoke, the recent sums (bytes served, credit) keep this share of their value. */
const DECAY = 0.9;

/**
 * A holder in the middle of a piece keeps its slot while that piece has taken fewer bytes than
 * this many pieces (see `UploadSlots.#midPiece`).
 */
const MID_PIECE_BYTES = 2;

/** A choked requester waits about this long before it asks the uploader again, ms. */
export const CHOKE_RETRY_MS = 250;

/** Regular upload slots unless `slots` says otherwise. */
export const DEFAULT_UPLOAD_SLOTS = 8;
/** Offer askers per slot beyond which offers go to slot holders only, unless `offerCrowd` says otherwise. */
export const DEFAULT_OFFER_CROWD = 4;

/** Options for {@link UploadSlots}. */
export interface UploadSlotsOptions {
  /**
   * Regular slots (requesters served at once, the optimistic one aside). @default 8 (measured:
   * four made the real 8-peer swarm slower, 1.38× against 1.25× the bound, from the data in
   * flight that every handover strands)
   */
  slots?: number;
  /** How often the regular slots are chosen again, ms. @default 250 */
  rechokeMs?: number;
  /** How long a turn (a regular slot not won by credit) lasts once its holder is served, ms. @default 500 */
  turnMs?: number;
  /** How often the optimistic slot moves, ms. @default 3000 */
  optimisticMs?: number;
  /**
   * A holder that asked nothing this long frees its slot, ms; also how long a requester counts as
   * waiting after its last request (at least twice {@link CHOKE_RETRY_MS}). @default 600
   */
  idleMs?: number;
  /**
   * A holder that has been served and then asked nothing this long frees its slot (it has nothing
   * more to fetch here), ms; at most `idleMs`. @default 200
   */
  holdIdleMs?: number;
  /**
   * Super-seeding offers go only to slot holders while more than this many requesters per slot
   * ask for them ({@link UploadSlots.offer}). @default 4
   */
  offerCrowd?: number;
  /** Requesters remembered. @default 1024 */
  maxRequesters?: number;
  /**
   * Verified file bytes this peer received from `host` so far (monotonic; its downloads'). The
   * tit-for-tat credit. @default none (every requester has equal credit: a rotation)
   */
  creditOf?: (host: string) => number;
  /** Random numbers in [0, 1). @default Math.random */
  random?: () => number;
}

/** Counters of {@link UploadSlots}. */
export interface UploadSlotsStats {
  /** Requests refused for want of a slot. */
  choked: number;
  /** Rechokes that ran with more requesters than slots. */
  rechokes: number;
  /** Times the optimistic slot moved to a requester. */
  optimisticTurns: number;
  /** Super-seeding offers refused for want of a slot ({@link UploadSlots.offer}). */
  offersRefused: number;
}

type SlotKind = "regular" | "optimistic" | undefined;

interface Requester {
  key: string;
  host: string;
  lastAsk: number;
  /** When it got its slot (a granted slot is not idle before the requester had time to ask). */
  grantedAt: number;
  slot: SlotKind;
  /** File bytes served to it, all told and at the last rechoke; decayed recent sum. */
  served: number;
  servedAtRechoke: number;
  recentServed: number;
  /** Decayed recent credit of its host (see creditOf). */
  credit: number;
  /** Chosen at the last rechoke (a regular or the optimistic slot is its own), and since when. */
  chosen: SlotKind;
  chosenAt: number;
  /** Its last request ended at a piece boundary. */
  atPieceEnd: boolean;
  /** `served` when its piece in progress began (its first request after a piece end). */
  servedAtPieceStart: number;
  /** Bytes per piece of what it asks for (0: unknown). */
  pieceSize: number;
  /** At its last request, this uploader owed it the rest of an offered piece. */
  owed: boolean;
}

/**
 * See the module doc.
 *
 * @example Two slots: the third requester is choked until a holder goes idle
 * ```ts
 * import assert from "node:assert/strict";
 * import { UploadSlots } from "./upload_slots.ts";
 *
 * const slots = new UploadSlots({ slots: 1, idleMs: 600 }); // 1 regular + 1 optimistic
 * assert.ok(slots.admit("a|1", "a", 0));
 * assert.ok(slots.admit("b|1", "b", 0));
 * assert.equal(slots.admit("c|1", "c", 10), false);
 * slots.admit("a|1", "a", 500); // a keeps asking, b went quiet
 * assert.ok(slots.admit("c|1", "c", 700)); // b's slot was idle for 700 ms: c takes it
 * ```
 */
export class UploadSlots {
  /** Counters. */
  readonly stats: UploadSlotsStats = {
    choked: 0,
    rechokes: 0,
    optimisticTurns: 0,
    offersRefused: 0,
  };
  readonly #slots: number;
  readonly #rechokeMs: number;
  readonly #turnMs: number;
  readonly #optimisticMs: number;
  readonly #idleMs: number;
  readonly #holdIdleMs: number;
  readonly #max: number;
  readonly #offerCrowd: number;
  readonly #creditOf: ((host: string) => number) | undefined;
  readonly #random: () => number;
  /** By key, least recently seen first. */
  readonly #requesters = new Map<string, Requester>();
  /** Per host: its credit at the last rechoke (creditOf is cumulative). */
  readonly #creditSeen = new Map<string, number>();
  #nextRechoke = -Infinity;
  /** The optimistic pick of the last rechokes. */
  #optimistic: Requester | undefined;
  #nextOptimistic = -Infinity;

  /**
   * Slots with nobody holding one yet.
   *
   * @param options slots, intervals and the credit source
   */
  constructor(options: UploadSlotsOptions = {}) {
    this.#slots = Math.max(1, Math.floor(options.slots ?? DEFAULT_UPLOAD_SLOTS));
    this.#rechokeMs = options.rechokeMs ?? 250;
    this.#turnMs = options.turnMs ?? 500;
    this.#optimisticMs = options.optimisticMs ?? 3000;
    this.#idleMs = Math.max(options.idleMs ?? 600, 2 * CHOKE_RETRY_MS);
    this.#holdIdleMs = Math.min(this.#idleMs, options.holdIdleMs ?? 200);
    this.#max = Math.max(this.#slots + 1, options.maxRequesters ?? 1024);
    this.#offerCrowd = options.offerCrowd ?? DEFAULT_OFFER_CROWD;
    this.#creditOf = options.creditOf;
    this.#random = options.random ?? Math.random;
  }

  /** Requesters holding a slot now (regular and optimistic). */
  get holders(): number {
    let n = 0;
    for (const r of this.#requesters.values()) if (r.slot !== undefined) n++;
    return n;
  }

  /** Whether the requester `key` holds a slot now. */
  holds(key: string): boolean {
    return this.#requesters.get(key)?.slot !== undefined;
  }

  /**
   * A block request from `key` (address and port) on host `host`: may it be served now?
   *
   * @param key the requester (its address and port)
   * @param host its host (IP address), whose credit counts
   * @param now the time, ms
   * @param endsPiece the request ends at a piece boundary (a holder is choked only between pieces,
   *   see {@link #midPiece}, so its partial piece is not left waiting)
   * @param pieceSize bytes per piece of the content asked for (0: unknown)
   * @param owed this uploader owes the requester the rest of a piece it offered it
   *   (`SwarmRules.owes`): a holder keeps its slot until it has it
   * @returns true to serve it, false to answer ERROR choked
   */
  admit(
    key: string,
    host: string,
    now: number,
    endsPiece = true,
    pieceSize = 0,
    owed = false,
  ): boolean {
    const r = this.#touch(key, host, now);
    if (r.atPieceEnd) r.servedAtPieceStart = r.served;
    r.pieceSize = pieceSize;
    r.owed = owed;
    const midPiece = this.#midPiece(r, now);
    r.atPieceEnd = endsPiece;
    if (this.#decide(r, now, midPiece)) return true;
    this.stats.choked++;
    return false;
  }

  /**
   * A super-seeding offer is about to go to `key` (its BITFIELD request): may it have one? Only a
   * requester that holds a slot or takes one now (a free one, or one the last rechoke chose for
   * it) is offered pieces, so a piece is never offered to a requester that would be choked when
   * it asks for it (the piece would then wait there while the seed offered others, and be offered
   * again). A refused requester counts as waiting, so a rechoke can choose it; it asks again.
   * Only while more than `offerCrowd` × the slots (the optimistic one counted) ask for offers:
   * with fewer, the rotation soon comes to every requester and the gate only idles the link
   * between turns (measured in the simulator, 1 seed and 9 slots: N = 32 finished 1.26× the
   * bound without it and 1.29× with it; N = 100 1.51× without, 1.39× with).
   *
   * @param key the requester (its address and port)
   * @param host its host
   * @param now the time, ms
   * @param askers how many requesters asked for offers lately
   * @returns true when it may have an offer
   */
  offer(key: string, host: string, now: number, askers = Infinity): boolean {
    if (askers <= this.#offerCrowd * (this.#slots + 1)) return true;
    const r = this.#touch(key, host, now);
    if (this.#decide(r, now, this.#midPiece(r, now))) return true;
    this.stats.offersRefused++;
    return false;
  }

  /**
   * A holder is in the middle of a piece (its last request did not end at a piece boundary): it
   * keeps its slot until the piece is done, while its slot is at most 4 × `turnMs` old or the
   * piece has taken less than {@link MID_PIECE_BYTES} pieces' worth of bytes so far. A piece cut
   * off mid-way waits at the holder while the seed offers it to others again (measured: a third
   * of the seed's extra copies at N = 100 with the time limit alone, where a slow holder's piece
   * outlasted it); the byte limit keeps a requester that never ends a piece from holding on.
   */
  #midPiece(r: Requester, now: number): boolean {
    if (r.owed) return true;
    if (r.atPieceEnd) return false;
    return now - r.grantedAt < 4 * this.#turnMs ||
      r.served - r.servedAtPieceStart < MID_PIECE_BYTES * r.pieceSize;
  }

  #decide(r: Requester, now: number, midPiece: boolean): boolean {
    this.#expireIdle(now);
    if (now >= this.#nextRechoke) this.#rechoke(now);
    let regular = 0, optimistic = 0;
    for (const x of this.#requesters.values()) {
      if (x.slot === "regular") regular++;
      else if (x.slot === "optimistic") optimistic++;
    }
    if (r.slot !== undefined) {
      // A holder the last rechoke did not choose keeps its slot until a chosen one shows up
      if (r.chosen !== undefined || regular + optimistic <= this.#slots + 1 || midPiece) {
        return true;
      }
      r.slot = undefined;
    } else if (r.chosen !== undefined) return this.#grant(r, r.chosen, now);
    else if (regular < this.#slots && (r.credit > 0 || !this.#creditorWaits(now))) {
      return this.#grant(r, "regular", now);
    } else if (optimistic === 0) return this.#grant(r, "optimistic", now);
    else {
      // A host without a slot takes one from a host that holds several (its many ports)
      const victim = this.#crowdedHolder(r.host);
      if (victim !== undefined) {
        const kind = victim.slot;
        victim.slot = undefined;
        victim.chosen = undefined;
        return this.#grant(r, kind, now);
      }
    }
    return false;
  }

  /**
   * Bytes were served to `key` (the rotation of a seed favours those served least lately).
   *
   * @param key the requester
   * @param bytes file bytes sent
   */
  noteServed(key: string, bytes: number): void {
    const r = this.#requesters.get(key);
    if (r) r.served += bytes;
  }

  #touch(key: string, host: string, now: number): Requester {
    let r = this.#requesters.get(key);
    if (r) {
      this.#requesters.delete(key); // re-insert: least recently seen stays first
    } else {
      r = {
        key,
        host,
        lastAsk: now,
        grantedAt: -Infinity,
        slot: undefined,
        served: 0,
        servedAtRechoke: 0,
        recentServed: 0,
        credit: 0,
        chosen: undefined,
        chosenAt: -Infinity,
        atPieceEnd: true,
        servedAtPieceStart: 0,
        pieceSize: 0,
        owed: false,
      };
      if (this.#requesters.size >= this.#max) this.#forgetOne();
    }
    r.lastAsk = now;
    this.#requesters.set(key, r);
    return r;
  }

  /** Forgets the least recently seen requester without a slot (or the oldest one). */
  #forgetOne(): void {
    for (const [k, x] of this.#requesters) {
      if (x.slot === undefined && x.chosen === undefined) {
        this.#requesters.delete(k);
        return;
      }
    }
    const oldest = this.#requesters.keys().next().value;
    if (oldest !== undefined) this.#requesters.delete(oldest);
    if (this.#optimistic !== undefined && !this.#requesters.has(this.#optimistic.key)) {
      this.#optimistic = undefined;
    }
  }

  /** A holder whose host holds two slots or more, when `host` holds none; else undefined. */
  #crowdedHolder(host: string): Requester | undefined {
    const held = new Map<string, Requester[]>();
    for (const x of this.#requesters.values()) {
      if (x.slot === undefined) continue;
      if (x.host === host) return undefined;
      const list = held.get(x.host);
      if (list) list.push(x);
      else held.set(x.host, [x]);
    }
    let victim: Requester | undefined;
    for (const list of held.values()) {
      if (
        list.length >= 2 && (victim === undefined || list.length > held.get(victim.host)!.length)
      ) {
        victim = list[0];
      }
    }
    return victim;
  }

  /**
   * A requester whose host gave this peer something lately waits for a slot (it was choked within
   * a retry pause or two): a free regular slot is kept for it rather than given to the first
   * requester that gave nothing.
   */
  #creditorWaits(now: number): boolean {
    for (const x of this.#requesters.values()) {
      if (x.slot === undefined && x.credit > 0 && now - x.lastAsk <= 2 * CHOKE_RETRY_MS) {
        return true;
      }
    }
    return false;
  }

  #grant(r: Requester, kind: SlotKind, now: number): boolean {
    r.slot = kind;
    r.grantedAt = now;
    return true;
  }

  #expireIdle(now: number): void {
    for (const r of this.#requesters.values()) {
      if (r.slot === undefined) continue;
      // A holder that stopped asking frees its slot soon; one just granted has time to come
      const idle = r.lastAsk >= r.grantedAt ? this.#holdIdleMs : this.#idleMs;
      if (now - Math.max(r.lastAsk, r.grantedAt) > idle) {
        r.slot = undefined;
      }
    }
  }

  /** Chooses the regular holders (and, when due, the optimistic one) among the waiting. */
  #rechoke(now: number): void {
    this.#nextRechoke = now + this.#rechokeMs;
    const credit = this.#creditOf;
    const hostDelta = new Map<string, number>();
    for (const r of this.#requesters.values()) {
      r.recentServed = DECAY * r.recentServed + (r.served - r.servedAtRechoke);
      r.servedAtRechoke = r.served;
      if (credit !== undefined && !hostDelta.has(r.host)) {
        const total = credit(r.host);
        hostDelta.set(r.host, total - (this.#creditSeen.get(r.host) ?? 0));
        this.#creditSeen.set(r.host, total);
      }
      r.credit = DECAY * r.credit + (hostDelta.get(r.host) ?? 0);
    }
    if (this.#creditSeen.size > this.#max) this.#creditSeen.clear();
    const waiting = [...this.#requesters.values()].filter((r) =>
      now - r.lastAsk <= this.#idleMs || r.slot !== undefined
    );
    if (waiting.length <= this.#slots + 1) {
      // room for everybody: nothing to choose
      for (const r of this.#requesters.values()) r.chosen = undefined;
      return;
    }
    this.stats.rechokes++;
    // Half the regular slots (rounded up) by credit, among requesters that gave us something
    // lately; the rest are turns: kept while the turn lasts, then given to the hosts served
    // least lately (one host's many ports count as one), so a peer with nothing to give yet is
    // served in its turn
    const tie = new Map(waiting.map((r) => [r, this.#random()]));
    const byCredit = waiting.filter((r) => r.credit > 0).sort((a, b) =>
      b.credit - a.credit || tie.get(a)! - tie.get(b)!
    );
    const regular = new Set(byCredit.slice(0, Math.ceil(this.#slots / 2)));
    for (const r of waiting) {
      if (regular.size >= this.#slots) break;
      if (r.chosen !== "regular" || regular.has(r)) continue;
      // A turn lasts turnMs, and on to the end of the piece being served (at most 4 × turnMs)
      const held = now - r.grantedAt;
      const inTurn = r.slot === "regular"
        ? held < this.#turnMs || this.#midPiece(r, now)
        : now - r.chosenAt <= this.#idleMs;
      if (inTurn) regular.add(r);
    }
    // Turns go to the hosts least in our debt first: served lately minus what they gave us
    const balance = new Map<string, number>();
    for (const r of waiting) {
      balance.set(r.host, (balance.get(r.host) ?? -r.credit) + r.recentServed);
    }
    const byTurn = waiting.filter((r) => !regular.has(r)).sort((a, b) =>
      balance.get(a.host)! - balance.get(b.host)! || tie.get(a)! - tie.get(b)!
    );
    // One requester per host first (a host's many ports wait behind other hosts), then the rest
    const hosts = new Set<string>();
    for (const r of regular) hosts.add(r.host);
    for (const r of byTurn) {
      if (regular.size >= this.#slots) break;
      if (hosts.has(r.host)) continue;
      hosts.add(r.host);
      regular.add(r);
    }
    for (const r of byTurn) {
      if (regular.size >= this.#slots) break;
      regular.add(r);
    }
    for (const r of this.#requesters.values()) {
      if (!regular.has(r)) r.chosen = undefined;
      else if (r.chosen !== "regular") {
        r.chosen = "regular";
        r.chosenAt = now;
      }
    }
    let optimistic = this.#optimistic;
    if (optimistic !== undefined && (regular.has(optimistic) || !waiting.includes(optimistic))) {
      optimistic = undefined;
    }
    if (optimistic === undefined || now >= this.#nextOptimistic) {
      optimistic = this.#pickOptimistic(waiting.filter((r) => !regular.has(r)));
      if (optimistic !== undefined) this.stats.optimisticTurns++;
      this.#nextOptimistic = now + this.#optimisticMs;
    }
    this.#optimistic = optimistic;
    if (optimistic !== undefined && optimistic.chosen !== "optimistic") {
      optimistic.chosen = "optimistic";
      optimistic.chosenAt = now;
    }
  }

  /** A random host (newcomers, never served, three times as likely), then one of its requesters. */
  #pickOptimistic(candidates: Requester[]): Requester | undefined {
    const byHost = new Map<string, Requester[]>();
    for (const r of candidates) {
      const list = byHost.get(r.host);
      if (list) list.push(r);
      else byHost.set(r.host, [r]);
    }
    const weight = (rs: Requester[]) => (rs.every((r) => r.served === 0) ? 3 : 1);
    let total = 0;
    for (const rs of byHost.values()) total += weight(rs);
    let x = this.#random() * total;
    for (const rs of byHost.values()) {
      x -= weight(rs);
      if (x < 0) return rs[Math.floor(this.#random() * rs.length)];
    }
    return candidates[candidates.length - 1];
  }
}
