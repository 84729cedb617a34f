/**
 * Early checks on what a user asks to download, so an unsafe name fails before any network
 * traffic. Uses the engine's own rule (`safeName`), which checks again on the way in.
 * @module
 */
import { safeName } from "../peer/safe_name.ts";

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
