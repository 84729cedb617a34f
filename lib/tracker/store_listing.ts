/**
 * LIST on the store path (store_dispatch.ts): pages of (name, content) rows read from a
 * {@link SwarmStore}. Substring and glob listings page through a snapshot of the store's rows,
 * read at most once per `refreshMs` (in batches of {@link ROWS_PER_READ}, at most
 * {@link MAX_SNAPSHOT_ROWS} rows), with the matches of the last few patterns kept per snapshot;
 * an exact listing reads the name's rows from the store each time, as the memory tracker's
 * FileListing reads its live index. Same order, cursor and size rules as file_listing.ts.
 * Rules: docs/TRACKER.md, _Listing files_ and _Storage_.
 * @module
 */
import { fromHex } from "../wire/hex.ts";
import { fillPage, type ListingPage, type ListQuery } from "./file_listing.ts";
import { compileNamePattern } from "./name_pattern.ts";
import type { ListRow, SwarmStore } from "./store/swarm_store.ts";

/** Rows read from the store per call while a snapshot is built. */
export const ROWS_PER_READ = 5000;
/** A snapshot holds at most this many rows (a larger swarm lists its first ones by name). */
export const MAX_SNAPSHOT_ROWS = 200_000;

/** Pages of the files a store holds. */
export class StoreListing {
  readonly #store: SwarmStore;
  readonly #refreshMs: number;
  #rows: ListRow[] = [];
  #builtAt = -Infinity;
  #building: Promise<ListRow[]> | undefined;
  readonly #matches = new Map<string, Uint32Array>();

  /**
   * @param store the store
   * @param refreshMs the snapshot is read again at most this often, ms
   */
  constructor(store: SwarmStore, refreshMs = 1000) {
    this.#store = store;
    this.#refreshMs = refreshMs;
  }

  /**
   * One page of the entries matching a query, at most `maxBytes` once encoded as a LISTING.
   *
   * @param query pattern, match kind, cursor and entry cap
   * @param maxBytes the LISTING's size limit in bytes
   * @param now the current time in ms
   * @returns the page
   */
  async page(query: ListQuery, maxBytes: number, now: number): Promise<ListingPage> {
    const exact = query.match === "exact";
    const rows = exact
      ? await this.#store.listRows(undefined, MAX_SNAPSHOT_ROWS, query.pattern)
      : await this.#snapshot(now);
    const matches = exact || (query.match === "substring" && query.pattern === "")
      ? undefined
      : this.#matching(query, rows);
    const total = matches === undefined ? rows.length : matches.length;
    return fillPage(query, maxBytes, total, matches, (i) => {
      const row = rows[i]!;
      return {
        contentId: fromHex(row.contentKey)!,
        size: row.size,
        owners: Math.min(row.owners, 0xffffffff),
        name: row.name,
      };
    });
  }

  async #snapshot(now: number): Promise<ListRow[]> {
    if (now - this.#builtAt < this.#refreshMs) return this.#rows;
    this.#building ??= (async () => {
      const rows: ListRow[] = [];
      let after: ListRow | undefined;
      for (;;) {
        const batch = await this.#store.listRows(after, ROWS_PER_READ);
        rows.push(...batch);
        if (batch.length < ROWS_PER_READ || rows.length >= MAX_SNAPSHOT_ROWS) break;
        after = batch[batch.length - 1];
      }
      return rows.slice(0, MAX_SNAPSHOT_ROWS);
    })().finally(() => this.#building = undefined);
    this.#rows = await this.#building;
    this.#builtAt = now;
    this.#matches.clear();
    return this.#rows;
  }

  #matching(query: ListQuery, rows: readonly ListRow[]): Uint32Array {
    const key = query.match + "\0" + query.pattern;
    let found = this.#matches.get(key);
    if (found !== undefined) return found;
    const matcher = compileNamePattern(query.pattern, query.match);
    const hits: number[] = [];
    for (let i = 0; i < rows.length; i++) if (matcher(rows[i]!.name)) hits.push(i);
    found = Uint32Array.from(hits);
    if (this.#matches.size >= 8) this.#matches.delete(this.#matches.keys().next().value!);
    this.#matches.set(key, found);
    return found;
  }
}
