/**
 * The seed's interactive prompt: `send <file>`, `download <file>`, `exit`, plus `status`,
 * `files`, `wait`, `limit` (the rate caps) and `help`. It reads lines from any byte stream, so it works on a terminal
 * and with piped stdin; end of input behaves like `exit`. Downloads run in the background
 * and report when they finish, so the prompt stays responsive. Lines come from
 * {@link LineReader}; what a finished download prints comes from `result_format.ts`.
 * @module
 */
import { resolve } from "node:path";
import type { DownloadHandle, Peer } from "../peer/api.ts";
import { formatHostPort } from "../net/host_port.ts";
import { classifyError, withAction } from "./classify_error.ts";
import { readDownloadTarget } from "./download_query.ts";
import {
  findCandidates,
  formatListedFile,
  linkOf,
  listedJson,
  printAmbiguous,
} from "./list_command.ts";
import { type LineSource, streamLines } from "./prompt_reader.ts";
import { escapeInput } from "./escape_input.ts";
import { formatCap, parseRate, RATE_HINT } from "./rate_flag.ts";
import type { Output } from "./output.ts";
import { formatBytes, formatProgressLine, progressJson } from "./progress.ts";
import {
  formatResult,
  formatSummary,
  resultJson,
  resultLogLine,
  sharedJson,
  type SummaryRow,
} from "./result_format.ts";

/** A parsed prompt line. */
export type ReplCommand =
  | { kind: "send"; file: string }
  | { kind: "download"; name: string }
  | { kind: "list"; pattern: string }
  | { kind: "status" }
  | { kind: "files" }
  | { kind: "wait" }
  | { kind: "limit"; direction?: "upload" | "download"; rate?: number }
  | { kind: "help" }
  | { kind: "exit" }
  | { kind: "empty" }
  | { kind: "invalid"; message: string };

/** The prompt shown on a terminal. */
export const PROMPT = "> ";

/** The text of the `help` command. */
export const REPL_HELP = [
  "commands:",
  "  send <file>       share a file from the peer's directory (--dir)",
  "  download <file>   download a file by name, content id or udpswarm: link, in the background",
  "  list [pattern]    files the tracker knows: content id, size, owners, name (* ? glob)",
  "  status            transfers in progress (percent, rate, ETA, owners) and shared files",
  "  files             shared and downloaded files with their content ids",
  "  wait              wait until background downloads have finished",
  "  limit [upload|download RATE]",
  "                    show or set the rate caps: RATE is bytes/s or K, M, G (KiB/s, MiB/s,",
  "                    GiB/s), e.g. limit upload 5M; off (or 0) removes a cap",
  "  help              this list",
  "  exit              leave the swarm (end of input does the same)",
].join("\n");

const COMMAND_LIST = "send, download, list, status, files, wait, limit, help, exit";

/**
 * Parses one prompt line. The argument is the rest of the line (names may contain spaces),
 * optionally in double quotes. Blank lines and lines starting with `#` are ignored.
 *
 * @param line One line of input, without its line break.
 * @returns The command, or `invalid` with a one-line hint.
 */
export function parseCommand(line: string): ReplCommand {
  const trimmed = line.trim();
  if (trimmed === "" || trimmed.startsWith("#")) return { kind: "empty" };
  const space = trimmed.search(/\s/);
  const word = (space < 0 ? trimmed : trimmed.slice(0, space)).toLowerCase();
  let arg = space < 0 ? "" : trimmed.slice(space).trim();
  if (arg.length >= 2 && arg.startsWith('"') && arg.endsWith('"')) arg = arg.slice(1, -1);
  switch (word) {
    case "send":
      return arg === ""
        ? { kind: "invalid", message: "Missing file: usage is send <file>" }
        : { kind: "send", file: arg };
    case "download":
      return arg === ""
        ? { kind: "invalid", message: "Missing file: usage is download <file>" }
        : { kind: "download", name: arg };
    case "list":
      return { kind: "list", pattern: arg };
    case "limit":
      return parseLimit(arg);
    case "status":
    case "files":
    case "wait":
    case "help":
    case "exit":
      return arg === "" ? { kind: word } : {
        kind: "invalid",
        message: `Unexpected argument: ${word} takes none, got "${escapeInput(arg)}"`,
      };
    default:
      return {
        kind: "invalid",
        message: `Unknown command: "${escapeInput(word)}" (commands: ${COMMAND_LIST}; type help)`,
      };
  }
}

const LIMIT_USAGE = "usage is limit [upload|download RATE], e.g. limit upload 5M";

/** Parses the argument of `limit`: nothing (show the caps), or a direction and a RATE. */
function parseLimit(arg: string): ReplCommand {
  if (arg === "") return { kind: "limit" };
  const [direction, raw, ...extra] = arg.split(/\s+/);
  if (direction !== "upload" && direction !== "download") {
    return {
      kind: "invalid",
      message: `Cannot set a limit on "${escapeInput(direction!)}": ${LIMIT_USAGE}`,
    };
  }
  if (raw === undefined || extra.length > 0) {
    return { kind: "invalid", message: `Missing RATE: ${LIMIT_USAGE}` };
  }
  try {
    return { kind: "limit", direction, rate: parseRate(raw) };
  } catch {
    return {
      kind: "invalid",
      message: `Cannot parse RATE: ${RATE_HINT}; got "${escapeInput(raw)}"`,
    };
  }
}

/** Options for {@link runRepl}. */
export interface ReplOptions {
  /** The running peer. */
  peer: Peer;
  /** Command input (stdin). */
  input: ReadableStream<Uint8Array>;
  /**
   * Where lines come from instead of `input`: the terminal's line editor (history, completion,
   * Ctrl-C clears the line). @default the lines of `input`
   */
  lines?: LineSource;
  /** Where answers go. */
  out: Output;
  /** Input is a terminal: show a prompt and redraw it around background messages. */
  interactive: boolean;
  /** Raw writer for the prompt (stdout). */
  writePrompt: (text: string) => void;
  /** Directory that `send` resolves relative names in. */
  dir: string;
  /** Directory downloads are saved into. */
  outDir: string;
  /** Replace existing files on download. @default false */
  overwrite?: boolean;
  /** Tracker address, for `status`. */
  tracker: string;
  /** The node log. */
  log: (line: string) => void;
  /** Aborted on SIGINT/SIGTERM: behaves like `exit`. */
  signal?: AbortSignal;
  /** How long `exit` waits for aborted downloads to wind down. @default 5000 */
  stopTimeoutMs?: number;
}

/** A background download the prompt started. */
interface Running {
  handle: DownloadHandle;
  controller: AbortController;
  settled: Promise<void>;
}

/** Why the prompt ended; logged and printed in the `exit` event. */
type LeaveReason = "end of input" | "exit" | "signal";

/**
 * Runs the prompt until `exit`, end of input, or `signal`. Background downloads still
 * running then are aborted (their verified pieces stay on disk for a resume). The caller
 * closes the peer afterwards, which sends EXIT.
 *
 * @param options Peer, input, output and directories.
 * @returns The exit code: 0.
 */
export async function runRepl(options: ReplOptions): Promise<number> {
  const repl = new Repl(options);
  const reason = await repl.readCommands();
  await repl.stopDownloads();
  options.log(`leaving: ${reason}`);
  const summary = formatSummary(repl.finished);
  if (summary !== "" && !options.out.json) options.out.note({}, summary);
  options.out.result({ event: "exit", reason }, "bye");
  return 0;
}

/** The prompt's state: the background downloads and whether a prompt is on screen. */
class Repl {
  readonly #o: ReplOptions;
  readonly #running = new Map<string, Running>();
  readonly #stopped: Promise<"stop">;
  #promptShown = false;
  #reader: LineSource | undefined;
  /** Downloads that ended, in order, for the summary at exit. */
  readonly finished: SummaryRow[] = [];

  constructor(options: ReplOptions) {
    this.#o = options;
    const signal = options.signal;
    this.#stopped = new Promise<"stop">((resolve) => {
      if (signal?.aborted) resolve("stop");
      signal?.addEventListener("abort", () => resolve("stop"), { once: true });
    });
  }

  /** Reads and runs commands until `exit`, end of input or the signal. */
  async readCommands(): Promise<LeaveReason> {
    const { interactive, writePrompt, log } = this.#o;
    const reader = this.#reader = this.#o.lines ?? streamLines(this.#o.input);
    try {
      this.#showPrompt();
      while (true) {
        const line = await Promise.race([reader.next(), this.#stopped]);
        this.#promptShown = false;
        if (line === "stop" || line === null) {
          if (interactive) writePrompt("\n");
          return line === "stop" ? "signal" : "end of input";
        }
        const cmd = parseCommand(line);
        if (cmd.kind !== "empty") log(`command ${escapeInput(line.trim())}`);
        if (cmd.kind === "exit") return "exit";
        if (await this.#run(cmd) === "stop") return "signal";
        this.#showPrompt();
      }
    } finally {
      await reader.cancel();
    }
  }

  /** Aborts the downloads still running and waits (bounded) for them to wind down. */
  async stopDownloads(): Promise<void> {
    const running = this.#running;
    if (running.size === 0) return;
    for (const r of running.values()) r.controller.abort();
    const timeout = this.#o.stopTimeoutMs ?? 5000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all([...running.values()].map((r) => r.settled)),
      new Promise((r) => (timer = setTimeout(r, timeout))),
    ]);
    clearTimeout(timer);
  }

  /** Runs one command; "stop" when the signal interrupted it. */
  async #run(cmd: Exclude<ReplCommand, { kind: "exit" }>): Promise<"stop" | void> {
    const out = this.#o.out;
    switch (cmd.kind) {
      case "empty":
        return;
      case "invalid":
        return out.error("usage", cmd.message);
      case "help":
        return out.result({ event: "help", text: REPL_HELP }, REPL_HELP);
      case "send":
        return await Promise.race([this.#send(cmd.file), this.#stopped]);
      case "download":
        return this.#download(cmd.name);
      case "list":
        return await Promise.race([this.#list(cmd.pattern), this.#stopped]);
      case "status":
        return this.#status();
      case "files":
        return this.#files();
      case "wait":
        return await Promise.race([this.#waitAll(), this.#stopped]);
      case "limit":
        return this.#limit(cmd);
    }
  }

  /** Sets a rate cap when told one, then shows both. */
  #limit(cmd: Extract<ReplCommand, { kind: "limit" }>): void {
    const peer = this.#o.peer;
    if (cmd.direction !== undefined && cmd.rate !== undefined) {
      peer.setRateLimits({ [cmd.direction]: cmd.rate });
    }
    const { upload, download } = peer.rateLimits;
    this.#o.out.result(
      {
        event: "limits",
        upload: upload === Infinity ? null : upload,
        download: download === Infinity ? null : download,
      },
      `limits: upload ${formatCap(upload)}, download ${formatCap(download)}`,
    );
  }

  #showPrompt(): void {
    if (!this.#o.interactive) return;
    if (this.#reader?.prompt) this.#reader.prompt();
    else this.#o.writePrompt(PROMPT);
    this.#promptShown = true;
  }

  /** Prints a message that arrives while the prompt waits for input. */
  #background(print: () => void): void {
    const redraw = this.#o.interactive && this.#promptShown;
    if (redraw && this.#reader?.above) return this.#reader.above(print);
    if (redraw) this.#o.writePrompt("\r\x1b[2K");
    print();
    if (redraw) this.#o.writePrompt(PROMPT);
  }

  async #send(file: string): Promise<void> {
    const { out, dir } = this.#o;
    const path = resolve(dir, file);
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(path);
    } catch (e) {
      const f = classifyError(e);
      const reason = e instanceof Deno.errors.NotFound ? `no such file in ${dir}` : f.message;
      out.error("missing_file", `Cannot send "${escapeInput(file)}": ${reason}`, { file });
      return;
    }
    if (!info.isFile) {
      out.error("missing_file", `Cannot send "${escapeInput(file)}": not a regular file`, { file });
      return;
    }
    try {
      const shared = await this.#o.peer.share(path);
      const link = linkOf(shared);
      out.result(
        { event: "sharing", ...sharedJson(shared), link },
        `sharing ${shared.name} ${shared.contentId}\n${link}`,
      );
    } catch (e) {
      const f = classifyError(e);
      out.error(f.code, withAction(`Cannot send "${escapeInput(file)}"`, f.message), { file });
    }
  }

  #download(query: string): void {
    const { out, log } = this.#o;
    const running = this.#running;
    const target = readDownloadTarget(query);
    if ("error" in target) {
      out.error("bad_name", `Cannot download "${escapeInput(query)}": ${target.error}`, { query });
      return;
    }
    if (running.has(query)) {
      out.error("busy", `Cannot download "${escapeInput(query)}": already downloading it`, {
        query,
      });
      return;
    }
    const controller = new AbortController();
    let handle: DownloadHandle;
    try {
      handle = this.#o.peer.download(target.query, {
        outDir: this.#o.outDir,
        overwrite: this.#o.overwrite ?? false,
        signal: controller.signal,
        ...(target.saveAs !== undefined ? { saveAs: target.saveAs } : {}),
        ...(target.expectedSize !== undefined ? { expectedSize: target.expectedSize } : {}),
      });
    } catch (e) {
      const f = classifyError(e);
      out.error(f.code, withAction(`Cannot download "${escapeInput(query)}"`, f.message), {
        query,
      });
      return;
    }
    const settled = handle.done.then(
      (r) => {
        running.delete(query);
        log(resultLogLine(r));
        this.finished.push({ file: query, status: r.alreadyHad ? "HAD" : "OK", result: r });
        this.#background(() => out.result(resultJson(r), `done ${r.path} (${formatResult(r)})`));
      },
      async (e: unknown) => {
        running.delete(query);
        this.finished.push({ file: query, status: controller.signal.aborted ? "STOP" : "ERR" });
        if (controller.signal.aborted) {
          this.#background(() =>
            out.note(
              { event: "stopped", query },
              `download ${query} stopped; it resumes on the next download`,
            )
          );
          return;
        }
        const f = classifyError(e);
        log(`download failed query=${query} code=${f.code} reason=${f.message}`);
        const message = withAction(`Cannot download "${escapeInput(query)}"`, f.message);
        if (f.code === "ambiguous" && target.byName) {
          const found = await findCandidates(this.#o.peer, query);
          this.#background(() => printAmbiguous(out, query, message, found));
          return;
        }
        this.#background(() => out.error(f.code, message, { query }));
      },
    );
    running.set(query, { handle, controller, settled });
    out.result({ event: "downloading", query }, `downloading ${query} in the background`);
  }

  async #list(pattern: string): Promise<void> {
    const { peer, out } = this.#o;
    try {
      const found = await peer.list(pattern);
      const n = found.files.length;
      const summary = `${n} file${n === 1 ? "" : "s"}` +
        (found.complete ? "" : ` (the first ${n} of ${found.total}; narrow the pattern)`);
      out.result(
        { event: "list", pattern, files: found.files.map(listedJson), total: found.total },
        [...found.files.map(formatListedFile), summary].join("\n"),
      );
    } catch (e) {
      const f = classifyError(e);
      out.error(f.code, withAction(`Cannot list ${JSON.stringify(pattern)}`, f.message), {
        pattern,
      });
    }
  }

  #status(): void {
    const { peer, out, tracker } = this.#o;
    const downloads = [...this.#running.entries()].map(([query, r]) => ({
      query,
      p: r.handle.progress,
    }));
    const shared = [...peer.files.values()];
    if (out.json) {
      out.result({
        event: "status",
        nodeId: peer.nodeId,
        address: formatHostPort(peer.address),
        tracker,
        sendMode: peer.isInSendMode,
        downloads: downloads.map(({ query, p }) =>
          p ? { query, ...progressJson(p) } : { query, event: "progress", starting: true }
        ),
        sharing: shared.map(sharedJson),
      }, "");
      return;
    }
    const lines = [`node ${peer.nodeId} at ${formatHostPort(peer.address)}, tracker ${tracker}`];
    if (downloads.length === 0) lines.push("no downloads in progress");
    for (const { query, p } of downloads) {
      lines.push(`downloading ${p ? formatProgressLine(p) : `${query}  starting`}`);
    }
    lines.push(
      shared.length === 0
        ? "not sharing any file"
        : `sharing ${shared.length} file${shared.length === 1 ? "" : "s"}: ${
          shared.map((f) => `${f.name} (${formatBytes(f.size)})`).join(", ")
        }`,
    );
    out.result({}, lines.join("\n"));
  }

  #files(): void {
    const { peer, out } = this.#o;
    const shared = [...peer.files.values()];
    const byName = new Map(shared.map((f) => [f.name, f]));
    const downloaded = [...peer.downloadedFiles.entries()].map(([name, owners]) => ({
      name,
      contentId: byName.get(name)?.contentId ?? null,
      owners,
    }));
    if (out.json) {
      out.result({ event: "files", shared: shared.map(sharedJson), downloaded }, "");
      return;
    }
    const lines: string[] = [];
    lines.push(shared.length === 0 ? "shared: none" : `shared (${shared.length}):`);
    for (const f of shared) lines.push(`  ${f.name}  ${formatBytes(f.size)}  ${f.contentId}`);
    lines.push(downloaded.length === 0 ? "downloaded: none" : `downloaded (${downloaded.length}):`);
    for (const d of downloaded) {
      lines.push(`  ${d.name}  ${d.contentId ?? "-"}  from ${d.owners.join(", ") || "-"}`);
    }
    out.result({}, lines.join("\n"));
  }

  async #waitAll(): Promise<void> {
    while (this.#running.size > 0) {
      await Promise.all([...this.#running.values()].map((r) => r.settled));
    }
  }
}
