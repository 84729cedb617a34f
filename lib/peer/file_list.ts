/**
 * A whole listing from the tracker, page after page: what `Peer.list()` returns and how it is
 * collected (the LIST / LISTING pages themselves: docs/PROTOCOL.md).
 * @module
 */
import type { ListingMessage, ListMatch } from "../wire/messages.ts";
import { toHex } from "../wire/hex.ts";

/** One file the tracker knows: a content id announced under a name. */
export interface ListedFile {
  /** The name it is announced under. */
  name: string;
  /** Content id: lowercase hex SHA-256 of the encoded manifest. */
  contentId: string;
  /** Size in bytes. */
  size: number;
  /** Peers that announced the content (complete copies). */
  owners: number;
}

/** What `Peer.list()` found. */
export interface FileList {
  /** The files, sorted by name, then content id (one entry per name and content). */
  files: ListedFile[];
  /** Entries matching the pattern on the tracker (may exceed `files.length`: see `complete`). */
  total: number;
  /** False when the listing stopped at `limit` entries (or the page cap) before its end. */
  complete: boolean;
}

/** Options for `Peer.list()`. */
export interface ListOptions {
  /**
   * How the pattern is matched: `substring` and `glob` ignore case; `exact` lists the contents
   * announced under exactly that name. @default glob when the pattern has `*` or `?`, else
   * substring
   */
  match?: ListMatch;
  /** Stop after this many files. @default 10000 */
  limit?: number;
}

/** Default of {@link ListOptions.limit}. */
export const DEFAULT_LIST_LIMIT = 10_000;

/**
 * The match kind a pattern typed by a person means: a glob when it has `*` or `?`.
 *
 * @param pattern the pattern
 * @returns `glob` or `substring`
 */
export function listMatchFor(pattern: string): ListMatch {
  return /[*?]/.test(pattern) ? "glob" : "substring";
}

/**
 * Collects a listing page by page until its end, `limit` files, or as many pages as `limit`
 * could need (a tracker that never ends a listing cannot keep the caller forever). An entry seen
 * twice (the tracker's snapshot moved between two pages) is kept once.
 *
 * @param page fetches the page at a cursor
 * @param limit stop after this many files
 * @returns the files, the tracker's total and whether the listing was complete
 *
 * @example Two pages
 * ```ts
 * import assert from "node:assert/strict";
 * import { collectFileList } from "./file_list.ts";
 *
 * const entry = (name: string) => ({ contentId: new Uint8Array(32), size: 1, owners: 1, name });
 * const pages = [
 *   { type: "listing", txid: 1, total: 2, nextCursor: 1, entries: [entry("a")] },
 *   { type: "listing", txid: 2, total: 2, nextCursor: 0, entries: [entry("b")] },
 * ] as const;
 * const list = await collectFileList((cursor) => Promise.resolve({ ...pages[cursor]!, entries: [...pages[cursor]!.entries] }), 100);
 * assert.deepEqual(list.files.map((f) => f.name), ["a", "b"]);
 * assert.equal(list.complete, true);
 * ```
 */
export async function collectFileList(
  page: (cursor: number) => Promise<ListingMessage>,
  limit: number = DEFAULT_LIST_LIMIT,
): Promise<FileList> {
  const files: ListedFile[] = [];
  const seen = new Set<string>();
  let cursor = 0, total = 0, pages = 0;
  const maxPages = limit + 1;
  do {
    const reply = await page(cursor);
    pages++;
    total = reply.total;
    for (const e of reply.entries) {
      const contentId = toHex(e.contentId);
      const key = contentId + "/" + e.name;
      if (seen.has(key)) continue;
      seen.add(key);
      if (files.length >= limit) return { files, total, complete: false };
      files.push({ name: e.name, contentId, size: e.size, owners: e.owners });
    }
    // A cursor that does not move on would loop: the tracker is broken; stop.
    if (reply.nextCursor !== 0 && reply.nextCursor <= cursor) break;
    cursor = reply.nextCursor;
  } while (cursor !== 0 && files.length < limit && pages < maxPages);
  return { files, total, complete: cursor === 0 };
}
