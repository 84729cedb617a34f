/**
 * Checks file names that come from the network (or from a user's `saveAs`) before they touch the
 * file system.
 * @module
 */
import { MAX_NAME_BYTES } from "../wire/limits.ts";
import { TransferError } from "./transfer_error.ts";

/** Options for {@link safeName}. */
export interface SafeNameOptions {
  /**
   * Apply the stricter Windows rules too (reserved device names, `<>:"|?*`, trailing dot or
   * space). @default Deno.build.os === "windows"
   */
  windows?: boolean;
}

const encoder = new TextEncoder();
// C0 and C1 controls, DEL, and the bidirectional formatting characters that can make
// "evil\u202Etxt.exe" display as "evilexe.txt".
// deno-lint-ignore no-control-regex
const FORBIDDEN_CHARS = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;
const FORBIDDEN_CHARS_ALL = new RegExp(FORBIDDEN_CHARS.source, "gu");
const WINDOWS_CHARS = /[<>:"|?*]/;
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)(\..*)?$/i;

/**
 * Returns `name` unchanged when it is safe to use as one file name inside a directory, or throws.
 *
 * Safe means: a single path component (no `/` or `\`), not `.` or `..`, not empty, at most 255
 * bytes of well-formed UTF-8, and no control or bidirectional-override characters. Because
 * separators are refused, a name can never be absolute or climb out of the directory; a name
 * that merely contains two dots (`v1..2.txt`) is an ordinary name and is accepted. With
 * `windows`, reserved device names (`CON`, `nul.txt`, …), `<>:"|?*` and a trailing dot or
 * space are refused as well.
 *
 * @param name a file name from the network or the user
 * @param options platform rules
 * @returns the same name
 * @throws {TransferError} code `bad_name`, with the reason
 *
 * @example Refusing a path traversal
 * ```ts
 * import { safeName } from "./safe_name.ts";
 * console.log(safeName("report.pdf")); // "report.pdf"
 * try {
 *   safeName("../../etc/passwd");
 * } catch (e) {
 *   console.log((e as Error).message); // Cannot use name "../../etc/passwd": it contains a path separator
 * }
 * ```
 */
export function safeName(name: string, options: SafeNameOptions = {}): string {
  const windows = options.windows ?? Deno.build.os === "windows";
  const fail = (why: string): never => {
    throw new TransferError("bad_name", `Cannot use name ${quote(name)}: ${why}`);
  };
  if (typeof name !== "string") {
    throw new TransferError("bad_name", `Cannot use name: expected a string, got ${typeof name}`);
  }
  if (name.length === 0) fail("it is empty");
  if (!name.isWellFormed()) fail("it is not well-formed Unicode");
  if (name.includes("/") || name.includes("\\")) fail("it contains a path separator");
  if (name === "." || name === "..") fail("it names a directory, not a file");
  const bad = FORBIDDEN_CHARS.exec(name);
  if (bad) {
    const cp = bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0");
    fail(`it contains the control character U+${cp}`);
  }
  const bytes = encoder.encode(name).byteLength;
  if (bytes > MAX_NAME_BYTES) fail(`it is ${bytes} bytes, at most ${MAX_NAME_BYTES} allowed`);
  if (windows) {
    if (WINDOWS_CHARS.test(name)) fail('it contains one of <>:"|?*');
    if (/[. ]$/.test(name)) fail("it ends with a dot or a space");
    if (WINDOWS_RESERVED.test(name)) fail("it is a reserved device name on Windows");
  }
  return name;
}

/** JSON-quotes a name for an error message, shortened so a hostile name cannot flood a log. */
function quote(name: unknown): string {
  const s = JSON.stringify(String(name)).replace(
    FORBIDDEN_CHARS_ALL,
    (c) => `\\u${c.codePointAt(0)!.toString(16).padStart(4, "0")}`,
  );
  return s.length > 80 ? `${s.slice(0, 76)}…"` : s;
}
