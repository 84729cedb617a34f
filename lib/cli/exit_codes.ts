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
  /** `get`: the name maps to more than one content; choose one by content id or link. */
  ambiguous: 11,
  /** Interrupted by SIGINT/SIGTERM before `get` finished (the download resumes next time). */
  interrupted: 130,
} as const;

/** One of the {@link ExitCode} values. */
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** Name of an exit code: a key of {@link ExitCode}. */
type ExitCodeName = keyof typeof ExitCode;

/** The meaning of each exit code, as `--help` prints it. */
const HELP: Record<ExitCodeName, string> = {
  ok: "success (get: file verified and saved; share: clean exit on a signal)",
  failure: "unexpected error",
  usage: "bad command line (unknown flag or command, bad value, missing argument)",
  notFound: "get: no file of that name or content id is known to the tracker",
  noOwners: "get: the file is known but no owner is online",
  allOwnersFailed: "get: every owner failed (unreachable, bad data)",
  disk: "disk error (cannot read, write or rename a local file)",
  exists: "get: the output file already exists (use --overwrite)",
  badName: "get: unsafe or invalid file name (separators, '..', absolute path)",
  tracker: "the tracker did not answer or refused this peer",
  missingFile: "share: a file to share is missing or not a regular file",
  ambiguous: "get: several contents share that name; get one by content id or link",
  interrupted: "get: interrupted by SIGINT/SIGTERM (resumes on the next run)",
};

/** The reason codes (`TransferError` codes and CLI reasons) each exit code stands for. */
const REASONS: Partial<Record<ExitCodeName, readonly string[]>> = {
  usage: ["usage"],
  notFound: ["not_found"],
  noOwners: ["no_owners"],
  allOwnersFailed: ["all_owners_failed", "manifest_mismatch", "bad_manifest", "size_mismatch"],
  disk: ["disk", "changed"],
  exists: ["exists"],
  badName: ["bad_name"],
  tracker: ["tracker", "tracker_unreachable", "tracker_error", "refused"],
  missingFile: ["missing_file"],
  ambiguous: ["ambiguous"],
  interrupted: ["aborted", "interrupted"],
};

const NAMES = Object.keys(ExitCode) as ExitCodeName[];

const BY_REASON = new Map<string, ExitCodeValue>(
  NAMES.flatMap((name) => (REASONS[name] ?? []).map((reason) => [reason, ExitCode[name]])),
);

/** Rows of the exit-code table for `--help`: code, meaning, in increasing code order. */
export const EXIT_CODE_HELP: readonly (readonly [number, string])[] = NAMES.map(
  (name) => [ExitCode[name], HELP[name]] as const,
);

/**
 * Maps a `TransferError` code (or a CLI-side reason) to an exit code. Unknown codes map to
 * {@link ExitCode.failure}.
 *
 * @param code The reason code, or undefined.
 * @returns The process exit code for it.
 */
export function exitCodeFor(code: string | undefined): ExitCodeValue {
  return (code === undefined ? undefined : BY_REASON.get(code)) ?? ExitCode.failure;
}
