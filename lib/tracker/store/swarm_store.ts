/**
 * The storage interface under the tracker's rules: where peers, their files and the owner
 * ranking live. Two implementations: {@link MemoryStore} (one process, compact typed arrays,
 * answers synchronously) and {@link RedisStore} (several trackers share one Redis; every
 * operation is one `EVALSHA` round trip and answers with a Promise).
 *
 * Each operation is one whole request's worth of state change, so that a Redis-backed tracker
 * pays one round trip per request: it checks the node id is registered from the source
 * address, keeps the peer alive, applies the change and returns what the reply needs. What is
 * decided above the store (tracker_core.ts): cookies and the handshake, the
 * limits' values, the eviction deadline, the rate's time constant, texts, events and the
 * encoding of replies. What the store guarantees, and the suite in
 * `tests/tracker/store/_swarm_store_suite.ts` checks for both implementations:
 *
 * - a node id is bound to the address that registered it until it exits or is evicted;
 * - eviction takes the peers last heard at or before a cutoff, oldest first, with their files;
 * - OWN of a content the peer shares renames it; the same name with another content replaces
 *   it; a content id has one size;
 * - NEED by name answers the content most owners other than the asker announce under that
 *   name (ties: the smallest content id), with the number of other contents of the name;
 * - owners are ranked by rate key (upload_rate.ts), highest first; owners below 1 byte/s, and
 *   owners with the same key, take turns (the one handed out least recently first); the asker
 *   and the node ids it excludes are never returned.
 *
 * Rules and the choice of design: docs/TRACKER.md, _Storage_.
 * @module
 */
import type { Bep15Store } from "./bep15_store.ts";

/** A value now (memory store) or later (Redis store). */
export type Pending<T> = T | Promise<T>;

/**
 * Applies `f` to a value now or later: at once for a value, after it resolves for a Promise (so
 * rules written once run synchronously on the memory store and after the round trip on Redis).
 *
 * @param v the value, or a Promise of it
 * @param f what to do with it
 * @returns `f`'s result, now or later
 */
export function then<T, R>(v: Pending<T>, f: (t: T) => Pending<R>): Pending<R> {
  return v instanceof Promise ? v.then(f) : f(v);
}

/** An ownership's share byte for an owner with the whole file. */
export const COMPLETE = 255;

/**
 * The share byte of a partial owner (a download in progress): `have`/`pieces` scaled to 0..254
 * (a partial owner is never {@link COMPLETE}).
 *
 * @param have pieces verified
 * @param pieces pieces in the file
 * @returns 0..254
 */
export function shareByte(have: number, pieces: number): number {
  return Math.min(COMPLETE - 1, Math.floor((have * (COMPLETE - 1)) / pieces));
}

/** Where a request came from. */
export interface StoreSource {
  /** The source's IP address, as the socket reports it. */
  readonly hostname: string;
  /** The source's UDP port. */
  readonly port: number;
}

/**
 * Whether a node id may act from a source: `ok`, `unknown` (not registered: evicted, exited or
 * never seen) or `wrong_address` (registered from another address).
 */
export type PeerCheck = "ok" | "unknown" | "wrong_address";

/** What {@link SwarmStore.join} did. */
export type JoinStatus =
  | "registered"
  | "refreshed"
  | "wrong_address"
  | "full"
  | "address_full"
  | "prefix_full";

/**
 * The per-address and per-prefix room of a new peer (see limits.ts `addressKeys`): the store
 * counts the peers and ownerships of each address and prefix, shared by every tracker.
 */
export interface PeerRoom {
  /** The source's address key. */
  address: string;
  /** Its network prefix key (IPv4 /24, IPv6 /64). */
  prefix: string;
  /** Its host key (IPv4 address, IPv6 /64): a REPORT never credits an owner on the reporter's. */
  host: string;
  /** At most this many peers from one address. */
  maxPeersPerAddress: number;
  /** At most this many peers from one prefix. */
  maxPeersPerPrefix: number;
}

/** The per-address and per-prefix file limits an OWN is checked against. */
export interface FileRoom {
  /** At most this many ownerships by the peers of one address. */
  maxFilesPerAddress: number;
  /** At most this many ownerships by the peers of one prefix. */
  maxFilesPerPrefix: number;
}

/** One owner a REPORT credits: verified bytes the reporter received from it. */
export interface CreditEntry {
  /** The owner's node id. */
  nodeId: string;
  /** Bytes received and verified. */
  bytes: number;
}

/** What {@link SwarmStore.report} did. */
export interface ReportResult {
  /** A failed {@link PeerCheck} means nothing changed. */
  status: PeerCheck;
  /** Bytes credited to owners in all. */
  credited: number;
  /** Entries that credited nothing. */
  ignored: number;
}

/** One (name, content) pair of a listing. */
export interface ListRow {
  /** The name. */
  name: string;
  /** The content id's lowercase hex. */
  contentKey: string;
  /** Its size. */
  size: number;
  /** Its owners. */
  owners: number;
}

/** What {@link SwarmStore.own} did. */
export interface OwnResult {
  /** `ok`, a failed {@link PeerCheck}, or why the OWN was refused. */
  status: PeerCheck | "size_mismatch" | "too_many_files" | RoomStatus;
  /** The content key the OWN replaced (same name, other content), if any. */
  replaced: string | undefined;
  /** On `size_mismatch`: the size the content is shared with. */
  knownSize: number;
  /** On `too_many_files`: how many files the peer shares. */
  files: number;
}

/** An OWN's status when a per-address or per-prefix file limit refuses it. */
export type RoomStatus = "address_full" | "prefix_full";

/** A NEED as the store answers it. */
export interface NeedQuery {
  /** Whether {@link NeedQuery.want} is a name (else the content id's lowercase hex). */
  byName: boolean;
  /** The name, or the content id's lowercase hex. */
  want: string;
  /** Owners wanted, 1..16. */
  k: number;
  /** Node ids the asker wants left out. */
  exclude?: readonly string[] | undefined;
  /**
   * When more owners than `k` are eligible, this many of the `k` places go to owners drawn at
   * random from the rest (after the ranked ones), so no ranking keeps an owner out of every
   * reply. @default 0
   */
  mix?: number;
  /**
   * The asker takes partial owners (NEED_PARTIAL): the best half by the ranking, the rest drawn
   * at random from all other owners, and a complete owner in the last place when none was
   * picked; without it only complete owners are picked. @default false
   */
  partial?: boolean;
}

/** The owners a NEED is answered with (arrays reused by the memory store). */
export interface NeedResult {
  /** A failed {@link PeerCheck} means nothing below is set. */
  status: PeerCheck;
  /** Whether the name or content id is known at all (the asker may be its only owner). */
  known: boolean;
  /** The content's lowercase hex key, undefined when nobody but the asker shares it. */
  contentKey: string | undefined;
  /** The content's size. */
  size: number;
  /** The name most of the content's owners use (ties: announced first). */
  displayName: string;
  /** Other contents announced under the name (0 for a NEED by content id). */
  alternatives: number;
  /** How many owners follow. */
  count: number;
  /** Their node ids, best first. */
  nodeIds: string[];
  /** Their registered addresses. */
  hostnames: string[];
  /** Their registered ports. */
  ports: number[];
  /** Their rate keys (see upload_rate.ts). */
  rateKeys: number[];
  /** Their share bytes ({@link COMPLETE}: the whole file). */
  haves: number[];
}

/** What {@link SwarmStore.update} did. */
export interface UpdateResult {
  /** A failed {@link PeerCheck} means nothing changed. */
  status: PeerCheck;
  /** The peer's rate key after the update. */
  rateKey: number;
}

/** What {@link SwarmStore.exit} did. */
export interface ExitResult {
  /** `unknown` for a node id that is not registered (EXIT is idempotent). */
  status: PeerCheck;
  /** Files the peer shared. */
  files: number;
}

/** A peer removed by {@link SwarmStore.expire}. */
export interface Evicted {
  /** Its node id. */
  nodeId: string;
  /** Its registered address. */
  hostname: string;
  /** Its registered port. */
  port: number;
  /** Files it shared. */
  files: number;
  /** When it was last heard (ms, on the store's clock). */
  lastSeen: number;
}

/** Peers and contents in the store. */
export interface StoreCounts {
  /** Registered peers. */
  peers: number;
  /** Content ids with at least one owner. */
  files: number;
}

/** The arguments of {@link SwarmStore.join}, in order (each documented there). */
export type JoinArgs = [
  nodeId: string,
  from: StoreSource,
  now: number,
  maxPeers: number,
  room?: PeerRoom,
];

/** The arguments of {@link SwarmStore.own}, in order (each documented there). */
export type OwnArgs = [
  nodeId: string,
  from: StoreSource,
  now: number,
  name: string,
  contentKey: string,
  size: number,
  maxFiles: number,
  room?: FileRoom | undefined,
  have?: number,
];

/** The arguments of {@link SwarmStore.report}, in order (each documented there). */
export type ReportArgs = [
  nodeId: string,
  from: StoreSource,
  now: number,
  contentKey: string,
  entries: readonly CreditEntry[],
  budget: number,
];

/**
 * The tracker's state: peers, their files and the owner ranking. Every call that names a
 * node id and a source first checks that the node id is registered from that source
 * (returning `unknown` or `wrong_address` otherwise, changing nothing) and then records the
 * peer as heard at `now`.
 */
export interface SwarmStore {
  /** `memory` or `redis`. */
  readonly kind: "memory" | "redis";
  /**
   * The BEP 15 swarms kept with this store's state (Redis: shared by its trackers); none: each
   * tracker keeps them in its own memory (`Bep15MemoryStore`).
   */
  readonly bep15?: Bep15Store;
  /**
   * REGISTER with a valid challenge cookie: registers the node id from `from`, or refreshes
   * it when already registered from there.
   *
   * @param nodeId the node id
   * @param from the source that proved its address
   * @param now the current time in ms
   * @param maxPeers refuse a new peer (`full`) when this many are registered
   * @param room the source's address keys and per-address limits (none: no such limits)
   * @returns what happened
   */
  join(...args: JoinArgs): Pending<JoinStatus>;
  /**
   * A heartbeat (or any verified request that changes nothing else): keeps the peer alive.
   *
   * @param nodeId the node id
   * @param from the source
   * @param now the current time in ms
   * @returns the check
   */
  touch(nodeId: string, from: StoreSource, now: number): Pending<PeerCheck>;
  /**
   * The check alone, without keeping the peer alive (for requests with a bad cookie).
   *
   * @param nodeId the node id
   * @param from the source
   * @returns the check
   */
  check(nodeId: string, from: StoreSource): Pending<PeerCheck>;
  /**
   * OWN: the peer shares a content under a name.
   *
   * @param nodeId the node id
   * @param from the source
   * @param now the current time in ms
   * @param name the name
   * @param contentKey the content id's lowercase hex
   * @param size the size in bytes
   * @param maxFiles refuse a file that would be the peer's `maxFiles + 1`th
   * @param room per-address and per-prefix file limits (none: no such limits)
   * @param have its share byte: {@link COMPLETE} (the default), or 0..254 for a partial owner
   *   (a download in progress; a later OWN raises it, and a complete owner never goes back)
   * @returns what happened
   */
  own(...args: OwnArgs): Pending<OwnResult>;
  /**
   * NEED: the content asked for and up to `k` owners, best first, recording the hand-outs.
   *
   * @param nodeId the asker's node id
   * @param from the source
   * @param now the current time in ms
   * @param query what is asked
   * @returns the answer (the memory store reuses one object: read it before the next call)
   */
  need(nodeId: string, from: StoreSource, now: number, query: NeedQuery): Pending<NeedResult>;
  /**
   * UPDATE: the peer uploaded `uploaded` bytes; its rate rises and its files re-rank.
   *
   * @param nodeId the node id
   * @param from the source
   * @param now the current time in ms
   * @param uploaded bytes since its last UPDATE
   * @returns the new rate key
   */
  update(nodeId: string, from: StoreSource, now: number, uploaded: number): Pending<UpdateResult>;
  /**
   * REPORT: the reporter received and verified bytes from owners of a content. Each owner is
   * credited (its rate rises, its files re-rank) unless it is not registered, does not share
   * the content, is the reporter or sits on the reporter's host (see {@link PeerRoom.host});
   * together at most the content's size and `budget`, in the entries' order.
   *
   * @param nodeId the reporter's node id
   * @param from the source
   * @param now the current time in ms
   * @param contentKey the content id's lowercase hex
   * @param entries owners and bytes
   * @param budget at most this many bytes credited in all (the reporter's address budget)
   * @returns what was credited
   */
  report(...args: ReportArgs): Pending<ReportResult>;
  /**
   * LIST's rows: (name, content) pairs sorted by name then content key, starting after a
   * position, or the rows of one name.
   *
   * @param after list the rows after this (name, content key); undefined: from the start
   * @param limit at most this many rows
   * @param exact only the rows of this name
   * @returns the rows
   */
  listRows(
    after: { name: string; contentKey: string } | undefined,
    limit: number,
    exact?: string,
  ): Pending<ListRow[]>;
  /**
   * EXIT: forgets the peer and its files.
   *
   * @param nodeId the node id
   * @param from the source
   * @returns what happened
   */
  exit(nodeId: string, from: StoreSource): Pending<ExitResult>;
  /**
   * Evicts the peers last heard at or before `cutoff`, oldest first, at most `max` of them.
   *
   * @param cutoff the latest last-heard time that expires
   * @param max at most this many per call
   * @returns the evicted peers
   */
  expire(cutoff: number, max: number): Pending<Evicted[]>;
  /**
   * When the peer heard least recently was last heard, when the store knows it at once
   * (memory); undefined when it has no peer or cannot tell without a round trip (Redis: the
   * driver calls {@link SwarmStore.expire} on a period instead).
   */
  oldestSeen(): number | undefined;
  /** Peers and contents now. */
  counts(): Pending<StoreCounts>;
  /** Releases connections. Idempotent. */
  close(): Promise<void>;
}

/**
 * A fresh {@link NeedResult} with nothing in it.
 *
 * @returns the result
 */
export function emptyNeedResult(): NeedResult {
  return {
    status: "ok",
    known: false,
    contentKey: undefined,
    size: 0,
    displayName: "",
    alternatives: 0,
    count: 0,
    nodeIds: [],
    hostnames: [],
    ports: [],
    rateKeys: [],
    haves: [],
  };
}
