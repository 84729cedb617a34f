/**
 * Content links: one line that names a file by what is verified, its content id, and carries
 * the name to save it under and its size, e.g.
 * `udpswarm:9f86d081…0a08?name=movie.mkv&size=734003200`. `share` prints one; `get` accepts
 * one. The content id is what a download verifies; the name and size in a link are hints the
 * downloader checks (the size against the verified manifest).
 * @module
 */

/** The scheme of a content link. */
export const CONTENT_LINK_SCHEME = "udpswarm:";

/** What a content link names. */
export interface ContentLink {
  /** Content id: 64 lowercase hex digits. */
  contentId: string;
  /** The name to save the file under, if the link has one. */
  name?: string;
  /** The file's size in bytes, if the link has one. */
  size?: number;
}

const HEX64 = /^[0-9a-fA-F]{64}$/;

/**
 * Writes a content link: `udpswarm:CONTENT_ID?name=NAME&size=SIZE` with the name
 * URL-encoded (so it stays one line whatever the name holds).
 *
 * @param link the content id (64 hex digits) and, optionally, the name and size
 * @returns the link
 * @throws {RangeError} the content id is not 64 hex digits, or the size not a safe integer ≥ 0
 *
 * @example A link for a shared file
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatContentLink } from "@udpswarm/udpswarm";
 *
 * const link = formatContentLink({ contentId: "ab".repeat(32), name: "my film.mkv", size: 1024 });
 * assert.equal(link, `udpswarm:${"ab".repeat(32)}?name=my%20film.mkv&size=1024`);
 * ```
 */
export function formatContentLink(link: ContentLink): string {
  if (!HEX64.test(link.contentId)) {
    throw new RangeError(
      `Cannot format a content link: the content id must be 64 hex digits, got "${link.contentId}"`,
    );
  }
  const params: string[] = [];
  if (link.name !== undefined) params.push(`name=${encodeURIComponent(link.name)}`);
  if (link.size !== undefined) {
    if (!Number.isSafeInteger(link.size) || link.size < 0) {
      throw new RangeError(
        `Cannot format a content link: the size must be an integer ≥ 0, got ${link.size}`,
      );
    }
    params.push(`size=${link.size}`);
  }
  const id = link.contentId.toLowerCase();
  return CONTENT_LINK_SCHEME + id + (params.length > 0 ? "?" + params.join("&") : "");
}

/**
 * Tells whether a string is meant as a content link (it starts with `udpswarm:`), so a caller
 * can tell a link from a file name before parsing it.
 *
 * @param text what the user gave
 * @returns true when it starts with the scheme (in any case)
 */
export function isContentLink(text: string): boolean {
  return text.slice(0, CONTENT_LINK_SCHEME.length).toLowerCase() === CONTENT_LINK_SCHEME;
}

/**
 * Reads a content link. Strict: the content id must be 64 hex digits; `name` and `size` may
 * each appear once; other parameters are ignored (for links from later versions).
 *
 * @param text the link
 * @returns the content id (lower case) and the name and size it carries
 * @throws {TypeError} not a link, a bad content id, a bad or repeated parameter
 *
 * @example Reading a link back
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseContentLink } from "@udpswarm/udpswarm";
 *
 * const link = parseContentLink(`udpswarm:${"AB".repeat(32)}?name=caf%C3%A9.txt&size=5`);
 * assert.deepEqual(link, { contentId: "ab".repeat(32), name: "café.txt", size: 5 });
 * ```
 */
export function parseContentLink(text: string): ContentLink {
  if (!isContentLink(text)) {
    throw new TypeError(`Cannot read "${text}" as a link: it does not start with udpswarm:`);
  }
  const rest = text.slice(CONTENT_LINK_SCHEME.length);
  const q = rest.indexOf("?");
  const id = q < 0 ? rest : rest.slice(0, q);
  if (!HEX64.test(id)) {
    throw new TypeError(
      `Cannot read the link: the content id must be 64 hex digits, got "${id.slice(0, 80)}"`,
    );
  }
  const link: ContentLink = { contentId: id.toLowerCase() };
  if (q < 0) return link;
  for (const part of rest.slice(q + 1).split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const key = eq < 0 ? part : part.slice(0, eq);
    const raw = eq < 0 ? "" : part.slice(eq + 1);
    if (key !== "name" && key !== "size") continue;
    if (link[key] !== undefined) {
      throw new TypeError(`Cannot read the link: "${key}" appears twice`);
    }
    if (key === "size") {
      const size = /^\d{1,16}$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(size)) {
        throw new TypeError(`Cannot read the link: size must be a whole number, got "${raw}"`);
      }
      link.size = size;
    } else {
      try {
        link.name = decodeURIComponent(raw);
      } catch {
        throw new TypeError(`Cannot read the link: the name "${raw}" is not valid URL encoding`);
      }
      if (link.name === "") throw new TypeError("Cannot read the link: the name is empty");
    }
  }
  return link;
}
