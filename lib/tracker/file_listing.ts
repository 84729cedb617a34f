/**
 * The LIST rule's data side: pages of (name, content) entries from a {@link ListingSource}
 * (the memory store),
 * sorted by name then content id, filtered by a pattern (name_pattern.ts) and cut to a byte
 * budget. Pure: the caller passes the time.
 *
 * Substring and glob listings page through a sorted snapshot of every (name, content) pair,
 * rebuilt when the names changed and at most once per `refreshMs` (so a busy tracker sorts at
 * most once a second, whatever the LIST rate), and the matches of the last few patterns are kept
 * per snapshot, so paging costs what the page holds. An exact listing reads the live index (one
 * name's contents): it is what a downloader asks when a name is ambiguous, and must not miss a
 * content announced a moment ago. Rules: docs/TRACKER.md.
 * @module
 */
import type { ListingEntry, ListMatch } from "../wire/messages.ts";
import { LISTING_ENTRY_BASE_SIZE, LISTING_HEADER_SIZE, MAX_LIST_ENTRIES } from "../wire/limits.ts";
import { compileNamePattern } from "./name_pattern.ts";
import { utf8Length } from "./error_reply.ts";

/** What a LIST asks for. */
export interface ListQuery {
  /** The pattern. */
  pattern: string;
  /** How it is matched. */
  match: ListMatch;
  /** Position of the first entry wanted: 0, or a previous page's `nextCursor`. */
  cursor: number;
  /** At most this many entries; 0: as many as fit. */
  maxEntries: number;
}

/** One page of a listing. */
export interface ListingPage {
  /** Entries matching the pattern in the whole listing. */
  total: number;
  /** Where the next page starts; 0 when this one is the last. */
  nextCursor: number;
  /** This page's entries. */
  entries: ListingEntry[];
}

/**
 * One page of a listing, the rule both listings (this one and store_listing.ts) page by: from
 * `query.cursor`, the entries of positions `0..total` in order (row `matches[at]`, or row `at`
 * without `matches`), at most `query.maxEntries` (0: {@link MAX_LIST_ENTRIES}) and as many as
 * fit in `maxBytes` once encoded; `nextCursor` is 0 on the last page.
 *
 * @param query the cursor and the entry cap
 * @param maxBytes the LISTING's size limit in bytes
 * @param total positions in the listing
 * @param matches the row of each position (none: position = row)
 * @param entryAt the entry of a row, or undefined to skip it (gone since the snapshot)
 * @returns the page
 */
export function fillPage(
  query: Pick<ListQuery, "cursor" | "maxEntries">,
  maxBytes: number,
  total: number,
  matches: Uint32Array | undefined,
  entryAt: (row: number) => ListingEntry | undefined,
): ListingPage {
  const cap = Math.min(
    query.maxEntries === 0 ? MAX_LIST_ENTRIES : query.maxEntries,
    MAX_LIST_ENTRIES,
  );
  const entries: ListingEntry[] = [];
  let bytes = LISTING_HEADER_SIZE;
  let at = query.cursor;
  for (; at < total && entries.length < cap; at++) {
    const entry = entryAt(matches === undefined ? at : matches[at]!);
    if (entry === undefined) continue;
    const size = LISTING_ENTRY_BASE_SIZE + utf8Length(entry.name);
    if (bytes + size > maxBytes) break;
    bytes += size;
    entries.push(entry);
  }
  return { total, nextCursor: at < total ? at : 0, entries };
}

/** Options for {@link FileListing}. */
export interface FileListingOptions {
  /**
   * The snapshot of names is rebuilt at most this often, ms; a large snapshot waits longer
   * (one more ms per {@link FileListingOptions.rowsPerRefreshMs} entries). @default 1000
   */
  refreshMs?: number;
  /** Entries per extra ms of refresh interval (100,000 entries: 5 s). @default 20 */
  rowsPerRefreshMs?: number;
  /** Patterns whose matches are kept per snapshot. @default 8 */
  cachedPatterns?: number;
  /**
   * Names matched per second for patterns not in the cache, all sources together: past it a
   * LIST with a new pattern is refused as busy (a flood of distinct patterns cannot take the
   * tracker's CPU). @default 250000
   */
  scanPerSecond?: number;
}

/**
 * What a {@link FileListing} reads: the (name, content) pairs of an index, a content named by
 * its 32 bytes as a one-byte string (which sorts as the bytes do). `MemoryStore` is one.
 */
export interface ListingSource {
  /** Changes whenever a name gains or loses a content. */
  readonly namesVersion: number;
  /** Calls `f` for every (name, content) pair. */
  forEachNamed(f: (name: string, content: string) => void): void;
  /** The contents announced under one name. */
  contentsNamed(name: string): string[];
  /** The size and owner count of a content still announced under a name, else undefined. */
  namedEntry(name: string, content: string): { size: number; owners: number } | undefined;
}

interface Row {
  readonly name: string;
  readonly content: string;
}

function byNameThenKey(a: Row, b: Row): number {
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  return a.content < b.content ? -1 : a.content > b.content ? 1 : 0;
}

function contentBytes(content: string): Uint8Array {
  const b = new Uint8Array(content.length);
  for (let i = 0; i < b.length; i++) b[i] = content.charCodeAt(i);
  return b;
}

/** Pages of the files a tracker knows. */
export class FileListing {
  readonly #index: ListingSource;
  readonly #refreshMs: number;
  readonly #cachedPatterns: number;
  readonly #rowsPerRefreshMs: number;
  readonly #scanPerSecond: number;
  /** Names that may still be scanned now (a token bucket of one second's worth). */
  #scanTokens: number;
  #scanAt = -Infinity;
  #rows: Row[] = [];
  #version = -1;
  #builtAt = -Infinity;
  /** Matches of recent patterns in the current snapshot (insertion order = age). */
  readonly #matches = new Map<string, Uint32Array>();

  /**
   * @param index the tracker's (name, content) pairs
   * @param options snapshot refresh and pattern cache
   */
  constructor(index: ListingSource, options: FileListingOptions = {}) {
    this.#index = index;
    this.#refreshMs = options.refreshMs ?? 1000;
    this.#cachedPatterns = options.cachedPatterns ?? 8;
    this.#rowsPerRefreshMs = options.rowsPerRefreshMs ?? 20;
    this.#scanPerSecond = options.scanPerSecond ?? 250_000;
    this.#scanTokens = this.#scanPerSecond;
  }

  /**
   * One page of the entries matching a query, at most `maxBytes` once encoded as a LISTING
   * (at least one entry when any is left and `maxBytes` holds the largest, 317 bytes).
   *
   * @param query pattern, match kind, cursor and entry cap
   * @param maxBytes the LISTING's size limit in bytes
   * @param now the current time in ms
   * @returns the page, or `"busy"` when a new pattern would exceed the scan budget
   *
   * @example List two files, one page of one entry at a time
   * ```ts
   * import assert from "node:assert/strict";
   * import { MemoryStore } from "./store/memory_store.ts";
   * import { FileListing } from "./file_listing.ts";
   *
   * const store = new MemoryStore();
   * const from = { hostname: "127.0.0.1", port: 4000 };
   * store.join("alice", from, 0, 10);
   * store.own("alice", from, 0, "b.iso", "02".repeat(32), 20, 10);
   * store.own("alice", from, 0, "a.iso", "01".repeat(32), 10, 10);
   * const listing = new FileListing(store);
   * const first = listing.page({ pattern: "ISO", match: "substring", cursor: 0, maxEntries: 1 }, 1200, 0);
   * assert.ok(first !== "busy"); // only a flood of new patterns makes it busy
   * assert.deepEqual(first.entries.map((e) => e.name), ["a.iso"]);
   * assert.equal(first.total, 2);
   * const second = listing.page({ pattern: "ISO", match: "substring", cursor: first.nextCursor, maxEntries: 1 }, 1200, 0);
   * assert.ok(second !== "busy");
   * assert.deepEqual(second.entries.map((e) => [e.name, e.size, e.owners]), [["b.iso", 20, 1]]);
   * assert.equal(second.nextCursor, 0); // the last page
   * ```
   */
  page(query: ListQuery, maxBytes: number, now: number): ListingPage | "busy" {
    const rows = query.match === "exact" ? this.#exact(query.pattern) : this.#rows_(now);
    const matches = query.match === "exact" ? undefined : this.#matching(query, rows, now);
    if (matches === "busy") return "busy";
    const total = matches === undefined ? rows.length : matches.length;
    return fillPage(query, maxBytes, total, matches, (i) => {
      const row = rows[i]!;
      // The snapshot may be up to refreshMs old: skip what left the index since.
      const live = this.#index.namedEntry(row.name, row.content);
      if (live === undefined) return undefined;
      return {
        contentId: contentBytes(row.content),
        size: live.size,
        owners: Math.min(live.owners, 0xffffffff),
        name: row.name,
      };
    });
  }

  /** The sorted snapshot, rebuilt when the names changed and the last build is old enough. */
  #rows_(now: number): Row[] {
    const version = this.#index.namesVersion;
    const interval = this.#refreshMs + Math.floor(this.#rows.length / this.#rowsPerRefreshMs);
    if (version !== this.#version && now - this.#builtAt >= interval) {
      const rows: Row[] = [];
      this.#index.forEachNamed((name, content) => rows.push({ name, content }));
      rows.sort(byNameThenKey);
      this.#rows = rows;
      this.#version = version;
      this.#builtAt = now;
      this.#matches.clear();
    }
    return this.#rows;
  }

  /** Positions of the rows matching a substring or glob query (cached per snapshot). */
  #matching(
    query: ListQuery,
    rows: readonly Row[],
    now: number,
  ): Uint32Array | undefined | "busy" {
    if (query.match === "substring" && query.pattern === "") return undefined;
    const key = query.match + "\0" + query.pattern;
    let found = this.#matches.get(key);
    if (found !== undefined) {
      this.#matches.delete(key); // refreshed: now the youngest
      this.#matches.set(key, found);
      return found;
    }
    // The scan budget: refilled continuously, one second's worth at most; a scan larger than
    // the whole budget runs when the bucket is full (and empties it).
    const rate = this.#scanPerSecond;
    this.#scanTokens = Math.min(rate, this.#scanTokens + (now - this.#scanAt) * rate / 1000);
    this.#scanAt = now;
    if (this.#scanTokens < Math.min(rows.length, rate)) return "busy";
    this.#scanTokens -= rows.length;
    const matcher = compileNamePattern(query.pattern, query.match);
    const hits: number[] = [];
    let previous: string | undefined, hit = false;
    for (let i = 0; i < rows.length; i++) {
      const name = rows[i]!.name;
      if (name !== previous) {
        hit = matcher(name);
        previous = name;
      }
      if (hit) hits.push(i);
    }
    found = Uint32Array.from(hits);
    if (this.#matches.size >= this.#cachedPatterns) {
      this.#matches.delete(this.#matches.keys().next().value!);
    }
    this.#matches.set(key, found);
    return found;
  }

  /** The live contents announced under exactly `name`, by content id. */
  #exact(name: string): Row[] {
    const rows = this.#index.contentsNamed(name).map((content) => ({ name, content }));
    return rows.sort(byNameThenKey);
  }
}
