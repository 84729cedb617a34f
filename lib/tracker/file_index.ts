/**
 * The tracker's files: names → contents, contents → owners, and the owner ranking a NEED
 * reply is cut from (by upload rate, with load spreading among equals: owner_index.ts).
 * Pure: the caller passes the time; randomness is injected. The rules that decide *whether*
 * a peer may own or ask live in registry.ts; this module only keeps the index consistent.
 * Rules: docs/TRACKER.md.
 * @module
 */
import { OwnerIndex, type RankedOwner } from "./owner_index.ts";
import { unitRateKey } from "./upload_rate.ts";

/** What the index keeps on each owning peer: its ownerships by content key and by name. */
export interface FileOwner<P extends FileOwner<P>> {
  /** The peer's node id. */
  readonly nodeId: string;
  /** The peer's current rate key (see upload_rate.ts). */
  rateKey: number;
  /** Content key (hex content id) → the peer's ownership of it. */
  readonly files: Map<string, Ownership<P>>;
  /** Name → the peer's ownership announced under it. */
  readonly names: Map<string, Ownership<P>>;
}

/** One content id with at least one owner. */
export interface FileRecord<P extends FileOwner<P>> {
  /** Lowercase hex of the content id. */
  readonly key: string;
  /** The content id. */
  readonly contentId: Uint8Array;
  /** Size in bytes. */
  readonly size: number;
  /** name → owners announcing it under that name. */
  readonly names: Map<string, number>;
  /** UTF-8 of the display name, cached until the names change. */
  displayBytes: Uint8Array | undefined;
  /** The owners, ranked. */
  readonly owners: OwnerIndex<P, Ownership<P>>;
  /** Owners with the whole file (the others are partial owners: downloads in progress). */
  complete: number;
}

/** One peer's ownership of one content, under one name. */
export interface Ownership<P extends FileOwner<P>> extends RankedOwner<P> {
  /** The content. */
  readonly file: FileRecord<P>;
  /** The name the peer announced it under. */
  name: string;
  /** Its share of the file: {@link COMPLETE} for all of it, 0..254 for a download in progress. */
  have: number;
}

/** {@link Ownership.have} of an owner with the whole file. */
export const COMPLETE = 255;

/**
 * The share byte of a partial owner: `have`/`pieces` scaled to 0..254 (a partial owner is never
 * {@link COMPLETE}).
 *
 * @param have pieces verified
 * @param pieces pieces in the file
 * @returns 0..254
 */
export function shareByte(have: number, pieces: number): number {
  return Math.min(COMPLETE - 1, Math.floor((have * (COMPLETE - 1)) / pieces));
}

const isComplete = <P extends FileOwner<P>>(o: Ownership<P>): boolean => o.have === COMPLETE;

/** Options for {@link FileIndex}. */
export interface FileIndexOptions {
  /** Time constant τ of the upload-rate EWMA in ms. */
  rateTauMs: number;
  /** Random numbers in [0, 1) for tie-breaks. */
  random: () => number;
}

/** The result of {@link FileIndex.lookup} (reused between calls). */
export interface FileLookup<P extends FileOwner<P>> {
  /** The content to answer with, or undefined when nobody but the asker shares it. */
  file: FileRecord<P> | undefined;
  /** Other contents announced under the name (0 for a lookup by content id). */
  alternatives: number;
  /** True when the name or content id is known at all (the asker may be its only owner). */
  known: boolean;
}

const utf8 = new TextEncoder();

/** Names, contents, owners and their ranking. */
export class FileIndex<P extends FileOwner<P>> {
  readonly #files = new Map<string, FileRecord<P>>();
  readonly #byName = new Map<string, Set<FileRecord<P>>>();
  readonly #rateTauMs: number;
  readonly #random: () => number;
  readonly #lookup: FileLookup<P> = { file: undefined, alternatives: 0, known: false };
  readonly #one: Ownership<P>[] = [];
  #namesVersion = 0;

  /**
   * An empty index.
   *
   * @param options the rate time constant and the tie-break randomness
   */
  constructor(options: FileIndexOptions) {
    this.#rateTauMs = options.rateTauMs;
    this.#random = options.random;
  }

  /** Distinct content ids with at least one owner. */
  get size(): number {
    return this.#files.size;
  }

  /** Changes whenever a name gains or loses a content (listings rebuild on it). */
  get namesVersion(): number {
    return this.#namesVersion;
  }

  /**
   * Every name with the contents announced under it (for listings; do not modify).
   *
   * @returns the names and their contents, in no particular order
   */
  names(): MapIterator<[string, ReadonlySet<FileRecord<P>>]> {
    return this.#byName.entries();
  }

  /**
   * The contents announced under one name.
   *
   * @param name the name
   * @returns the contents (do not modify), or undefined when nobody announces the name
   */
  named(name: string): ReadonlySet<FileRecord<P>> | undefined {
    return this.#byName.get(name);
  }

  /**
   * The content with a key.
   *
   * @param key lowercase hex of the content id
   * @returns the content, or undefined when nobody shares it
   */
  get(key: string): FileRecord<P> | undefined {
    return this.#files.get(key);
  }

  /**
   * Records that `peer` shares a content under `name`. When the peer already shares the
   * content, it is renamed (never duplicated); when it shares another content under the same
   * name, that one is replaced. The caller has checked the size and the limits.
   *
   * @param peer the owner
   * @param name the name it announces
   * @param contentId the content id
   * @param key lowercase hex of `contentId`
   * @param size the size in bytes
   * @param now the current time in ms
   * @param have its share of the file ({@link COMPLETE}, or 0..254 while it downloads)
   * @returns the key of the content it replaced, if any
   */
  own(
    peer: P,
    name: string,
    contentId: Uint8Array,
    key: string,
    size: number,
    now: number,
    have: number = COMPLETE,
  ): string | undefined {
    const existing = peer.files.get(key);
    if (existing !== undefined) {
      if (existing.have !== COMPLETE) {
        if (have === COMPLETE) existing.file.complete++;
        existing.have = have; // a download progresses (or completes); never back to partial
      }
      if (existing.name !== name) {
        const other = peer.names.get(name);
        if (other !== undefined && other !== existing) this.drop(peer, other);
        this.#rename(peer, existing, name);
      }
      return undefined;
    }
    // The same name with new content: the file changed; the new content replaces the old.
    const sameName = peer.names.get(name);
    let replaced: string | undefined;
    if (sameName !== undefined) {
      replaced = sameName.file.key;
      this.drop(peer, sameName);
    }
    let file = this.#files.get(key);
    if (file === undefined) {
      file = {
        key,
        contentId,
        size,
        names: new Map(),
        displayBytes: undefined,
        owners: new OwnerIndex<P, Ownership<P>>(),
        complete: 0,
      };
      this.#files.set(key, file);
    }
    if (have === COMPLETE) file.complete++;
    const o: Ownership<P> = {
      peer,
      file,
      name,
      have,
      rateKey: peer.rateKey,
      lastAssigned: -Infinity,
      tie: this.#random(),
      rated: false,
      heapIndex: -1,
    };
    peer.files.set(key, o);
    peer.names.set(name, o);
    this.#addName(file, name);
    file.owners.insert(o, unitRateKey(now, this.#rateTauMs));
    return replaced;
  }

  /**
   * Removes one ownership; a content left without owners is forgotten.
   *
   * @param peer the owner
   * @param o one of its ownerships
   */
  drop(peer: P, o: Ownership<P>): void {
    const file = o.file;
    file.owners.remove(o);
    if (o.have === COMPLETE) file.complete--;
    peer.files.delete(file.key);
    if (peer.names.get(o.name) === o) peer.names.delete(o.name);
    this.#removeName(file, o.name);
    if (file.owners.size === 0) this.#files.delete(file.key);
  }

  /**
   * Removes every ownership of a peer.
   *
   * @param peer the owner
   */
  dropAll(peer: P): void {
    for (const o of [...peer.files.values()]) this.drop(peer, o);
  }

  /**
   * Re-ranks every content of a peer under its new rate key and stores the key on the peer.
   *
   * @param peer the owner
   * @param rateKey its new rate key
   * @param now the current time in ms
   */
  rerate(peer: P, rateKey: number, now: number): void {
    const floor = unitRateKey(now, this.#rateTauMs);
    for (const o of peer.files.values()) {
      o.file.owners.remove(o);
      o.rateKey = rateKey;
      o.file.owners.insert(o, floor);
    }
    peer.rateKey = rateKey;
  }

  /**
   * Finds the content a NEED asks for. By name: the content most owners other than the asker
   * announce under that name; ties go to the smallest content id.
   *
   * @param want the name, or the content id's hex
   * @param byName whether `want` is a name
   * @param asker the asking peer (its own ownership does not count)
   * @returns the content, the number of other contents with the name, and whether it is known
   *   (an object reused by the next call)
   */
  lookup(want: string, byName: boolean, asker: P): Readonly<FileLookup<P>> {
    const r = this.#lookup;
    r.file = undefined;
    r.alternatives = 0;
    r.known = false;
    if (!byName) {
      r.file = this.#files.get(want);
      r.known = r.file !== undefined;
      return r;
    }
    const candidates = this.#byName.get(want);
    if (candidates === undefined) return r;
    r.known = true;
    let best = -1;
    let file: FileRecord<P> | undefined;
    for (const f of candidates) {
      const mine = asker.files.get(f.key);
      const n = (f.names.get(want) ?? 0) - (mine !== undefined && mine.name === want ? 1 : 0);
      if (n > best || (n === best && file !== undefined && f.key < file.key)) {
        best = n;
        file = f;
      }
    }
    r.file = best <= 0 ? undefined : file;
    r.alternatives = candidates.size - 1;
    return r;
  }

  /**
   * Picks up to `k` owners of a content, best first, leaving out the asker, and records the
   * hand-outs so equal owners take turns.
   *
   * @param file the content
   * @param k how many owners at most
   * @param asker the asking peer
   * @param now the current time in ms
   * @param out receives the owners (cleared first)
   * @param skip owners the asker asked to leave out
   * @param mix places of the `k` that go to owners drawn at random (see `OwnerIndex.select`)
   * @param partial whether partial owners may be picked: then the ranking picks the best half
   *   among all owners and the rest are drawn at random from the others (so a swarm's downloaders
   *   spread over its partial owners; this path allocates, O(owners)), and a reply with no
   *   complete owner gets the best complete one (if any, and not the asker) in place of its
   *   last; otherwise only complete owners are picked
   * @returns the number of owners picked
   */
  select(
    file: FileRecord<P>,
    k: number,
    asker: P,
    now: number,
    out: Ownership<P>[],
    skip?: ReadonlySet<P>,
    mix = 0,
    partial = false,
  ): number {
    const floor = unitRateKey(now, this.#rateTauMs);
    const owners = file.owners;
    if (!partial || file.complete === file.owners.size) {
      if (file.complete === 0) return (out.length = 0);
      const accept = partial ? undefined : isComplete;
      return owners.select(k, asker, floor, this.#random, out, skip, mix, accept);
    }
    // The best half by the ranking, the rest at random among the others: every downloader asks
    // partial owners, and the same few best-ranked ones for all would leave the others idle
    // (this already draws more at random than `mix` asks for)
    const best = Math.ceil(k / 2);
    let n = owners.select(best, asker, floor, this.#random, out, skip);
    if (n === best && owners.size > n + 1) {
      const others = owners.ranking().filter((o) =>
        o.peer !== asker && !out.includes(o) && (skip === undefined || !skip.has(o.peer))
      );
      for (let i = 0; n < k && i < others.length; i++, n++) {
        const j = i + Math.floor(this.#random() * (others.length - i));
        const o = others[j]!;
        others[j] = others[i]!;
        out.push(o);
      }
    }
    const askerComplete = asker.files.get(file.key)?.have === COMPLETE ? 1 : 0;
    if (n === 0 || file.complete - askerComplete === 0 || out.some(isComplete)) return n;
    const one = this.#one;
    owners.select(1, asker, floor, this.#random, one, skip, 0, isComplete);
    if (one.length === 1) out[n === k ? n - 1 : n] = one[0]!;
    one.length = 0;
    return out.length;
  }

  /**
   * The UTF-8 of the name most owners announce a content under (ties: the first announced).
   *
   * @param file the content
   * @returns the bytes (cached until the names change)
   */
  displayBytes(file: FileRecord<P>): Uint8Array {
    if (file.displayBytes !== undefined) return file.displayBytes;
    let best = "", n = 0;
    for (const [name, count] of file.names) {
      if (count > n) {
        best = name;
        n = count;
      }
    }
    return file.displayBytes = utf8.encode(best);
  }

  #rename(peer: P, o: Ownership<P>, name: string): void {
    if (peer.names.get(o.name) === o) peer.names.delete(o.name);
    this.#removeName(o.file, o.name);
    o.name = name;
    peer.names.set(name, o);
    this.#addName(o.file, name);
  }

  #addName(file: FileRecord<P>, name: string): void {
    file.displayBytes = undefined;
    file.names.set(name, (file.names.get(name) ?? 0) + 1);
    let set = this.#byName.get(name);
    if (set === undefined) {
      set = new Set();
      this.#byName.set(name, set);
    }
    if (!set.has(file)) this.#namesVersion++;
    set.add(file);
  }

  #removeName(file: FileRecord<P>, name: string): void {
    file.displayBytes = undefined;
    const n = (file.names.get(name) ?? 0) - 1;
    if (n > 0) {
      file.names.set(name, n);
      return;
    }
    file.names.delete(name);
    const set = this.#byName.get(name);
    if (set !== undefined) {
      if (set.delete(file)) this.#namesVersion++;
      if (set.size === 0) this.#byName.delete(name);
    }
  }
}
