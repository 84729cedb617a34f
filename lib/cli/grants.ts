/**
 * Which Deno permission grants a `peer.ts` run is missing, and the exact `deno run` command
 * that has them. `deno task peer` grants the network, read everywhere (the user names what to
 * share; the uploader serves only the content ids shared explicitly) and write on
 * `./downloads` and `./logs`; saving elsewhere needs one more write grant, which this module
 * names before any network traffic instead of letting Deno fail halfway.
 * @module
 */

/** One missing grant: the path and the flag that covers it. */
export interface MissingGrant {
  /** `read` or `write`. */
  kind: "read" | "write";
  /** The path as the user gave it. */
  path: string;
  /** What needs it, e.g. "the output directory". */
  what: string;
}

/** What {@link missingGrants} checks. */
export interface GrantNeeds {
  /** Paths written: the output directory, the log directory. */
  write: readonly { path: string; what: string }[];
  /** Paths read: files to share, the output directory. */
  read: readonly { path: string; what: string }[];
  /** Asks Deno for a permission's state. @default Deno.permissions.querySync */
  query?: (desc: Deno.PermissionDescriptor) => Deno.PermissionState;
}

/** The default permission query: Deno's, synchronous; "denied" when Deno cannot say. */
export function queryPermission(desc: Deno.PermissionDescriptor): Deno.PermissionState {
  try {
    return Deno.permissions.querySync(desc).state;
  } catch {
    return "denied";
  }
}

/**
 * Lists the grants this run lacks (a "prompt" state counts as missing: the peer runs with
 * `--no-prompt`).
 *
 * @param needs The paths to read and write, and the query function.
 * @returns The missing grants, writes first, each path once.
 */
export function missingGrants(needs: GrantNeeds): MissingGrant[] {
  const query = needs.query ?? queryPermission;
  const missing: MissingGrant[] = [];
  const seen = new Set<string>();
  for (const kind of ["write", "read"] as const) {
    for (const { path, what } of needs[kind]) {
      if (seen.has(`${kind} ${path}`)) continue;
      seen.add(`${kind} ${path}`);
      if (query({ name: kind, path }) !== "granted") missing.push({ kind, path, what });
    }
  }
  return missing;
}

/** Quotes one word for a POSIX shell when it needs it. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=,@%+\-[\]]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Options for {@link grantCommand}. */
export interface GrantCommandOptions {
  /** The script as the user can name it, e.g. `peer.ts`. */
  entry: string;
  /** The script's arguments, exactly as this run got them. */
  args: readonly string[];
  /** Every directory the run writes (output and log directories). */
  write: readonly string[];
  /** A library the run may load through FFI (libc, for the UDP fast path), kept in the command. */
  ffi?: string;
}

/**
 * The `deno run` command that runs the same arguments with the grants they need: the network,
 * read everywhere, write on exactly `write`, the free-space query, and FFI access to `ffi` when
 * given.
 *
 * @param options The script, its arguments and the directories it writes.
 * @returns One shell command line.
 */
export function grantCommand(options: GrantCommandOptions): string {
  const write = [...new Set(options.write)].map(shellQuote).join(",");
  return [
    "deno run --no-prompt --allow-net --allow-read",
    `--allow-write=${write}`,
    "--allow-sys=statfs",
    ...(options.ffi === undefined ? [] : [`--allow-ffi=${shellQuote(options.ffi)}`]),
    shellQuote(options.entry),
    ...options.args.map(shellQuote),
  ].join(" ");
}

/**
 * The one-line message for missing grants, e.g. `this run may not write to /srv/dl (the output
 * directory; it needs --allow-write=/srv/dl)`.
 *
 * @param missing What {@link missingGrants} found (non-empty).
 * @returns The message, without the command.
 */
export function describeMissing(missing: readonly MissingGrant[]): string {
  return "this run " +
    missing.map((m) =>
      `may not ${m.kind} ${m.kind === "write" ? "to " : ""}${m.path} (${m.what}; it needs ` +
      `--allow-${m.kind}=${shellQuote(m.path)})`
    ).join(" and ");
}
