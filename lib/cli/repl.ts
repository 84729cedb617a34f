/**
 * The seed's interactive prompt: `send <file>`, `download <file>`, `exit`, plus `status`,
 * `files`, `wait` and `help`. It reads lines from any byte stream, so it works on a terminal
 * and with piped stdin; end of input behaves like `exit`. Downloads run in the background
 * and report when they finish, so the prompt stays responsive.
 * @module
 */
import { resolve } from "node:path";
import type { DownloadHandle, DownloadResult, Peer, SharedFile } from "../peer/api.ts";
import type { PeerAddress } from "../wire/address.ts";
import { classifyError, withAction } from "./errors.ts";
import { checkDownloadQuery } from "./names.ts";
import type { Output } from "./output.ts";
import { formatBytes, formatProgressLine, formatRate, progressJson } from "./progress.ts";

/** A parsed prompt line. */
export type ReplCommand =
  | { kind: "send"; file: string }
  | { kind: "download"; name: string }
  | { kind: "status" }
  | { kind: "files" }
  | { kind: "wait" }
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
  "  download <file>   download a file by name or content id, in the background",
  "  status            transfers in progress (percent, rate, ETA, owners) and shared files",
  "  files             shared and downloaded files with their content ids",
  "  wait              wait until background downloads have finished",
  "  help              this list",
  "  exit              leave the swarm (end of input does the same)",
].join("\n");

const COMMAND_LIST = "send, download, status, files, wait, help, exit";

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
    case "status":
    case "files":
    case "wait":
    case "help":
    case "exit":
      return arg === ""
        ? { kind: word }
        : { kind: "invalid", message: `Unexpected argument: ${word} takes none, got "${arg}"` };
    default:
      return {
        kind: "invalid",
        message: `Unknown command: "${word}" (commands: ${COMMAND_LIST}; type help)`,
      };
  }
}

/** Reads text lines from a byte stream; `\n` or `\r\n` separated, last line may be bare. */
export class LineReader {
  readonly #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";
  #done = false;

  /** Wraps a byte stream. */
  constructor(input: ReadableStream<Uint8Array>) {
    this.#reader = input.pipeThrough(new TextDecoderStream()).getReader();
  }

  /** The next line, or null at end of input. */
  async next(): Promise<string | null> {
    while (true) {
      const nl = this.#buffer.indexOf("\n");
      if (nl >= 0) {
        const line = this.#buffer.slice(0, nl).replace(/\r$/, "");
        this.#buffer = this.#buffer.slice(nl + 1);
        return line;
      }
      if (this.#done) {
        if (this.#buffer === "") return null;
        const line = this.#buffer.replace(/\r$/, "");
        this.#buffer = "";
        return line;
      }
      const { value, done } = await this.#reader.read();
      if (done) this.#done = true;
      else this.#buffer += value;
    }
  }

  /** Stops reading and releases the stream. */
  async cancel(): Promise<void> {
    this.#done = true;
    await this.#reader.cancel().catch(() => {});
  }
}

/** Options for {@link runRepl}. */
export interface ReplOptions {
  /** The running peer. */
  peer: Peer;
  /** Command input (stdin). */
  input: ReadableStream<Uint8Array>;
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

interface Running {
  handle: DownloadHandle;
  controller: AbortController;
  settled: Promise<void>;
}

/** Formats an address as `host:port` or `[v6]:port`. */
export function formatAddress(a: PeerAddress): string {
  return a.family === 6 || a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** The `--json` form of a finished download. */
export function resultJson(r: DownloadResult): Record<string, unknown> {
  return {
    event: "done",
    path: r.path,
    name: r.name,
    contentId: r.contentId,
    size: r.size,
    elapsedMs: Math.round(r.elapsedMs),
    rate: Math.round(rateOf(r)),
    owners: r.owners,
    resumedBytes: r.resumedBytes,
    receivedBytes: r.receivedBytes,
    retransmits: r.retransmits,
    badPieces: r.badPieces,
  };
}

/** Average rate of a finished download in bytes/s (resumed bytes excluded). */
export function rateOf(r: DownloadResult): number {
  const fetched = Math.max(0, r.size - r.resumedBytes);
  return r.elapsedMs > 0 ? (fetched * 1000) / r.elapsedMs : 0;
}

/** One human line summing up a finished download. */
export function formatResult(r: DownloadResult): string {
  const owners = r.owners.map((o) => `${o.nodeId} ${formatBytes(o.bytes)}`).join(", ");
  const resumed = r.resumedBytes > 0 ? `, ${formatBytes(r.resumedBytes)} resumed` : "";
  return `${formatBytes(r.size)} in ${(r.elapsedMs / 1000).toFixed(2)} s, ` +
    `${formatRate(rateOf(r))}${resumed}, from ${owners || "nobody"}`;
}

/** The log line for a finished download, with its figures. */
export function resultLogLine(r: DownloadResult): string {
  const owners = r.owners.map((o) => `${o.nodeId}=${o.bytes}`).join(",");
  return `download complete name=${r.name} content=${r.contentId} size=${r.size} ` +
    `elapsed_ms=${Math.round(r.elapsedMs)} rate_mbps=${(rateOf(r) / 1e6).toFixed(1)} ` +
    `owners=${owners} resumed=${r.resumedBytes} received=${r.receivedBytes} ` +
    `retransmits=${r.retransmits} bad_pieces=${r.badPieces} path=${r.path}`;
}

function sharedJson(f: SharedFile): Record<string, unknown> {
  return { name: f.name, contentId: f.contentId, size: f.size, path: f.path };
}

/**
 * Runs the prompt until `exit`, end of input, or `signal`. Background downloads still
 * running then are aborted (their verified pieces stay on disk for a resume). The caller
 * closes the peer afterwards, which sends EXIT.
 *
 * @param options Peer, input, output and directories.
 * @returns The exit code: 0.
 */
export async function runRepl(options: ReplOptions): Promise<number> {
  const { peer, out, interactive, writePrompt, log } = options;
  const running = new Map<string, Running>();
  let promptShown = false;

  const showPrompt = () => {
    if (!interactive) return;
    writePrompt(PROMPT);
    promptShown = true;
  };
  /** Prints a message that arrives while the prompt waits for input. */
  const background = (print: () => void) => {
    if (interactive && promptShown) writePrompt("\r\x1b[2K");
    print();
    if (interactive && promptShown) writePrompt(PROMPT);
  };

  const stopped = new Promise<"stop">((resolve) => {
    if (options.signal?.aborted) resolve("stop");
    options.signal?.addEventListener("abort", () => resolve("stop"), { once: true });
  });

  const send = async (file: string) => {
    const path = resolve(options.dir, file);
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(path);
    } catch (e) {
      const f = classifyError(e);
      const reason = e instanceof Deno.errors.NotFound
        ? `no such file in ${options.dir}`
        : f.message;
      out.error("missing_file", `Cannot send "${file}": ${reason}`, { file });
      return;
    }
    if (!info.isFile) {
      out.error("missing_file", `Cannot send "${file}": not a regular file`, { file });
      return;
    }
    try {
      const shared = await peer.share(path);
      out.result(
        { event: "sharing", ...sharedJson(shared) },
        `sharing ${shared.name} ${shared.contentId}`,
      );
    } catch (e) {
      const f = classifyError(e);
      out.error(f.code, withAction(`Cannot send "${file}"`, f.message), { file });
    }
  };

  const download = (query: string) => {
    const bad = checkDownloadQuery(query);
    if (bad !== undefined) {
      out.error("bad_name", `Cannot download "${query}": ${bad}`, { query });
      return;
    }
    if (running.has(query)) {
      out.error("busy", `Cannot download "${query}": already downloading it`, { query });
      return;
    }
    const controller = new AbortController();
    let handle: DownloadHandle;
    try {
      handle = peer.download(query, {
        outDir: options.outDir,
        overwrite: options.overwrite ?? false,
        signal: controller.signal,
      });
    } catch (e) {
      const f = classifyError(e);
      out.error(f.code, withAction(`Cannot download "${query}"`, f.message), { query });
      return;
    }
    const settled = handle.done.then(
      (r) => {
        running.delete(query);
        log(resultLogLine(r));
        background(() => out.result(resultJson(r), `done ${r.path} (${formatResult(r)})`));
      },
      (e: unknown) => {
        running.delete(query);
        if (controller.signal.aborted) {
          background(() =>
            out.note(
              { event: "stopped", query },
              `download ${query} stopped; it resumes on the next download`,
            )
          );
          return;
        }
        const f = classifyError(e);
        log(`download failed query=${query} code=${f.code} reason=${f.message}`);
        background(() =>
          out.error(f.code, withAction(`Cannot download "${query}"`, f.message), { query })
        );
      },
    );
    running.set(query, { handle, controller, settled });
    out.result({ event: "downloading", query }, `downloading ${query} in the background`);
  };

  const status = () => {
    const downloads = [...running.entries()].map(([query, r]) => ({ query, p: r.handle.progress }));
    const shared = [...peer.files.values()];
    if (out.json) {
      out.result({
        event: "status",
        nodeId: peer.nodeId,
        address: formatAddress(peer.address),
        tracker: options.tracker,
        sendMode: peer.isInSendMode,
        downloads: downloads.map(({ query, p }) =>
          p ? { query, ...progressJson(p) } : { query, event: "progress", starting: true }
        ),
        sharing: shared.map(sharedJson),
      }, "");
      return;
    }
    const lines = [
      `node ${peer.nodeId} at ${formatAddress(peer.address)}, tracker ${options.tracker}`,
    ];
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
  };

  const files = () => {
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
  };

  const waitAll = async () => {
    while (running.size > 0) {
      await Promise.all([...running.values()].map((r) => r.settled));
    }
  };

  const reader = new LineReader(options.input);
  let reason = "end of input";
  try {
    showPrompt();
    while (true) {
      const line = await Promise.race([reader.next(), stopped]);
      promptShown = false;
      if (line === "stop") {
        reason = "signal";
        if (interactive) writePrompt("\n");
        break;
      }
      if (line === null) {
        if (interactive) writePrompt("\n");
        break;
      }
      const cmd = parseCommand(line);
      if (cmd.kind !== "empty") log(`command ${line.trim()}`);
      if (cmd.kind === "exit") {
        reason = "exit";
        break;
      }
      switch (cmd.kind) {
        case "empty":
          break;
        case "invalid":
          out.error("usage", cmd.message);
          break;
        case "help":
          out.result({ event: "help", text: REPL_HELP }, REPL_HELP);
          break;
        case "send":
          if (await Promise.race([send(cmd.file), stopped]) === "stop") reason = "signal";
          break;
        case "download":
          download(cmd.name);
          break;
        case "status":
          status();
          break;
        case "files":
          files();
          break;
        case "wait":
          if (await Promise.race([waitAll(), stopped]) === "stop") reason = "signal";
          break;
      }
      if (reason === "signal") break;
      showPrompt();
    }
  } finally {
    await reader.cancel();
  }

  if (running.size > 0) {
    for (const r of running.values()) r.controller.abort();
    const timeout = options.stopTimeoutMs ?? 5000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all([...running.values()].map((r) => r.settled)),
      new Promise((r) => (timer = setTimeout(r, timeout))),
    ]);
    clearTimeout(timer);
  }
  log(`leaving: ${reason}`);
  out.result({ event: "exit", reason }, "bye");
  return 0;
}
