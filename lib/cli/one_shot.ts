/**
 * Scriptable one-shot modes: `share FILE...` (announce, then serve until a signal) and
 * `get NAME_OR_ID` (download, verify, print the path, exit with a code per reason).
 * @module
 */
import { resolve } from "node:path";
import type { Peer } from "../peer/api.ts";
import { classifyError, withAction } from "./classify_error.ts";
import { ExitCode, exitCodeFor } from "./exit_codes.ts";
import type { Output } from "./output.ts";
import type { ProgressReporter } from "./progress.ts";
import { formatResult, formatSummary, rateOf, resultJson, resultLogLine } from "./result_format.ts";
import { readDownloadTarget } from "./download_query.ts";
import { linkOf, printableName, reportAmbiguous } from "./list_command.ts";

/**
 * Checks that every file to share exists and is a regular file, before any network traffic.
 *
 * @param files Paths as given on the command line.
 * @param cwd Directory that relative paths resolve in.
 * @returns Absolute paths, or the first problem as a one-line message.
 */
export async function checkShareFiles(
  files: readonly string[],
  cwd: string,
): Promise<{ paths: string[] } | { code: string; message: string }> {
  const paths: string[] = [];
  for (const file of files) {
    const path = resolve(cwd, file);
    try {
      const info = await Deno.stat(path);
      if (!info.isFile) {
        return { code: "missing_file", message: `Cannot share "${file}": not a regular file` };
      }
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        return { code: "missing_file", message: `Cannot share "${file}": no such file` };
      }
      return { code: "disk", message: `Cannot share "${file}": ${classifyError(e).message}` };
    }
    paths.push(path);
  }
  return { paths };
}

/** Options for {@link runShare}. */
export interface ShareOptions {
  /** The running peer. */
  peer: Peer;
  /** Absolute paths to share (see {@link checkShareFiles}). */
  paths: readonly string[];
  /** Where `sharing` lines go. */
  out: Output;
  /** The node log. */
  log: (line: string) => void;
  /** Aborted on SIGINT/SIGTERM; the reason names the signal. */
  signal: AbortSignal;
}

/**
 * Shares each file, printing `sharing NAME CONTENT_ID` and then its `udpswarm:` link once the
 * tracker acknowledged it, then serves until `signal` is aborted. The caller closes the peer (sending EXIT).
 *
 * @param options Peer, files, output and stop signal.
 * @returns 0 after a clean stop, or the exit code of the first failure.
 */
export async function runShare(options: ShareOptions): Promise<number> {
  const { peer, out, signal } = options;
  const stopped = new Promise<"stop">((r) => {
    if (signal.aborted) r("stop");
    signal.addEventListener("abort", () => r("stop"), { once: true });
  });
  for (const path of options.paths) {
    let shared;
    try {
      shared = await Promise.race([peer.share(path), stopped]);
    } catch (e) {
      const f = classifyError(e);
      const code = f.code === "not_found" ? "missing_file" : f.code;
      out.error(code, withAction(`Cannot share "${path}"`, f.message), { path });
      return exitCodeFor(code);
    }
    if (shared === "stop") return ExitCode.ok;
    const link = linkOf(shared);
    out.result(
      {
        event: "sharing",
        name: shared.name,
        contentId: shared.contentId,
        size: shared.size,
        link,
      },
      `sharing ${shared.name} ${shared.contentId}`,
    );
    if (!out.json) out.result({}, link);
  }
  out.note(
    { event: "serving", nodeId: peer.nodeId, files: options.paths.length },
    `serving ${options.paths.length} file${options.paths.length === 1 ? "" : "s"} ` +
      `as ${peer.nodeId}; stop with Ctrl-C`,
  );
  await stopped;
  const why = typeof signal.reason === "string" ? signal.reason : "signal";
  options.log(`stopping on ${why}`);
  out.note({ event: "exit", reason: why }, `stopping on ${why}: leaving the swarm`);
  return ExitCode.ok;
}

/** Options for {@link runGet}. */
export interface GetOptions {
  /** The running peer. */
  peer: Peer;
  /** Name, content id or `udpswarm:` link. */
  query: string;
  /** Output directory. */
  outDir: string;
  /** Save under this name (`-o FILE`) instead of the advertised one. */
  saveAs?: string;
  /** Replace an existing file. @default false */
  overwrite?: boolean;
  /** Where the result goes. */
  out: Output;
  /** Progress display. */
  progress: ProgressReporter;
  /** The node log. */
  log: (line: string) => void;
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal;
}

/**
 * Downloads one file. On success prints its path (or a `done` JSON event) and returns 0;
 * otherwise prints a one-line reason and returns the exit code for it.
 *
 * @param options Peer, query, output directory, output and progress.
 * @returns The process exit code.
 */
export async function runGet(options: GetOptions): Promise<number> {
  const { peer, query, out, progress, signal } = options;
  const started = Date.now();
  const target = readDownloadTarget(query);
  if ("error" in target) {
    out.error("bad_name", `Cannot get "${query}": ${target.error}`, {
      query,
      exitCode: ExitCode.badName,
    });
    return ExitCode.badName;
  }
  let handle;
  try {
    handle = peer.download(target.query, {
      outDir: options.outDir,
      overwrite: options.overwrite ?? false,
      signal,
      ...(target.saveAs !== undefined ? { saveAs: target.saveAs } : {}),
      // -o FILE wins over the name a link suggests.
      ...(options.saveAs === undefined ? {} : { saveAs: options.saveAs }),
      ...(target.expectedSize !== undefined ? { expectedSize: target.expectedSize } : {}),
    });
  } catch (e) {
    return fail(options, e);
  }
  // A name is resolved by the tracker: say which content that was, once known.
  let resolved = !target.byName;
  const sayResolved = (contentId: string) => {
    if (resolved || contentId === "") return;
    resolved = true;
    out.note(
      { event: "resolved", name: query, contentId, source: "tracker" },
      `${printableName(query)} is content ${contentId} (the tracker's answer for that name; ` +
        `the content id is what is verified)`,
    );
  };
  const off = handle.onProgress((p) => {
    sayResolved(p.contentId);
    progress.update(p);
  });
  try {
    const r = await handle.done;
    sayResolved(r.contentId);
    const last = handle.progress;
    progress.finish(last && { ...last, verifiedBytes: r.size, rate: rateOf(r) });
    options.log(resultLogLine(r));
    if (!out.json) {
      out.note(
        {},
        r.alreadyHad
          ? `already have ${r.name}: ${r.path} has this content (${formatResult(r)})`
          : `verified ${r.name}: ${formatResult(r)}`,
      );
      out.note(
        {},
        formatSummary([{ file: query, status: r.alreadyHad ? "HAD" : "OK", result: r }]),
      );
    }
    out.result({ ...resultJson(r), link: linkOf(r) }, r.path);
    return ExitCode.ok;
  } catch (e) {
    progress.finish();
    if ((e as { code?: unknown }).code === "ambiguous" && target.byName) {
      const message = withAction(`Cannot get "${query}"`, classifyError(e).message);
      options.log(`download failed query=${query} code=ambiguous reason=${message}`);
      return await reportAmbiguous({ peer, name: query, message, out, log: options.log });
    }
    if (signal.aborted) {
      options.log(`download interrupted query=${query} after_ms=${Date.now() - started}`);
      out.error("interrupted", `Cannot get "${query}": interrupted; run again to resume`, {
        query,
      });
      return ExitCode.interrupted;
    }
    return fail(options, e);
  } finally {
    off();
  }
}

function fail(options: GetOptions, e: unknown): number {
  const f = classifyError(e);
  options.log(`download failed query=${options.query} code=${f.code} reason=${f.message}`);
  const exitCode = exitCodeFor(f.code);
  options.out.error(f.code, withAction(`Cannot get "${options.query}"`, f.message), {
    query: options.query,
    exitCode,
  });
  return exitCode;
}
