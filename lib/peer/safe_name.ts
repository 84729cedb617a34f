/**
 * Checks file names that come from the network (or from a user's `saveAs`) before they touch the
 * file system.
 * @module
 */
import { fileNameProblem, quoteName } from "../wire/file_name.ts";
import { TransferError } from "./transfer_error.ts";

/** Options for {@link safeName}. */
export interface SafeNameOptions {
  /**
   * Apply the stricter Windows rules too (`<>:"|?*`, a trailing dot or space; reserved device
   * names are refused everywhere). @default Deno.build.os === "windows"
   */
  windows?: boolean;
}

const WINDOWS_CHARS = /[<>:"|?*]/;

/**
 * Returns `name` unchanged when it is safe to use as one file name inside a directory, or throws.
 *
 * Safe means what `fileNameProblem` (lib/wire/file_name.ts, the rule the tracker applies to OWN
 * too) accepts: a single path component (no `/` or `\`), not `.` or `..`, not empty, at most 255
 * bytes of well-formed UTF-8, no control, line-break, bidirectional or invisible characters, not
 * a device name reserved on Windows (`CON`, `nul.txt`, …, on every platform: the file may be
 * passed on to a Windows peer) and not `.udpswarm`. Because separators are refused, a name can
 * never be absolute or climb out of the directory; a name that merely contains two dots
 * (`v1..2.txt`) is an ordinary name and is accepted. With `windows`, `<>:"|?*` and a trailing
 * dot or space are refused as well.
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
    throw new TransferError("bad_name", `Cannot use name ${quoteName(name)}: ${why}`);
  };
  if (typeof name !== "string") {
    throw new TransferError("bad_name", `Cannot use name: expected a string, got ${typeof name}`);
  }
  const problem = fileNameProblem(name);
  if (problem !== undefined) fail(problem);
  if (windows) {
    if (WINDOWS_CHARS.test(name)) fail('it contains one of <>:"|?*');
    if (/[. ]$/.test(name)) fail("it ends with a dot or a space");
  }
  return name;
}
