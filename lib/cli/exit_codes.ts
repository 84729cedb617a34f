/**
 * Exit codes of `peer.ts`, one per reason, so scripts can tell failures apart. The table is
 * printed by `--help` and documented in docs/CLI.md.
 * @module
 */

/** Process exit codes of `peer.ts`. */
export const ExitCode = {
  /** Success: the file was saved and verified, or the peer exited cleanly. */
  ok: 0,
  /** An unexpected error (a bug): the message says what. */
  failure: 1,
  /** Bad command line: unknown flag or command, bad flag value, missing argument. */
  usage: 2,
  /** `get`: the tracker knows no file by that name or content id. */
  notFound: 3,
  /** `get`: the file is known, but no live owner could be found. */
  noOwners: 4,
  /** `get`: every owner failed (dead, corrupt data, manifest mismatch). */
  allOwnersFailed: 5,
  /** `get`/`share`: reading or writing a local file failed (disk full, permission denied). */
  disk: 6,
  /** `get`: the output file already exists (pass `--overwrite` to replace it). */
  exists: 7,
  /** `get`: the name is unsafe (path separators, `..`, absolute) or invalid. */
  badName: 8,
  /** The tracker did not answer, or refused this peer. */
  tracker: 9,
  /** `share`: a file to share is missing or is not a regular file. */
  missingFile: 10,
  /** Interrupted by SIGINT/SIGTERM before `get` finished (the download resumes next time). */
  interrupted: 130,
} as const;

/** One of the {@link ExitCode} values. */
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** Rows of the exit-code table for `--help`: code, meaning. */
export const EXIT_CODE_HELP: readonly (readonly [number, string])[] = [
  [ExitCode.ok, "success (get: file verified and saved; share: clean exit on a signal)"],
  [ExitCode.failure, "unexpected error"],
  [ExitCode.usage, "bad command line (unknown flag or command, bad value, missing argument)"],
  [ExitCode.notFound, "get: no file of that name or content id is known to the tracker"],
  [ExitCode.noOwners, "get: the file is known but no owner is online"],
  [ExitCode.allOwnersFailed, "get: every owner failed (unreachable, bad data)"],
  [ExitCode.disk, "disk error (cannot read, write or rename a local file)"],
  [ExitCode.exists, "get: the output file already exists (use --overwrite)"],
  [ExitCode.badName, "get: unsafe or invalid file name (separators, '..', absolute path)"],
  [ExitCode.tracker, "the tracker did not answer or refused this peer"],
  [ExitCode.missingFile, "share: a file to share is missing or not a regular file"],
  [ExitCode.interrupted, "get: interrupted by SIGINT/SIGTERM (resumes on the next run)"],
];

/**
 * Maps a `TransferError` code (or a CLI-side reason) to an exit code. Unknown codes map to
 * {@link ExitCode.failure}.
 */
export function exitCodeFor(code: string | undefined): ExitCodeValue {
  switch (code) {
    case "not_found":
      return ExitCode.notFound;
    case "no_owners":
      return ExitCode.noOwners;
    case "all_owners_failed":
    case "manifest_mismatch":
    case "bad_manifest":
      return ExitCode.allOwnersFailed;
    case "disk":
    case "changed":
      return ExitCode.disk;
    case "exists":
      return ExitCode.exists;
    case "bad_name":
      return ExitCode.badName;
    case "tracker":
    case "tracker_unreachable":
    case "tracker_error":
    case "refused":
      return ExitCode.tracker;
    case "missing_file":
      return ExitCode.missingFile;
    case "aborted":
    case "interrupted":
      return ExitCode.interrupted;
    case "usage":
      return ExitCode.usage;
    default:
      return ExitCode.failure;
  }
}
