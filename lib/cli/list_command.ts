/**
 * What the tracker knows, shown to a person or a script: `peer.ts list [PATTERN]`, the
 * prompt's `list [pattern]`, and the candidates of an ambiguous name (`get NAME` exit 11).
 * Names come from the network: control and bidirectional-override characters are escaped, so a
 * name cannot forge lines or reorder what the terminal shows.
 * @module
 */
import type { Peer } from "../peer/api.ts";
import { formatContentLink } from "../peer/content_link.ts";
import type { ListedFile } from "../peer/file_list.ts";
import { classifyError, withAction } from "./classify_error.ts";
import { ExitCode, exitCodeFor } from "./exit_codes.ts";
import type { Output } from "./output.ts";
import { formatBytes } from "./progress.ts";

// deno-lint-ignore no-control-regex -- control characters are exactly what this escapes
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/g;

/**
 * A name from the network, safe to print on one terminal line: control, line-separator,
 * zero-width and bidirectional characters become `\u{…}`.
 *
 * @param name the name
 * @returns the printable name
 */
export function printableName(name: string): string {
  return name.replace(UNSAFE, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
}

/** The link of a listed file. */
export function linkOf(f: { contentId: string; name: string; size: number }): string {
  return formatContentLink({ contentId: f.contentId, name: f.name, size: f.size });
}

/**
 * One line per file: content id, size in bytes, owners, name (columns separated by two
 * spaces; the name last, so it may hold spaces).
 *
 * @param f the file
 * @returns the line
 */
export function formatListedFile(f: ListedFile): string {
  return `${f.contentId}  ${String(f.size).padStart(13)}  ${String(f.owners).padStart(5)}  ` +
    printableName(f.name);
}

/** The `--json` form of a listed file. */
export function listedJson(f: ListedFile): Record<string, unknown> {
  return { ...f, link: linkOf(f) };
}

/** Options for {@link runList}. */
export interface ListCommandOptions {
  /** The running peer. */
  peer: Peer;
  /** The pattern ("" lists everything). */
  pattern: string;
  /** Where the lines go. */
  out: Output;
  /** The node log. */
  log: (line: string) => void;
}

/**
 * Lists the tracker's files matching a pattern: one line per file on stdout (or a `file`
 * event each, then `listed`), a count on stderr.
 *
 * @param options peer, pattern, output and log
 * @returns 0, or the exit code of the failure (9 when the tracker does not answer)
 */
export async function runList(options: ListCommandOptions): Promise<number> {
  const { peer, pattern, out } = options;
  let found;
  try {
    found = await peer.list(pattern);
  } catch (e) {
    const f = classifyError(e);
    const code = f.code === "failure" || /^\d+$/.test(f.code) ? "tracker" : f.code;
    options.log(`list failed pattern=${JSON.stringify(pattern)} reason=${f.message}`);
    out.error(code, withAction(`Cannot list ${JSON.stringify(pattern)}`, f.message), {
      exitCode: exitCodeFor(code),
    });
    return exitCodeFor(code);
  }
  options.log(
    `list pattern=${JSON.stringify(pattern)} files=${found.files.length} total=${found.total}`,
  );
  for (const f of found.files) out.result({ event: "file", ...listedJson(f) }, formatListedFile(f));
  const n = found.files.length;
  out.note(
    { event: "listed", count: n, total: found.total, complete: found.complete },
    `${n} file${n === 1 ? "" : "s"}` +
      (found.complete ? "" : ` (the first ${n} of ${found.total}; narrow the pattern)`),
  );
  return ExitCode.ok;
}

/** The candidates of an ambiguous name, or why they could not be listed. */
export interface Candidates {
  /** The contents announced under the name. */
  files: ListedFile[];
  /** Why listing them failed ("" when it worked). */
  why: string;
}

/**
 * Lists every content announced under exactly `name` (an exact LIST).
 *
 * @param peer the running peer
 * @param name the ambiguous name
 * @returns the candidates, or why listing them failed
 */
export async function findCandidates(peer: Peer, name: string): Promise<Candidates> {
  try {
    return { files: (await peer.list(name, { match: "exact", limit: 100 })).files, why: "" };
  } catch (e) {
    return { files: [], why: classifyError(e).message };
  }
}

/**
 * Prints an ambiguous name's error: the message, each candidate (content id, size, owners,
 * link) and how to choose; with `--json` one `error` event with `candidates`.
 *
 * @param out where it goes
 * @param name the name asked for
 * @param message the error's one-line message
 * @param found the candidates
 */
export function printAmbiguous(
  out: Output,
  name: string,
  message: string,
  found: Candidates,
): void {
  if (out.json) {
    out.error("ambiguous", message, {
      query: name,
      exitCode: ExitCode.ambiguous,
      candidates: found.files.map(listedJson),
    });
    return;
  }
  const lines = [message];
  for (const c of found.files) {
    lines.push(
      `  ${c.contentId}  ${formatBytes(c.size)} (${c.size} bytes)  ` +
        `${c.owners} owner${c.owners === 1 ? "" : "s"}  ${linkOf(c)}`,
    );
  }
  if (found.why !== "") lines.push(`  (listing the candidates failed: ${found.why})`);
  lines.push(
    "choose one by its content id or link: peer.ts get CONTENT_ID (the content id, not the " +
      "name, is what is verified)",
  );
  out.error("ambiguous", lines.join("\n"));
}

/**
 * Reports an ambiguous name for `get`: lists the candidates and prints them.
 *
 * @param options peer, the name, the error message, output and log
 * @returns {@link ExitCode.ambiguous}
 */
export async function reportAmbiguous(
  options: { peer: Peer; name: string; message: string; out: Output; log: (l: string) => void },
): Promise<number> {
  const found = await findCandidates(options.peer, options.name);
  options.log(
    `ambiguous name ${JSON.stringify(options.name)}: ` +
      found.files.map((c) => c.contentId).join(","),
  );
  printAmbiguous(options.out, options.name, options.message, found);
  return ExitCode.ambiguous;
}
