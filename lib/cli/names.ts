/**
 * Early checks on what a user asks to download, so an unsafe name fails before any
 * network traffic. The engine sanitizes names again; this only gives a faster, clearer error.
 * @module
 */

/** A content id: 64 hex digits. */
export const CONTENT_ID_PATTERN = /^[0-9a-fA-F]{64}$/;

/** Longest file name in UTF-8 bytes (the wire limit). */
const MAX_NAME_BYTES = 255;

/**
 * Checks a download query (a file name or a content id).
 *
 * @param query What the user typed.
 * @returns Undefined when acceptable, else a one-line reason.
 */
export function checkDownloadQuery(query: string): string | undefined {
  if (CONTENT_ID_PATTERN.test(query)) return undefined;
  if (query.length === 0) return "the name is empty";
  if (/[/\\]/.test(query)) return `"${query}" contains a path separator; give a bare file name`;
  if (query === "." || query === "..") return `"${query}" is not a file name`;
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(query)) return "the name contains control characters";
  if (new TextEncoder().encode(query).length > MAX_NAME_BYTES) {
    return `the name is longer than ${MAX_NAME_BYTES} bytes`;
  }
  return undefined;
}
