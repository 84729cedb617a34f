/**
 * The in-memory {@link SwarmStore}: one tracker process, answers synchronously, and compact.
 *
 * A tracker meant for the internet holds millions of peers, so nothing here is an object per
 * peer, per file or per ownership. Peers, contents, names, (name, content) links and
 * ownerships are rows of typed-array columns (`Int32Array`, `Float64Array`, …) addressed by
 * index; node ids, content keys and names are interned once in a `Map` to their row (the
 * address and prefix keys of the per-address limits in a {@link StringTable}); rows
 * freed by EXIT or eviction go on a free list and are reused, the interned strings and their
 * `Map` entries are dropped. Lists are intrusive (next/prev columns):
 *
 * - the expiry queue: peers in last-heard order (every peer has the same time to live, so the
 *   expired ones are a prefix: no scan);
 * - a peer's ownerships (at most `maxFiles`, walked for OWN's rename/replace checks);
 * - each content's owners, in two ranked lists: **rated** (rate ≥ 1 byte/s) sorted by rate key,
 *   highest first, equal keys in hand-out order; **idle** in hand-out order. A NEED takes from
 *   the heads and moves what it handed out behind its equals, so equal owners take turns; a
 *   new idle owner goes to a random place among the first 32 owners never handed out;
 * - the (name, content) links of each name and of each content, with the number of owners
 *   announcing that content under that name (NEED by name, the display name).
 *
 * Cost per row and figures: docs/TRACKER.md, _Storage_ (`scripts/bench_tracker_memory_store.ts`).
 *
 * Over 600 lines with its JSDoc: the peer, ownership, content, name and link tables are one
 * structure (every list runs through several of them), and split apart they would pass their
 * columns back and forth; the generic table is in rows.ts.
 * @module
 */
import { addUpload, rateAt, unitRateKey, ZERO_RATE_KEY } from "../upload_rate.ts";
import {
  COMPLETE,
  emptyNeedResult,
  type Evicted,
  type ExitResult,
  type FileRoom,
  type JoinArgs,
  type JoinStatus,
  type ListRow,
  type NeedQuery,
  type NeedResult,
  type OwnArgs,
  type OwnResult,
  type PeerCheck,
  type ReportArgs,
  type ReportResult,
  type StoreCounts,
  type StoreSource,
  type SwarmStore,
  type UpdateResult,
} from "./swarm_store.ts";
import { Rows } from "../../_util/rows.ts";
import { StringTable } from "./string_table.ts";
import { DenseSets, SAMPLE_FROM, SAMPLE_UNTIL } from "./owner_sample.ts";
import { fillExcluded } from "../limits.ts";

/** Options for {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /** Time constant τ of the upload-rate EWMA in ms. @default 60000 */
  rateTauMs?: number;
  /** Random numbers in [0, 1) for tie-breaks. @default Math.random */
  random?: () => number;
}

const NIL = -1;
/** How far among the never-handed-out idle owners a new one may be placed. */
const FRESH_SPREAD = 32;

const binBytes: number[] = [];

/** A content id's hex as a one-byte string of its 32 bytes (flat: a `Map` key of 48 bytes). */
function hexToBin(hex: string): string {
  binBytes.length = hex.length >> 1;
  for (let i = 0; i < binBytes.length; i++) binBytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return String.fromCharCode.apply(null, binBytes);
}

function binToHex(bin: string): string {
  let s = "";
  for (let i = 0; i < bin.length; i++) s += bin.charCodeAt(i).toString(16).padStart(2, "0");
  return s;
}

const peerCols = (n: number) => ({
  port: new Uint16Array(n),
  lastSeen: new Float64Array(n),
  rateKey: new Float64Array(n),
  expPrev: new Int32Array(n),
  expNext: new Int32Array(n),
  ownHead: new Int32Array(n),
  files: new Int32Array(n),
  cookieHi: new Uint32Array(n),
  cookieLo: new Uint32Array(n),
  cookieEpoch: new Int32Array(n),
  /** Rows of the peer's address, prefix and host keys (NIL without per-address limits). */
  address: new Int32Array(n),
  prefix: new Int32Array(n),
  host: new Int32Array(n),
});
/** An address or prefix key: its peers and their ownerships, and the peer rows naming it. */
const keyCols = (n: number) => ({
  peers: new Int32Array(n),
  files: new Int32Array(n),
  refs: new Int32Array(n),
});
const ownCols = (n: number) => ({
  peer: new Int32Array(n),
  content: new Int32Array(n),
  name: new Int32Array(n),
  pPrev: new Int32Array(n),
  pNext: new Int32Array(n),
  cPrev: new Int32Array(n),
  cNext: new Int32Array(n),
  /** 1 while in the content's rated list, 0 in its idle list. */
  rated: new Uint8Array(n),
  /** 1 once handed out (idle owners never handed out come first). */
  assigned: new Uint8Array(n),
  /** The share byte: COMPLETE, or 0..254 for a partial owner (a download in progress). */
  have: new Uint8Array(n),
  /** Index in the content's array of all owners (large contents only: owner_sample.ts). */
  placeAll: new Int32Array(n),
  /** Index in the content's array of complete owners (large contents only). */
  placeDone: new Int32Array(n),
});
/** A NEED walks at most this many of a content's ranked owners before drawing at random. */
const WALK_LIMIT = 256;
const contentCols = (n: number) => ({
  size: new Float64Array(n),
  ratedHead: new Int32Array(n),
  ratedTail: new Int32Array(n),
  idleHead: new Int32Array(n),
  idleTail: new Int32Array(n),
  owners: new Int32Array(n),
  linkHead: new Int32Array(n),
  linkTail: new Int32Array(n),
  links: new Int32Array(n),
  /** Owners with the whole file. */
  complete: new Int32Array(n),
});
const nameCols = (n: number) => ({
  linkHead: new Int32Array(n),
  links: new Int32Array(n),
});
const linkCols = (n: number) => ({
  name: new Int32Array(n),
  content: new Int32Array(n),
  count: new Int32Array(n),
  nPrev: new Int32Array(n),
  nNext: new Int32Array(n),
  cPrev: new Int32Array(n),
  cNext: new Int32Array(n),
});

/** The compact in-memory store. Synchronous: every method returns its value. */
export class MemoryStore implements SwarmStore {
  /** Always `memory`. */
  readonly kind = "memory" as const;
  readonly #tau: number;
  readonly #random: () => number;

  readonly #peerIds = new Map<string, number>();
  readonly #peers = new Rows(peerCols, 3);
  readonly #nodeIdOf = this.#peers.strs[0]!;
  readonly #hostOf = this.#peers.strs[1]!;
  /** The peer's OWNERS entry as a one-byte string, set by the tracker core when first needed. */
  readonly #wireOf = this.#peers.strs[2]!;
  /** Address, prefix and host keys (interned while a peer names them) → row. */
  readonly #keys = new Rows(keyCols, 1);
  readonly #keyOf = this.#keys.strs[0]!;
  readonly #keyIds = new StringTable(this.#keyOf);
  #expHead = NIL;
  #expTail = NIL;

  /** Content id (32 bytes as a one-byte string: half the hex's size) → row. */
  readonly #contentIds = new Map<string, number>();
  readonly #contents = new Rows(contentCols, 1);
  readonly #binOf = this.#contents.strs[0]!;

  readonly #nameIds = new Map<string, number>();
  readonly #names = new Rows(nameCols, 1);
  readonly #nameOf = this.#names.strs[0]!;

  readonly #links = new Rows(linkCols);
  readonly #owns = new Rows(ownCols);
  /** Large contents' owners, for O(1) random draws. */
  readonly #allOwners = new DenseSets(() => this.#owns.cols.placeAll);
  readonly #doneOwners = new DenseSets(() => this.#owns.cols.placeDone);

  readonly #need: NeedResult = emptyNeedResult();
  readonly #picked: number[] = [];
  readonly #one: number[] = [];
  readonly #others: number[] = [];
  readonly #skip = new Set<number>();
  #namesVersion = 0;

  /**
   * An empty store.
   *
   * @param options the rate time constant and the tie-break randomness
   */
  constructor(options: MemoryStoreOptions = {}) {
    this.#tau = options.rateTauMs ?? 60_000;
    this.#random = options.random ?? Math.random;
  }

  /** Registered peers. */
  get peerCount(): number {
    return this.#peerIds.size;
  }

  /** Contents with at least one owner. */
  get fileCount(): number {
    return this.#contentIds.size;
  }

  /** Changes whenever a name gains or loses a content (listings rebuild on it). */
  get namesVersion(): number {
    return this.#namesVersion;
  }

  /** Bytes held by the typed-array columns (their capacity), for the benchmark. */
  get columnBytes(): number {
    return this.#peers.bytes + this.#owns.bytes + this.#contents.bytes + this.#names.bytes +
      this.#links.bytes + this.#keys.bytes + this.#keyIds.bytes;
  }

  /** Address, prefix and host keys some peer names (for tests and memory checks). */
  get keyCount(): number {
    return this.#keyIds.size;
  }

  // ---------------------------------------------------------------- peer access (memory fast path)

  /**
   * The row of a registered node id.
   *
   * @param nodeId the node id
   * @returns the row, or -1
   */
  peerIndex(nodeId: string): number {
    return this.#peerIds.get(nodeId) ?? NIL;
  }

  /**
   * Whether a peer row is registered from a source.
   *
   * @param p the row
   * @param from the source
   * @returns true when the address and port match
   */
  isFrom(p: number, from: StoreSource): boolean {
    return this.#peers.cols.port[p] === from.port && this.#hostOf[p] === from.hostname;
  }

  /**
   * The address a peer row registered from.
   *
   * @param p the row
   * @returns its hostname
   */
  hostOf(p: number): string {
    return this.#hostOf[p]!;
  }

  /**
   * The port a peer row registered from.
   *
   * @param p the row
   * @returns its port
   */
  portOf(p: number): number {
    return this.#peers.cols.port[p]!;
  }

  /**
   * The session cookie stored for a peer row (see tracker_core.ts: a request carrying it needs no
   * HMAC), and the epoch that issued it.
   *
   * @param p the row
   * @returns high and low 32 bits and the epoch (-1 before the first)
   */
  cookieOf(p: number): { hi: number; lo: number; epoch: number } {
    const c = this.#peers.cols;
    return { hi: c.cookieHi[p]!, lo: c.cookieLo[p]!, epoch: c.cookieEpoch[p]! };
  }

  /**
   * Whether a peer row holds exactly this session cookie.
   *
   * @param p the row
   * @param hi high 32 bits
   * @param lo low 32 bits
   * @returns true when it is the stored one
   */
  hasCookie(p: number, hi: number, lo: number): boolean {
    const c = this.#peers.cols;
    return c.cookieEpoch[p]! >= 0 && c.cookieHi[p] === hi && c.cookieLo[p] === lo;
  }

  /**
   * Stores the session cookie last issued to a peer row.
   *
   * @param p the row
   * @param hi high 32 bits
   * @param lo low 32 bits
   * @param epoch the epoch that issued it
   */
  setCookie(p: number, hi: number, lo: number, epoch: number): void {
    const c = this.#peers.cols;
    c.cookieHi[p] = hi;
    c.cookieLo[p] = lo;
    c.cookieEpoch[p] = epoch;
  }

  /**
   * The OWNERS entry stored for a peer row (see {@link MemoryStore.setWire}).
   *
   * @param p the row
   * @returns the entry's bytes as a one-byte string, or undefined before the first
   */
  wireOf(p: number): string | undefined {
    return this.#wireOf[p];
  }

  /**
   * Stores a peer row's OWNERS entry (its node id and address on the wire, without the rate),
   * so a NEED encodes it without a lookup; forgotten with the row.
   *
   * @param p the row
   * @param entry the entry's bytes as a one-byte string
   */
  setWire(p: number, entry: string): void {
    this.#wireOf[p] = entry;
  }

  /**
   * The peer row of the `i`th owner the last NEED picked (the memory fast path).
   *
   * @param i 0 ≤ i < the last NEED's count
   * @returns the row
   */
  pickedPeer(i: number): number {
    return this.#owns.cols.peer[this.#picked[i]!]!;
  }

  /**
   * Describes a peer (for tests, tools and logs; allocates).
   *
   * @param nodeId the node id
   * @returns its address, last-heard time, rate key and content keys, or undefined
   */
  peerInfo(
    nodeId: string,
  ):
    | { hostname: string; port: number; lastSeen: number; rateKey: number; files: string[] }
    | undefined {
    const p = this.peerIndex(nodeId);
    if (p === NIL) return undefined;
    const c = this.#peers.cols;
    const files: string[] = [];
    for (let o = c.ownHead[p]!; o !== NIL; o = this.#owns.cols.pNext[o]!) {
      files.push(binToHex(this.#binOf[this.#owns.cols.content[o]!]!));
    }
    return {
      hostname: this.#hostOf[p]!,
      port: c.port[p]!,
      lastSeen: c.lastSeen[p]!,
      rateKey: c.rateKey[p]!,
      files,
    };
  }

  /**
   * Records a peer row as heard at `now` (moves it to the tail of the expiry queue; time never
   * goes backwards in the queue).
   *
   * @param p the row
   * @param now the current time in ms
   */
  touchIndex(p: number, now: number): void {
    const c = this.#peers.cols;
    const tail = this.#expTail;
    c.lastSeen[p] = tail !== NIL && tail !== p && c.lastSeen[tail]! > now ? c.lastSeen[tail]! : now;
    if (tail === p) return;
    this.#unlinkExp(p);
    c.expPrev[p] = tail;
    c.expNext[p] = NIL;
    if (tail !== NIL) c.expNext[tail] = p;
    else this.#expHead = p;
    this.#expTail = p;
  }

  // ---------------------------------------------------------------- SwarmStore

  /** {@inheritDoc SwarmStore.join} */
  join(...args: JoinArgs): JoinStatus {
    const [nodeId, from, now, maxPeers, room] = args;
    const known = this.peerIndex(nodeId);
    if (known !== NIL) {
      if (!this.isFrom(known, from)) return "wrong_address";
      this.touchIndex(known, now);
      return "refreshed";
    }
    if (this.#peerIds.size >= maxPeers) return "full";
    if (room !== undefined) {
      if (this.#keyCount(room.address, 0) >= room.maxPeersPerAddress) return "address_full";
      if (this.#keyCount(room.prefix, 0) >= room.maxPeersPerPrefix) {
        return "prefix_full";
      }
    }
    const p = this.#peers.alloc();
    const c = this.#peers.cols;
    this.#peerIds.set(nodeId, p);
    this.#nodeIdOf[p] = nodeId;
    // One string for the hostname and its address key when they are equal (IPv4, mostly).
    this.#hostOf[p] = room?.address === from.hostname ? room.address : from.hostname;
    if (room === undefined) {
      c.address[p] = c.prefix[p] = c.host[p] = NIL;
    } else {
      const a = this.#keyRef(room.address), x = this.#keyRef(room.prefix);
      c.address[p] = a;
      c.prefix[p] = x;
      c.host[p] = room.host === room.address
        ? this.#keyRef(room.address)
        : room.host === room.prefix
        ? this.#keyRef(room.prefix)
        : this.#keyRef(room.host);
      this.#countKeys(p, 1, 0);
    }
    c.port[p] = from.port;
    c.rateKey[p] = ZERO_RATE_KEY;
    c.ownHead[p] = NIL;
    c.files[p] = 0;
    c.cookieEpoch[p] = -1;
    c.expPrev[p] = c.expNext[p] = NIL;
    c.lastSeen[p] = now;
    this.#expLinkNew(p);
    this.touchIndex(p, now);
    return "registered";
  }

  /** {@inheritDoc SwarmStore.touch} */
  touch(nodeId: string, from: StoreSource, now: number): PeerCheck {
    const p = this.peerIndex(nodeId);
    if (p === NIL) return "unknown";
    if (!this.isFrom(p, from)) return "wrong_address";
    this.touchIndex(p, now);
    return "ok";
  }

  /** {@inheritDoc SwarmStore.check} */
  check(nodeId: string, from: StoreSource): PeerCheck {
    const p = this.peerIndex(nodeId);
    if (p === NIL) return "unknown";
    return this.isFrom(p, from) ? "ok" : "wrong_address";
  }

  /** {@inheritDoc SwarmStore.own} */
  own(...args: OwnArgs): OwnResult {
    const [nodeId, from, now, name, contentKey, size, maxFiles, room, have] = args;
    const result: OwnResult = { status: "ok", replaced: undefined, knownSize: 0, files: 0 };
    const p = this.peerIndex(nodeId);
    if (p === NIL || !this.isFrom(p, from)) {
      result.status = p === NIL ? "unknown" : "wrong_address";
      return result;
    }
    this.touchIndex(p, now);
    return this.ownIndex(p, now, name, contentKey, size, maxFiles, result, room, have);
  }

  /**
   * OWN for a peer row already checked (the memory fast path).
   *
   * @param p the peer row
   * @param now the current time in ms
   * @param name the name
   * @param contentKey the content id's lowercase hex
   * @param size the size in bytes
   * @param maxFiles the peer's file limit
   * @param result receives the outcome
   * @param room per-address and per-prefix file limits
   * @param have the share byte ({@link COMPLETE}, or 0..254 for a partial owner)
   * @returns `result`
   */
  ownIndex(
    p: number,
    now: number,
    name: string,
    contentKey: string,
    size: number,
    maxFiles: number,
    result: OwnResult = { status: "ok", replaced: undefined, knownSize: 0, files: 0 },
    room?: FileRoom,
    have: number = COMPLETE,
  ): OwnResult {
    const oc = this.#owns.cols;
    const bin = hexToBin(contentKey);
    let c = this.#contentIds.get(bin) ?? NIL;
    if (c !== NIL && this.#contents.cols.size[c] !== size) {
      result.status = "size_mismatch";
      result.knownSize = this.#contents.cols.size[c]!;
      return result;
    }
    const n0 = this.#nameIds.get(name) ?? NIL;
    let sameContent = NIL, sameName = NIL;
    for (let o = this.#peers.cols.ownHead[p]!; o !== NIL; o = oc.pNext[o]!) {
      if (oc.content[o] === c && c !== NIL) sameContent = o;
      if (oc.name[o] === n0 && n0 !== NIL) sameName = o;
    }
    if (sameContent !== NIL) {
      // A download progresses (or completes); a complete owner never goes back to partial.
      if (oc.have[sameContent] !== COMPLETE) {
        if (have === COMPLETE) {
          this.#contents.cols.complete[c]!++;
          this.#doneOwners.add(c, sameContent);
        }
        oc.have[sameContent] = have;
      }
      // Re-announced: a rename at most, never a second entry.
      if (oc.name[sameContent] !== n0) {
        if (sameName !== NIL) this.#drop(sameName);
        const n = this.#internName(name);
        const cols = this.#owns.cols; // the drop may have shrunk the table
        this.#unlinkName(cols.name[sameContent]!, c);
        cols.name[sameContent] = n;
        this.#linkName(n, c);
      }
      return result;
    }
    if (sameName === NIL && this.#peers.cols.files[p]! >= maxFiles) {
      result.status = "too_many_files";
      result.files = this.#peers.cols.files[p]!;
      return result;
    }
    if (sameName === NIL && room !== undefined) {
      const full = this.#fileRoom(p, room);
      if (full !== undefined) {
        result.status = full;
        return result;
      }
    }
    if (sameName !== NIL) {
      // The same name with new content: the file changed; the new content replaces the old.
      result.replaced = binToHex(this.#binOf[oc.content[sameName]!]!);
      this.#drop(sameName);
    }
    if (c === NIL) c = this.#newContent(bin, size);
    const n = this.#internName(name);
    const o = this.#owns.alloc();
    const cols = this.#owns.cols;
    cols.peer[o] = p;
    cols.content[o] = c;
    cols.name[o] = n;
    cols.assigned[o] = 0;
    cols.have[o] = have;
    if (have === COMPLETE) this.#contents.cols.complete[c]!++;
    // The peer's list.
    const pc = this.#peers.cols;
    cols.pPrev[o] = NIL;
    cols.pNext[o] = pc.ownHead[p]!;
    if (pc.ownHead[p] !== NIL) cols.pPrev[pc.ownHead[p]!] = o;
    pc.ownHead[p] = o;
    pc.files[p]!++;
    this.#countFiles(p, 1);
    this.#contents.cols.owners[c]!++;
    this.#linkName(n, c);
    this.#rank(o, unitRateKey(now, this.#tau));
    this.#sampleAdded(o, c);
    return result;
  }

  /** {@inheritDoc SwarmStore.need} */
  need(nodeId: string, from: StoreSource, now: number, query: NeedQuery): NeedResult {
    const r = this.#need;
    const p = this.peerIndex(nodeId);
    if (p === NIL || !this.isFrom(p, from)) {
      r.status = p === NIL ? "unknown" : "wrong_address";
      r.count = 0;
      return r;
    }
    this.touchIndex(p, now);
    return this.needIndex(p, now, query);
  }

  /**
   * NEED for a peer row already checked (the memory fast path).
   *
   * @param p the asker's row
   * @param now the current time in ms
   * @param query what is asked
   * @returns the answer (one object, reused by the next call)
   */
  needIndex(p: number, now: number, query: NeedQuery): NeedResult {
    const r = this.#need;
    r.status = "ok";
    r.known = false;
    r.contentKey = undefined;
    r.size = 0;
    r.displayName = "";
    r.alternatives = 0;
    r.count = 0;
    let c = NIL;
    if (!query.byName) {
      c = this.#contentIds.get(hexToBin(query.want)) ?? NIL;
      r.known = c !== NIL;
    } else {
      const n = this.#nameIds.get(query.want) ?? NIL;
      if (n === NIL) return r;
      r.known = true;
      const lc = this.#links.cols;
      let best = 0;
      for (let l = this.#names.cols.linkHead[n]!; l !== NIL; l = lc.nNext[l]!) {
        const f = lc.content[l]!;
        const count = lc.count[l]! - (this.#owning(p, f, n) ? 1 : 0);
        if (count > best || (count === best && c !== NIL && this.#binOf[f]! < this.#binOf[c]!)) {
          if (count > 0) {
            best = count;
            c = f;
          }
        }
      }
      r.alternatives = this.#names.cols.links[n]! - 1;
    }
    if (c === NIL) return r;
    fillExcluded(this.#skip, query.exclude, this.#peerIds);
    const count = this.#pick(c, query.k, p, now, query.mix ?? 0, query.partial === true);
    this.#skip.clear();
    if (count === 0) return r;
    r.contentKey = binToHex(this.#binOf[c]!);
    r.size = this.#contents.cols.size[c]!;
    r.displayName = query.byName ? query.want : this.#displayName(c);
    const picked = this.#picked;
    const pc = this.#peers.cols;
    for (let i = 0; i < count; i++) {
      const q = this.#owns.cols.peer[picked[i]!]!;
      r.nodeIds[i] = this.#nodeIdOf[q]!;
      r.hostnames[i] = this.#hostOf[q]!;
      r.ports[i] = pc.port[q]!;
      r.rateKeys[i] = pc.rateKey[q]!;
      r.haves[i] = this.#owns.cols.have[picked[i]!]!;
    }
    r.count = count;
    return r;
  }

  /** {@inheritDoc SwarmStore.update} */
  update(nodeId: string, from: StoreSource, now: number, uploaded: number): UpdateResult {
    const p = this.peerIndex(nodeId);
    if (p === NIL || !this.isFrom(p, from)) {
      return { status: p === NIL ? "unknown" : "wrong_address", rateKey: ZERO_RATE_KEY };
    }
    this.touchIndex(p, now);
    return { status: "ok", rateKey: this.addUploadIndex(p, uploaded, now) };
  }

  /**
   * Adds uploaded bytes to a peer row's rate and re-ranks its files.
   *
   * @param p the row
   * @param uploaded bytes
   * @param now the current time in ms
   * @returns the new rate key
   */
  addUploadIndex(p: number, uploaded: number, now: number): number {
    const pc = this.#peers.cols;
    if (!(uploaded > 0)) return pc.rateKey[p]!;
    pc.rateKey[p] = addUpload(pc.rateKey[p]!, uploaded, now, this.#tau);
    const floor = unitRateKey(now, this.#tau);
    const oc = this.#owns.cols;
    for (let o = pc.ownHead[p]!; o !== NIL; o = oc.pNext[o]!) {
      this.#unrank(o);
      this.#rank(o, floor);
    }
    return pc.rateKey[p]!;
  }

  /**
   * The current rate of a peer row in bytes/s.
   *
   * @param p the row
   * @param now the current time in ms
   * @returns bytes per second
   */
  rateOf(p: number, now: number): number {
    return rateAt(this.#peers.cols.rateKey[p]!, now, this.#tau);
  }

  /** {@inheritDoc SwarmStore.report} */
  report(...args: ReportArgs): ReportResult {
    const [nodeId, from, now, contentKey, entries, budget] = args;
    const p = this.peerIndex(nodeId);
    if (p === NIL || !this.isFrom(p, from)) {
      return { status: p === NIL ? "unknown" : "wrong_address", credited: 0, ignored: 0 };
    }
    this.touchIndex(p, now);
    const c = this.#contentIds.get(hexToBin(contentKey)) ?? NIL;
    let room = c === NIL ? 0 : Math.min(this.#contents.cols.size[c]!, budget);
    let credited = 0, ignored = 0;
    const hostRow = this.#peers.cols.host;
    const host = hostRow[p]!;
    for (const e of entries) {
      const q = this.peerIndex(e.nodeId);
      const bytes = Math.min(e.bytes, room);
      if (
        c === NIL || q === NIL || q === p || !(bytes > 0) ||
        (host !== NIL && hostRow[q] === host) || this.#ownershipOf(q, c) === NIL
      ) {
        ignored++;
        continue;
      }
      room -= bytes;
      credited += bytes;
      this.addUploadIndex(q, bytes, now);
    }
    return { status: "ok", credited, ignored };
  }

  /** {@inheritDoc SwarmStore.listRows} */
  listRows(
    after: { name: string; contentKey: string } | undefined,
    limit: number,
    exact?: string,
  ): ListRow[] {
    // Sorts every name on each call: the memory store's LIST is for tests and small swarms (the
    // memory tracker pages its FileIndex, file_listing.ts).
    const names = exact === undefined
      ? [...this.#nameIds.keys()].sort()
      : this.#nameIds.has(exact)
      ? [exact]
      : [];
    const rows: ListRow[] = [];
    const lc = this.#links.cols, cc = this.#contents.cols;
    let i = 0;
    if (after !== undefined) { while (i < names.length && names[i]! < after.name) i++; }
    for (; i < names.length && rows.length < limit; i++) {
      const name = names[i]!;
      const n = this.#nameIds.get(name)!;
      const here: ListRow[] = [];
      for (let l = this.#names.cols.linkHead[n]!; l !== NIL; l = lc.nNext[l]!) {
        const c = lc.content[l]!;
        const contentKey = binToHex(this.#binOf[c]!);
        if (after !== undefined && name === after.name && contentKey <= after.contentKey) continue;
        here.push({ name, contentKey, size: cc.size[c]!, owners: cc.owners[c]! });
      }
      here.sort((a, b) => (a.contentKey < b.contentKey ? -1 : 1));
      for (const r of here) if (rows.length < limit) rows.push(r);
    }
    return rows;
  }

  /** {@inheritDoc SwarmStore.exit} */
  exit(nodeId: string, from: StoreSource): ExitResult {
    const p = this.peerIndex(nodeId);
    if (p === NIL) return { status: "unknown", files: 0 };
    if (!this.isFrom(p, from)) return { status: "wrong_address", files: 0 };
    return { status: "ok", files: this.removeIndex(p) };
  }

  /**
   * Forgets a peer row and its files.
   *
   * @param p the row
   * @returns the files it shared
   */
  removeIndex(p: number): number {
    const pc = this.#peers.cols;
    const files = pc.files[p]!;
    while (pc.ownHead[p] !== NIL) this.#drop(pc.ownHead[p]!);
    if (pc.address[p] !== NIL) {
      this.#countKeys(p, -1, 0);
      this.#keyUnref(pc.address[p]!);
      this.#keyUnref(pc.prefix[p]!);
      this.#keyUnref(pc.host[p]!);
      pc.address[p] = pc.prefix[p] = pc.host[p] = NIL;
    }
    this.#unlinkExp(p);
    this.#peerIds.delete(this.#nodeIdOf[p]!);
    this.#peers.release(p);
    return files;
  }

  /** {@inheritDoc SwarmStore.expire} */
  expire(cutoff: number, max: number): Evicted[] {
    const out: Evicted[] = [];
    while (out.length < max) {
      // Read the columns each time: removing a peer may shrink the table.
      const pc = this.#peers.cols;
      const p = this.#expHead;
      if (p === NIL || pc.lastSeen[p]! > cutoff) break;
      const e: Evicted = {
        nodeId: this.#nodeIdOf[p]!,
        hostname: this.#hostOf[p]!,
        port: pc.port[p]!,
        files: pc.files[p]!,
        lastSeen: pc.lastSeen[p]!,
      };
      this.removeIndex(p);
      out.push(e);
    }
    return out;
  }

  /** {@inheritDoc SwarmStore.oldestSeen} */
  oldestSeen(): number | undefined {
    return this.#expHead === NIL ? undefined : this.#peers.cols.lastSeen[this.#expHead];
  }

  /** {@inheritDoc SwarmStore.counts} */
  counts(): StoreCounts {
    return { peers: this.#peerIds.size, files: this.#contentIds.size };
  }

  /** Nothing to release. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  // ---------------------------------------------------------------- internals

  /** The peers (`which` 0) or files (1) counted under an address or prefix key. */
  #keyCount(key: string, which: 0 | 1): number {
    const k = this.#keyIds.get(key);
    if (k === NIL) return 0;
    return which === 0 ? this.#keys.cols.peers[k]! : this.#keys.cols.files[k]!;
  }

  /** The row of a key, interned (or its reference count raised) for one more use by a peer. */
  #keyRef(key: string): number {
    let k = this.#keyIds.get(key);
    if (k === NIL) {
      k = this.#keys.alloc();
      const kc = this.#keys.cols;
      kc.peers[k] = kc.files[k] = kc.refs[k] = 0;
      this.#keyOf[k] = key;
      this.#keyIds.add(key, k);
    }
    this.#keys.cols.refs[k]!++;
    return k;
  }

  /** Drops one use of a key row; the key is forgotten when no peer names it. */
  #keyUnref(k: number): void {
    if (--this.#keys.cols.refs[k]! > 0) return;
    this.#keyIds.delete(this.#keyOf[k]!);
    this.#keys.release(k);
  }

  /** Adds peers and files to the counts of a peer's address and prefix. */
  #countKeys(p: number, peers: number, files: number): void {
    const pc = this.#peers.cols;
    const a = pc.address[p]!, x = pc.prefix[p]!;
    if (a === NIL) return;
    const kc = this.#keys.cols;
    kc.peers[a] = kc.peers[a]! + peers;
    kc.files[a] = kc.files[a]! + files;
    kc.peers[x] = kc.peers[x]! + peers;
    kc.files[x] = kc.files[x]! + files;
  }

  #countFiles(p: number, d: number): void {
    this.#countKeys(p, 0, d);
  }

  #fileRoom(p: number, room: FileRoom): "address_full" | "prefix_full" | undefined {
    const pc = this.#peers.cols;
    const a = pc.address[p]!, x = pc.prefix[p]!;
    if (a === NIL) return undefined;
    const kc = this.#keys.cols;
    if (kc.files[a]! >= room.maxFilesPerAddress) return "address_full";
    if (kc.files[x]! >= room.maxFilesPerPrefix) return "prefix_full";
    return undefined;
  }

  /** Peer row `p`'s ownership of content `c`, or NIL. */
  #ownershipOf(p: number, c: number): number {
    const oc = this.#owns.cols;
    for (let o = this.#peers.cols.ownHead[p]!; o !== NIL; o = oc.pNext[o]!) {
      if (oc.content[o] === c) return o;
    }
    return NIL;
  }

  #expLinkNew(p: number): void {
    // A new row is not in the queue: mark it so touchIndex's unlink is a no-op.
    const c = this.#peers.cols;
    c.expPrev[p] = NIL;
    c.expNext[p] = NIL;
  }

  #unlinkExp(p: number): void {
    const c = this.#peers.cols;
    const prev = c.expPrev[p]!, next = c.expNext[p]!;
    if (prev === NIL && next === NIL && this.#expHead !== p) return; // not queued
    if (prev !== NIL) c.expNext[prev] = next;
    else this.#expHead = next;
    if (next !== NIL) c.expPrev[next] = prev;
    else this.#expTail = prev;
    c.expPrev[p] = c.expNext[p] = NIL;
  }

  #newContent(bin: string, size: number): number {
    const c = this.#contents.alloc();
    const cc = this.#contents.cols;
    this.#contentIds.set(bin, c);
    this.#binOf[c] = bin;
    cc.size[c] = size;
    cc.ratedHead[c] =
      cc.ratedTail[c] =
      cc.idleHead[c] =
      cc.idleTail[c] =
        NIL;
    cc.owners[c] = 0;
    cc.linkHead[c] = cc.linkTail[c] = NIL;
    cc.links[c] = 0;
    cc.complete[c] = 0;
    return c;
  }

  #internName(name: string): number {
    let n = this.#nameIds.get(name);
    if (n === undefined) {
      n = this.#names.alloc();
      this.#nameIds.set(name, n);
      this.#nameOf[n] = name;
      this.#names.cols.linkHead[n] = NIL;
      this.#names.cols.links[n] = 0;
    }
    return n;
  }

  /** The (name, content) link, or NIL; walks the shorter of the two lists. */
  #findLink(n: number, c: number): number {
    const lc = this.#links.cols;
    if (this.#names.cols.links[n]! <= this.#contents.cols.links[c]!) {
      for (let l = this.#names.cols.linkHead[n]!; l !== NIL; l = lc.nNext[l]!) {
        if (lc.content[l] === c) return l;
      }
    } else {
      for (let l = this.#contents.cols.linkHead[c]!; l !== NIL; l = lc.cNext[l]!) {
        if (lc.name[l] === n) return l;
      }
    }
    return NIL;
  }

  #linkName(n: number, c: number): void {
    const found = this.#findLink(n, c);
    const lc = this.#links.cols;
    if (found !== NIL) {
      lc.count[found]!++;
      return;
    }
    const l = this.#links.alloc();
    this.#namesVersion++;
    const cols = this.#links.cols;
    const nc = this.#names.cols, cc = this.#contents.cols;
    cols.name[l] = n;
    cols.content[l] = c;
    cols.count[l] = 1;
    // Name list: at the head. Content list: at the tail (announce order for display ties).
    cols.nPrev[l] = NIL;
    cols.nNext[l] = nc.linkHead[n]!;
    if (nc.linkHead[n] !== NIL) cols.nPrev[nc.linkHead[n]!] = l;
    nc.linkHead[n] = l;
    nc.links[n]!++;
    cols.cNext[l] = NIL;
    cols.cPrev[l] = cc.linkTail[c]!;
    if (cc.linkTail[c] !== NIL) cols.cNext[cc.linkTail[c]!] = l;
    else cc.linkHead[c] = l;
    cc.linkTail[c] = l;
    cc.links[c]!++;
  }

  #unlinkName(n: number, c: number): void {
    const l = this.#findLink(n, c);
    if (l === NIL) return;
    const lc = this.#links.cols;
    if (--lc.count[l]! > 0) return;
    const nc = this.#names.cols, cc = this.#contents.cols;
    if (lc.nPrev[l] !== NIL) lc.nNext[lc.nPrev[l]!] = lc.nNext[l]!;
    else nc.linkHead[n] = lc.nNext[l]!;
    if (lc.nNext[l] !== NIL) lc.nPrev[lc.nNext[l]!] = lc.nPrev[l]!;
    if (lc.cPrev[l] !== NIL) lc.cNext[lc.cPrev[l]!] = lc.cNext[l]!;
    else cc.linkHead[c] = lc.cNext[l]!;
    if (lc.cNext[l] !== NIL) lc.cPrev[lc.cNext[l]!] = lc.cPrev[l]!;
    else cc.linkTail[c] = lc.cPrev[l]!;
    cc.links[c]!--;
    this.#links.release(l);
    this.#namesVersion++;
    if (--nc.links[n]! === 0) {
      this.#nameIds.delete(this.#nameOf[n]!);
      this.#names.release(n);
    }
  }

  /** Whether peer row `p` shares content `c` under name `n`. */
  #owning(p: number, c: number, n: number): boolean {
    const oc = this.#owns.cols;
    for (let o = this.#peers.cols.ownHead[p]!; o !== NIL; o = oc.pNext[o]!) {
      if (oc.content[o] === c) return oc.name[o] === n;
    }
    return false;
  }

  #displayName(c: number): string {
    const lc = this.#links.cols;
    let best = NIL, n = 0;
    for (let l = this.#contents.cols.linkHead[c]!; l !== NIL; l = lc.cNext[l]!) {
      if (lc.count[l]! > n) {
        n = lc.count[l]!;
        best = lc.name[l]!;
      }
    }
    return best === NIL ? "" : this.#nameOf[best]!;
  }

  /** Removes one ownership; a content left without owners is forgotten. */
  #drop(o: number): void {
    const oc = this.#owns.cols;
    const p = oc.peer[o]!, c = oc.content[o]!;
    this.#unrank(o);
    if (oc.have[o] === COMPLETE) this.#contents.cols.complete[c]!--;
    const pc = this.#peers.cols;
    if (oc.pPrev[o] !== NIL) oc.pNext[oc.pPrev[o]!] = oc.pNext[o]!;
    else pc.ownHead[p] = oc.pNext[o]!;
    if (oc.pNext[o] !== NIL) oc.pPrev[oc.pNext[o]!] = oc.pPrev[o]!;
    pc.files[p]!--;
    this.#countFiles(p, -1);
    this.#unlinkName(oc.name[o]!, c);
    this.#allOwners.remove(c, o);
    if (oc.have[o] === COMPLETE) this.#doneOwners.remove(c, o);
    this.#owns.release(o);
    if (this.#contents.cols.owners[c]! - 1 < SAMPLE_UNTIL) {
      this.#allOwners.delete(c);
      this.#doneOwners.delete(c);
    }
    if (--this.#contents.cols.owners[c]! === 0) {
      this.#contentIds.delete(this.#binOf[c]!);
      this.#contents.release(c);
    }
  }

  /** A new ownership `o` (ranked) of content `c` joins its samples, built at SAMPLE_FROM. */
  #sampleAdded(o: number, c: number): void {
    const oc = this.#owns.cols, cc = this.#contents.cols;
    if (this.#allOwners.get(c) !== undefined) {
      this.#allOwners.add(c, o);
      if (oc.have[o] === COMPLETE) this.#doneOwners.add(c, o);
      return;
    }
    if (cc.owners[c]! < SAMPLE_FROM) return;
    const all: number[] = [], done: number[] = [];
    for (const head of [cc.ratedHead[c]!, cc.idleHead[c]!]) {
      for (let x = head; x !== NIL; x = oc.cNext[x]!) {
        all.push(x);
        if (oc.have[x] === COMPLETE) done.push(x);
      }
    }
    this.#allOwners.create(c, all);
    this.#doneOwners.create(c, done);
  }

  // ---------------------------------------------------------------- ranking lists

  /** Puts an ownership (in no list) into its content's rated or idle list. */
  #rank(o: number, floor: number): void {
    const oc = this.#owns.cols, cc = this.#contents.cols;
    const c = oc.content[o]!;
    const key = this.#peers.cols.rateKey[oc.peer[o]!]!;
    if (key >= floor) {
      oc.rated[o] = 1;
      // Before the first owner whose key is not higher: at the head of its equals.
      let at = cc.ratedHead[c]!;
      while (at !== NIL && this.#keyOfOwn(at) > key) at = oc.cNext[at]!;
      this.#insertBefore(o, at, true);
      return;
    }
    oc.rated[o] = 0;
    let at = cc.idleHead[c]!;
    if (oc.assigned[o] === 1) {
      // Handed out before: behind every owner never handed out.
      while (at !== NIL && oc.assigned[at] === 0) at = oc.cNext[at]!;
      this.#insertBefore(o, at, false);
      return;
    }
    // Never handed out: a uniformly random place among the first owners never handed out
    // (at most FRESH_SPREAD of them), so their order is not the order they joined in.
    let fresh = 0;
    for (let x = at; x !== NIL && fresh < FRESH_SPREAD && oc.assigned[x] === 0; x = oc.cNext[x]!) {
      fresh++;
    }
    let steps = Math.floor(this.#random() * (fresh + 1));
    while (steps-- > 0) at = oc.cNext[at]!;
    this.#insertBefore(o, at, false);
  }

  #keyOfOwn(o: number): number {
    return this.#peers.cols.rateKey[this.#owns.cols.peer[o]!]!;
  }

  /** Inserts `o` before `at` (NIL: at the tail) of the rated or idle list of its content. */
  #insertBefore(o: number, at: number, rated: boolean): void {
    const oc = this.#owns.cols, cc = this.#contents.cols;
    const c = oc.content[o]!;
    const head = rated ? cc.ratedHead : cc.idleHead;
    const tail = rated ? cc.ratedTail : cc.idleTail;
    if (at === NIL) {
      oc.cPrev[o] = tail[c]!;
      oc.cNext[o] = NIL;
      if (tail[c] !== NIL) oc.cNext[tail[c]!] = o;
      else head[c] = o;
      tail[c] = o;
      return;
    }
    oc.cNext[o] = at;
    oc.cPrev[o] = oc.cPrev[at]!;
    if (oc.cPrev[at] !== NIL) oc.cNext[oc.cPrev[at]!] = o;
    else head[c] = o;
    oc.cPrev[at] = o;
  }

  #unrank(o: number): void {
    const oc = this.#owns.cols, cc = this.#contents.cols;
    const c = oc.content[o]!;
    const head = oc.rated[o] ? cc.ratedHead : cc.idleHead;
    const tail = oc.rated[o] ? cc.ratedTail : cc.idleTail;
    if (oc.cPrev[o] !== NIL) oc.cNext[oc.cPrev[o]!] = oc.cNext[o]!;
    else head[c] = oc.cNext[o]!;
    if (oc.cNext[o] !== NIL) oc.cPrev[oc.cNext[o]!] = oc.cPrev[o]!;
    else tail[c] = oc.cPrev[o]!;
    oc.cPrev[o] = oc.cNext[o] = NIL;
  }

  /**
   * Picks up to `k` owners of content `c` into #picked (see {@link NeedQuery.partial}), never
   * peer row `asker` nor a row in #skip, recording the hand-outs.
   */
  #pick(c: number, k: number, asker: number, now: number, mix: number, partial: boolean): number {
    const cc = this.#contents.cols;
    const picked = this.#picked;
    if (!partial || cc.complete[c] === cc.owners[c]) {
      if (cc.complete[c] === 0) return (picked.length = 0);
      return this.#select(c, k, asker, now, mix, !partial, picked);
    }
    // The best half by the ranking, the rest at random among the others: every downloader asks
    // partial owners, and the same few best-ranked ones for all would leave the others idle.
    const oc = this.#owns.cols;
    const best = Math.ceil(k / 2);
    let n = this.#select(c, best, asker, now, 0, false, picked);
    if (n === best && cc.owners[c]! > n + 1 && this.#allOwners.get(c) !== undefined) {
      // Many owners: draws (O(1) each) in place of a walk over all of them.
      this.#mixIn(c, k, asker, false, picked);
      n = picked.length;
    } else if (n === best && cc.owners[c]! > n + 1) {
      const others = this.#others;
      others.length = 0;
      for (const head of [cc.ratedHead[c]!, cc.idleHead[c]!]) {
        for (let o = head; o !== NIL; o = oc.cNext[o]!) {
          const q = oc.peer[o]!;
          if (q !== asker && !this.#skip.has(q) && !picked.includes(o)) others.push(o);
        }
      }
      for (let i = 0; n < k && i < others.length; i++, n++) {
        const j = i + Math.floor(this.#random() * (others.length - i));
        const o = others[j]!;
        others[j] = others[i]!;
        picked.push(o);
      }
      others.length = 0;
    }
    const mine = this.#ownershipOf(asker, c);
    const askerComplete = mine !== NIL && oc.have[mine] === COMPLETE ? 1 : 0;
    if (n === 0 || cc.complete[c]! - askerComplete === 0) return n;
    for (let i = 0; i < n; i++) if (oc.have[picked[i]!] === COMPLETE) return n;
    // No complete owner among them: the best complete one takes the last place.
    const one = this.#one;
    this.#select(c, 1, asker, now, 0, true, one);
    if (one.length === 1) picked[n === k ? n - 1 : n] = one[0]!;
    one.length = 0;
    return picked.length;
  }

  /**
   * Picks up to `k` owners of content `c` into `out`, best first, never peer row `asker` nor
   * a row in #skip (nor a partial owner with `completeOnly`), and moves each behind its equals.
   */
  #select(
    c: number,
    k: number,
    asker: number,
    now: number,
    mix: number,
    completeOnly: boolean,
    out: number[],
  ): number {
    const oc = this.#owns.cols, cc = this.#contents.cols;
    const skip = this.#skip;
    const total = k;
    if (cc.owners[c]! - 1 - skip.size > k) k -= Math.min(mix, k);
    const floor = unitRateKey(now, this.#tau);
    // Rated owners whose rate decayed below 1 byte/s form the tail: demote them.
    for (let o = cc.ratedTail[c]!; o !== NIL && this.#keyOfOwn(o) < floor; o = cc.ratedTail[c]!) {
      this.#unrank(o);
      this.#rank(o, floor);
    }
    out.length = 0;
    // At most WALK_LIMIT owners walked (complete-only past many partial owners); random draws
    // fill what is left.
    let walk = WALK_LIMIT;
    for (let o = cc.ratedHead[c]!; o !== NIL && out.length < k && walk-- > 0; o = oc.cNext[o]!) {
      if (this.#eligible(o, asker, completeOnly)) out.push(o);
    }
    const fromRated = out.length;
    for (let o = cc.idleHead[c]!; o !== NIL && out.length < k && walk-- > 0; o = oc.cNext[o]!) {
      if (this.#eligible(o, asker, completeOnly)) out.push(o);
    }
    // Hand-outs go behind their equals: rated ones behind the last owner with the same key,
    // idle ones to the tail.
    for (let i = 0; i < out.length; i++) {
      const o = out[i]!;
      oc.assigned[o] = 1;
      if (i >= fromRated) {
        this.#unrank(o);
        this.#insertBefore(o, NIL, false);
        continue;
      }
      const key = this.#keyOfOwn(o);
      let at = oc.cNext[o]!;
      if (at === NIL || this.#keyOfOwn(at) !== key) continue;
      while (at !== NIL && this.#keyOfOwn(at) === key) at = oc.cNext[at]!;
      this.#unrank(o);
      this.#insertBefore(o, at, true);
    }
    if (out.length < total) this.#mixIn(c, total, asker, completeOnly, out);
    return out.length;
  }

  /** Whether ownership `o` may be handed out to peer row `asker`. */
  #eligible(o: number, asker: number, completeOnly: boolean): boolean {
    const oc = this.#owns.cols;
    const q = oc.peer[o]!;
    return q !== asker && !this.#skip.has(q) && (!completeOnly || oc.have[o] === COMPLETE);
  }

  /** Appends owners drawn at random (not picked yet, not left out) until `out` has `k`. */
  #mixIn(c: number, k: number, asker: number, completeOnly: boolean, out: number[]): void {
    const oc = this.#owns.cols, cc = this.#contents.cols;
    const sample = (completeOnly ? this.#doneOwners : this.#allOwners).get(c);
    if (sample !== undefined) {
      for (let tries = 0; out.length < k && tries < 4 * k && sample.length > 0; tries++) {
        const o = sample[Math.floor(this.#random() * sample.length)]!;
        if (this.#eligible(o, asker, completeOnly) && !out.includes(o)) out.push(o);
      }
      return;
    }
    const all = cc.owners[c]!;
    for (let tries = 0; out.length < k && tries < 4 * k; tries++) {
      // Walks the lists to the drawn position: O(owners) per draw (at most 4k draws, and fewer
      // than SAMPLE_FROM owners here).
      let i = Math.floor(this.#random() * all);
      let o = cc.ratedHead[c]!;
      while (o !== NIL && i-- > 0) o = oc.cNext[o]!;
      if (o === NIL) {
        o = cc.idleHead[c]!;
        while (o !== NIL && i-- > 0) o = oc.cNext[o]!;
      }
      if (o === NIL || !this.#eligible(o, asker, completeOnly) || out.includes(o)) continue;
      out.push(o);
    }
  }

  // ---------------------------------------------------------------- listing source

  /**
   * Calls `f` for every (name, content) pair, in no particular order (the listing's snapshot).
   *
   * @param f receives the name and the content's key (32 bytes as a one-byte string)
   */
  forEachNamed(f: (name: string, content: string) => void): void {
    const lc = this.#links.cols;
    for (const [name, n] of this.#nameIds) {
      for (let l = this.#names.cols.linkHead[n]!; l !== NIL; l = lc.nNext[l]!) {
        f(name, this.#binOf[lc.content[l]!]!);
      }
    }
  }

  /**
   * The contents announced under one name.
   *
   * @param name the name
   * @returns their keys (32 bytes as one-byte strings), in no particular order
   */
  contentsNamed(name: string): string[] {
    const n = this.#nameIds.get(name);
    const out: string[] = [];
    if (n === undefined) return out;
    const lc = this.#links.cols;
    for (let l = this.#names.cols.linkHead[n]!; l !== NIL; l = lc.nNext[l]!) {
      out.push(this.#binOf[lc.content[l]!]!);
    }
    return out;
  }

  /**
   * A listing entry, when the content is still announced under the name.
   *
   * @param name the name
   * @param content the content's key (32 bytes as a one-byte string)
   * @returns its size and owners, or undefined when gone
   */
  namedEntry(name: string, content: string): { size: number; owners: number } | undefined {
    const c = this.#contentIds.get(content);
    const n = this.#nameIds.get(name);
    if (c === undefined || n === undefined || this.#findLink(n, c) === NIL) return undefined;
    const cc = this.#contents.cols;
    return { size: cc.size[c]!, owners: cc.owners[c]! };
  }
}
