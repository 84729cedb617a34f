/**
 * Early checks on what a user asks to download (a name, a content id or a `udpswarm:` link), so
 * an unsafe name or a broken link fails before any network traffic. Uses the engine's own rule (`safeName`), which checks again on the way in.
 * @module
 */
import { safeName } from "../peer/safe_name.ts";
import { isContentLink, parseContentLink } from "../peer/content_link.ts";

/** A content id: 64 hex digits. */
export const CONTENT_ID_PATTERN = /^[0-9a-fA-F]{64}$/;

/**
 * Checks a download query (a file name or a content id).
 *
 * @param query What the user typed.
 * @returns Undefined when acceptable, else a one-line reason.
 */
export function checkDownloadQuery(query: string): string | undefined {
  if (CONTENT_ID_PATTERN.test(query)) return undefined;
  try {
    safeName(query);
    return undefined;
  } catch (e) {
    // "Cannot use name "x": it contains a path separator" → "it contains a path separator"
    const message = e instanceof Error ? e.message : String(e);
    return message.replace(/^Cannot use name[^:]*: /, "");
  }
}

/** What to download, once a query (name, content id or link) is read. */
export interface DownloadTarget {
  /** The name or content id to ask the tracker for. */
  query: string;
  /** True when `query` is a name (resolved by the tracker), false for a content id. */
  byName: boolean;
  /** A link's name: the file is saved under it. */
  saveAs?: string;
  /** A link's size: checked against the verified manifest. */
  expectedSize?: number;
}

/**
 * Reads a download query: a `udpswarm:` link, a content id or a name, checked like
 * {@link checkDownloadQuery} (a link's name too).
 *
 * @param query What the user typed.
 * @returns The target, or a one-line reason it is unusable.
 */
export function readDownloadTarget(query: string): DownloadTarget | { error: string } {
  if (!isContentLink(query)) {
    const bad = checkDownloadQuery(query);
    if (bad !== undefined) return { error: bad };
    return { query, byName: !CONTENT_ID_PATTERN.test(query) };
  }
  let link;
  try {
    link = parseContentLink(query);
  } catch (e) {
    return { error: (e instanceof Error ? e.message : String(e)).replace(/^Cannot read /, "") };
  }
  if (link.name !== undefined) {
    const bad = checkDownloadQuery(link.name);
    if (bad !== undefined) return { error: `the link's name is unusable: ${bad}` };
  }
  return {
    query: link.contentId,
    byName: false,
    ...(link.name !== undefined ? { saveAs: link.name } : {}),
    ...(link.size !== undefined ? { expectedSize: link.size } : {}),
  };
}
