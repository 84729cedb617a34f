/**
 * The rule for file names that travel on the wire (OWN, OWNERS), shared by the tracker (which
 * refuses such names in OWN) and the peer (`lib/peer/safe_name.ts`, before a name touches the
 * file system): one path component, well-formed UTF-8 of 1..255 bytes, no control, line-break,
 * bidirectional or invisible characters, not a device name reserved on Windows, and not the
 * peer's own `.udpswarm` directory.
 * @module
 */
import { MAX_NAME_BYTES } from "./limits.ts";

/**
 * Characters no name may hold: C0 and C1 controls and DEL; U+2028/U+2029 (line and paragraph
 * separators: a line break to many readers); the bidirectional marks and overrides, U+061C
 * included, that can make "evil\u202Etxt.exe" display as "evilexe.txt"; and the zero-width and
 * invisible characters (U+200B..U+200D, U+2060..U+2064, U+FEFF, U+00AD) that make two different
 * names look the same.
 */
export const FORBIDDEN_NAME_CHARS: RegExp =
  // deno-lint-ignore no-control-regex
  /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/u;

const FORBIDDEN_ALL = new RegExp(FORBIDDEN_NAME_CHARS.source, "gu");
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)(\..*)?$/i;
const encoder = new TextEncoder();

/** The directory a peer keeps its manifest cache in, inside the directory it shares from. */
export const RESERVED_DIR_NAME = ".udpswarm";

/**
 * Why a name cannot be a shared file's name, or undefined when it can.
 *
 * @param name the name from the network or the user
 * @returns the reason (a phrase after "Cannot use name X: "), or undefined
 *
 * @example
 * ```ts
 * import { fileNameProblem } from "./file_name.ts";
 * console.log(fileNameProblem("song.mp3")); // undefined
 * console.log(fileNameProblem("CON")); // "it is a reserved device name on Windows"
 * ```
 */
export function fileNameProblem(name: string): string | undefined {
  if (name.length === 0) return "it is empty";
  if (!name.isWellFormed()) return "it is not well-formed Unicode";
  if (name.includes("/") || name.includes("\\")) return "it contains a path separator";
  if (name === "." || name === "..") return "it names a directory, not a file";
  const bad = FORBIDDEN_NAME_CHARS.exec(name);
  if (bad) {
    const cp = bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0");
    return `it contains the control or invisible character U+${cp}`;
  }
  const bytes = encoder.encode(name).byteLength;
  if (bytes > MAX_NAME_BYTES) return `it is ${bytes} bytes, at most ${MAX_NAME_BYTES} allowed`;
  if (WINDOWS_RESERVED.test(name)) return "it is a reserved device name on Windows";
  if (name.toLowerCase() === RESERVED_DIR_NAME) {
    return `${RESERVED_DIR_NAME} is the peer's own cache directory`;
  }
  return undefined;
}

/**
 * JSON-quotes a name for a message, with every forbidden character as a `\u` escape, shortened
 * to 80 characters so a hostile name cannot flood a log.
 *
 * @param name the name
 * @returns the quoted text
 */
export function quoteName(name: unknown): string {
  const s = JSON.stringify(String(name)).replace(
    FORBIDDEN_ALL,
    (c) => `\\u${c.codePointAt(0)!.toString(16).padStart(4, "0")}`,
  );
  return s.length > 80 ? `${s.slice(0, 76)}…"` : s;
}
