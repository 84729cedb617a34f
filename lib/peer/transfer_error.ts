/**
 * The one error class that callers of the transfer side (share, download, disk state) catch.
 * @module
 */

/**
 * Why a transfer or a disk operation failed.
 *
 * - `disk`: the disk refused (full, read-only, permission denied, I/O error); any `.part` is
 *   kept so the download resumes.
 * - `not_found`: a file, directory or content that was asked for does not exist.
 * - `no_owners`: nobody shares the content.
 * - `all_owners_failed`: every owner went away or sent bad data.
 * - `exists`: the target file exists and overwriting was not asked for.
 * - `bad_name`: a file name from the network (or the user) is unsafe.
 * - `bad_manifest`: a manifest does not match its content id or is malformed.
 * - `changed`: a shared file changed on disk while it was hashed or served.
 * - `aborted`: the operation was cancelled.
 * - `ambiguous`: a name asked for maps to more than one content; choose one by content id.
 * - `size_mismatch`: the content's verified manifest has another size than the one expected
 *   (a link's `size`).
 */
export type TransferErrorCode =
  | "disk"
  | "not_found"
  | "no_owners"
  | "all_owners_failed"
  | "exists"
  | "bad_name"
  | "bad_manifest"
  | "changed"
  | "aborted"
  | "ambiguous"
  | "size_mismatch";

/**
 * A transfer failed in a way the user can act on. `message` says what to do.
 *
 * @example Telling "nobody shares it" from a disk problem
 * ```ts
 * import assert from "node:assert/strict";
 * import { startPeer, startTracker, TransferError } from "@udpswarm/udpswarm";
 *
 * const dir = await Deno.makeTempDir();
 * await using tracker = await startTracker({ port: 0 });
 * await using peer = await startPeer({ tracker: `127.0.0.1:${tracker.address.port}`, dir });
 * try {
 *   await peer.download("nobody-has-this.bin").done;
 *   assert.fail("expected a TransferError");
 * } catch (e) {
 *   assert(e instanceof TransferError);
 *   assert.equal(e.code, "not_found"); // "disk": full or read-only; "exists": pass `overwrite`
 * }
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class TransferError extends Error {
  /** Machine-readable reason. */
  readonly code: TransferErrorCode;

  /**
   * Creates a transfer error.
   *
   * @param code machine-readable reason
   * @param message what failed, the current value, and what to do about it
   * @param options the underlying error, if any
   */
  constructor(code: TransferErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TransferError";
    this.code = code;
  }
}

/**
 * Wraps a file-system error from `node:fs` or `Deno.*` into a {@link TransferError} with an
 * actionable message. `NotFound`/`ENOENT` becomes `not_found`, `AlreadyExists`/`EEXIST` becomes
 * `exists`, everything else (ENOSPC, EACCES, EROFS, EIO, …) becomes `disk`.
 *
 * @param action what was being done, e.g. `"Cannot write piece 3 to /d/x.part"`
 * @param e the caught error
 * @param hint what the user can do, appended after the reason
 * @returns the wrapped error (returned, not thrown, so callers write `throw diskError(…)`)
 */
export function diskError(action: string, e: unknown, hint = ""): TransferError {
  if (e instanceof TransferError) return e;
  const code = errnoOf(e);
  const reason = describeErrno(code, e);
  const tail = hint ? `; ${hint}` : "";
  if (code === "ENOENT" || e instanceof Deno.errors.NotFound) {
    return new TransferError("not_found", `${action}: ${reason}${tail}`, { cause: e });
  }
  if (code === "EEXIST" || e instanceof Deno.errors.AlreadyExists) {
    return new TransferError("exists", `${action}: ${reason}${tail}`, { cause: e });
  }
  return new TransferError("disk", `${action}: ${reason}${tail}`, { cause: e });
}

/** The `code` (`"ENOSPC"`, …) of a `node:fs` error, or "" when there is none. */
export function errnoOf(e: unknown): string {
  if (typeof e === "object" && e !== null && "code" in e) {
    const c = (e as { code: unknown }).code;
    if (typeof c === "string") return c;
  }
  if (e instanceof Deno.errors.NotFound) return "ENOENT";
  if (e instanceof Deno.errors.AlreadyExists) return "EEXIST";
  if (e instanceof Deno.errors.PermissionDenied) return "EACCES";
  return "";
}

function describeErrno(code: string, e: unknown): string {
  switch (code) {
    case "ENOSPC":
      return "no space left on device";
    case "EDQUOT":
      return "disk quota exceeded";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EROFS":
      return "read-only file system";
    case "ENOENT":
      return "no such file or directory";
    case "EEXIST":
      return "file exists";
    case "EISDIR":
      return "is a directory";
    case "ENOTDIR":
      return "a path component is not a directory";
    case "EIO":
      return "input/output error";
    default:
      return e instanceof Error ? e.message : String(e);
  }
}
