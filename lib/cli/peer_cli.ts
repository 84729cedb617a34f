/**
 * The body of `peer.ts`: parse flags, check the input, open the node log, start the peer,
 * run the prompt or a one-shot mode, and always leave the swarm cleanly. Every effect the
 * process has on the world comes in through {@link CliEnv}, so tests can run it in-process.
 * @module
 */
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import type { Peer, PeerOptions } from "../peer/api.ts";
import { randomNodeId } from "../peer/node_id.ts";
import { classifyError, withAction } from "./classify_error.ts";
import { ExitCode, exitCodeFor } from "./exit_codes.ts";
import { parsePeerArgs, peerHelp, UsageError } from "./flags.ts";
import type { PeerCliOptions } from "./flags.ts";
import { readDownloadTarget } from "./download_query.ts";
import { runList } from "./list_command.ts";
import { NodeLog } from "./node_log.ts";
import { checkShareFiles, runGet, runShare } from "./one_shot.ts";
import { createOutput, safeWriter } from "./output.ts";
import type { Output } from "./output.ts";
import { ProgressReporter } from "./progress.ts";
import type { ProgressMode } from "./progress.ts";
import { formatHostPort } from "../net/host_port.ts";
import { PROMPT, runRepl } from "./repl.ts";
import { type LineSource, terminalLines } from "./prompt_reader.ts";
import { describeMissing, grantCommand, missingGrants } from "./grants.ts";
import type { MissingGrant } from "./grants.ts";
import { SignalGate } from "./signal_gate.ts";
import { versionLine } from "./version.ts";
import { type MetricsServer, serveMetrics } from "../metrics/metrics_server.ts";
import type { MetricsAddress } from "../metrics/metrics_server.ts";
import { peerFamilies } from "./peer_metrics.ts";
import { TraceFile } from "./trace_file.ts";
import type { TransferTraceRecord } from "../peer/core/transfer_trace.ts";
import { libcPath } from "../net/socket_buffer.ts";

/** Everything `peer.ts` needs from the outside world. */
export interface CliEnv {
  /** Command-line arguments. */
  args: readonly string[];
  /** Command input for the prompt. */
  stdin: ReadableStream<Uint8Array>;
  /** stdin is a terminal (show a prompt). */
  stdinIsTerminal: boolean;
  /** stderr is a terminal (progress updates one line in place). */
  stderrIsTerminal: boolean;
  /** Terminal width. */
  columns: () => number;
  /** Writes to stdout. */
  stdout: (text: string) => void;
  /** Writes to stderr. */
  stderr: (text: string) => void;
  /** Directory that `share FILE` paths resolve in. */
  cwd: string;
  /** Starts the peer (`startPeer` from lib/peer/peer.ts). */
  startPeer: (options: PeerOptions) => Promise<Peer>;
  /** Subscribes to SIGINT/SIGTERM; the handler gets the signal name. Returns unsubscribe. */
  onSignal: (handler: (signal: string) => void) => () => void;
  /** A random node id. @default 8 hex digits */
  randomId?: () => string;
  /** How long leaving the swarm may take before we give up on it, in ms. @default 5000 */
  closeTimeoutMs?: number;
  /** The script as a command names it (for the grant hint). @default "peer.ts" */
  entry?: string;
  /** Asks for a permission's state. @default Deno.permissions.querySync */
  queryPermission?: (desc: Deno.PermissionDescriptor) => Deno.PermissionState;
  /** How long joining may stay silent before saying what it waits for, in ms. @default 1000 */
  waitNoticeMs?: number;
  /** The terminal's line editor for the prompt; absent: lines are read from `stdin`. */
  terminalLines?: (options: { prompt: string; dir: string }) => LineSource;
}

/** The PeerOptions for a command line. */
export function peerOptionsFor(
  o: PeerCliOptions,
  nodeId: string,
  log: (line: string) => void,
  trace?: TraceFile,
): PeerOptions {
  return {
    tracker: o.tracker,
    nodeId,
    hostname: o.host,
    port: o.port,
    dir: o.dir,
    outDir: o.out,
    cacheDir: join(o.out, ".udpswarm"),
    mtu: o.mtu,
    maxUploadRate: o.maxUpload,
    maxDownloadRate: o.maxDownload,
    ...(o.owners === undefined ? {} : { maxOwners: o.owners }),
    ...(o.noSharePartial ? { sharePartial: false } : {}),
    ...(o.directWrites ? { directWrites: true } : {}),
    ...(o.uploadSlots === undefined
      ? {}
      : { uploadSlots: o.uploadSlots === 0 ? false : o.uploadSlots }),
    ...(trace ? { trace: (r: TransferTraceRecord) => trace.write(r) } : {}),
    log,
  };
}

/**
 * Runs `peer.ts` to completion.
 *
 * @param env Arguments, streams, signals and the peer factory.
 * @returns The process exit code (see `ExitCode`).
 */
export async function runPeerCli(env: CliEnv): Promise<number> {
  let o: PeerCliOptions;
  try {
    o = parsePeerArgs(env.args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    env.stderr(`error: ${e.message}\nRun peer.ts --help for the commands, flags and exit codes\n`);
    return ExitCode.usage;
  }
  if (o.command === "help") {
    env.stdout(peerHelp());
    return ExitCode.ok;
  }
  if (o.command === "version") {
    env.stdout(`${versionLine("peer")}\n`);
    return ExitCode.ok;
  }
  const out = createOutput({
    json: o.json,
    quiet: o.quiet,
    stdout: env.stdout,
    stderr: env.stderr,
  });

  // Check what can be checked before any network traffic.
  let sharePaths: string[] = [];
  if (o.command === "share") {
    const checked = await checkShareFiles(o.args, env.cwd);
    if ("code" in checked) {
      out.error(checked.code, checked.message);
      return exitCodeFor(checked.code);
    }
    sharePaths = checked.paths;
  }
  if (o.command === "get") {
    const query = o.args[0]!;
    const target = readDownloadTarget(query);
    if ("error" in target) {
      out.error("bad_name", `Cannot get "${query}": ${target.error}`, {
        exitCode: ExitCode.badName,
      });
      return ExitCode.badName;
    }
  }
  const missing = missingGrants({
    write: writeNeeds(o),
    read: sharePaths.map((path) => ({ path, what: "a file to share" })),
    ...(env.queryPermission ? { query: env.queryPermission } : {}),
  });
  if (missing.length > 0) return reportMissing({ o, env, out, missing });
  const saveDir = o.output === undefined ? o.out : dirname(o.output);
  const makeDirs = o.command === "share" || o.command === "list" ? [] : [o.out, saveDir];
  for (const dir of new Set(makeDirs)) {
    try {
      await ensureDir(dir);
    } catch (e) {
      out.error("disk", `Cannot create the output directory ${dir}: ${classifyError(e).message}`);
      return ExitCode.disk;
    }
  }

  const nodeId = o.id ?? (env.randomId ?? randomNodeId)();
  let nodeLog: NodeLog;
  try {
    nodeLog = NodeLog.open({ dir: o.logDir, nodeId });
  } catch (e) {
    out.error("disk", `Cannot open the node log in ${o.logDir}: ${classifyError(e).message}`);
    return ExitCode.disk;
  }
  const log = (line: string) => nodeLog.log(line);
  let trace: TraceFile | undefined;
  if (o.trace !== undefined) {
    try {
      trace = TraceFile.open(o.trace);
    } catch (e) {
      nodeLog.close();
      out.error("disk", `Cannot open the trace file ${o.trace}: ${classifyError(e).message}`);
      return ExitCode.disk;
    }
  }
  try {
    // From here on, every error line names the node log, which has the details.
    const logged = withLogPath(out, nodeLog.path);
    return await runWithLog({ o, env, out: logged, plain: out, sharePaths, nodeId, log, trace });
  } finally {
    log("exit");
    trace?.close();
    nodeLog.close();
  }
}

/** An {@link Output} whose errors end with `(node log: PATH)`, or carry `log` in JSON. */
function withLogPath(out: Output, path: string): Output {
  return {
    json: out.json,
    result: (event, text) => out.result(event, text),
    note: (event, text) => out.note(event, text),
    error: (code, message, extra = {}) =>
      out.json
        ? out.error(code, message, { ...extra, log: path })
        : out.error(code, `${message} (node log: ${path})`, extra),
  };
}

/** What {@link runWithLog} needs: the checked command line and an open node log. */
interface RunContext {
  o: PeerCliOptions;
  env: CliEnv;
  out: Output;
  /** `out` without the node log path, for the prompt's answers (not failures of the run). */
  plain: Output;
  sharePaths: string[];
  nodeId: string;
  log: (line: string) => void;
  /** Where `--trace` records go, if asked. */
  trace: TraceFile | undefined;
}

/** Starts the peer, runs the mode, and always leaves the swarm; returns the exit code. */
async function runWithLog(
  { o, env, out, plain, sharePaths, nodeId, log, trace }: RunContext,
): Promise<number> {
  const stop = new AbortController();
  const unsubscribe = env.onSignal((signal) => {
    log(`signal ${signal}`);
    stop.abort(signal);
  });
  try {
    log(
      `start mode=${o.command} tracker=${o.tracker} host=${o.host} port=${o.port} ` +
        `dir=${o.dir} out=${o.out} mtu=${o.mtu}`,
    );
    const stopped = new Promise<"stop">((r) => {
      stop.signal.addEventListener("abort", () => r("stop"), { once: true });
    });
    let peer: Peer;
    const starting = env.startPeer(peerOptionsFor(o, nodeId, log, trace));
    const notice = setTimeout(() => {
      log(`still waiting for the tracker at ${o.tracker}`);
      out.note(
        { event: "waiting", tracker: o.tracker },
        `waiting for the tracker at ${o.tracker} to answer (is it running? check --tracker)`,
      );
    }, env.waitNoticeMs ?? 1000);
    try {
      const first = await Promise.race([starting, stopped]).finally(() => clearTimeout(notice));
      if (first === "stop") {
        starting.then((p) => p.close(), () => {});
        log("exit before the peer started");
        return o.command === "get" ? ExitCode.interrupted : ExitCode.ok;
      }
      peer = first;
    } catch (e) {
      const f = classifyError(e);
      const code = f.code === "disk" ? "disk" : "tracker";
      log(`start failed code=${f.code} reason=${f.message}`);
      out.error(code, withAction(`Cannot join the swarm at ${o.tracker}`, f.message), {
        exitCode: exitCodeFor(code),
      });
      return exitCodeFor(code);
    }

    let metrics: MetricsServer | undefined;
    try {
      if (o.metrics) metrics = startPeerMetrics({ at: o.metrics, peer, out, log });
      return await runMode({
        o,
        env,
        out: o.command === "repl" ? plain : out,
        peer,
        sharePaths,
        log,
        signal: stop.signal,
      });
    } finally {
      await metrics?.close();
      await closePeer({ peer, timeoutMs: env.closeTimeoutMs ?? 5000, log });
    }
  } finally {
    unsubscribe();
  }
}

/** Serves the peer's metrics and says where; throws when the address cannot be bound. */
function startPeerMetrics(
  { at, peer, out, log }: {
    at: MetricsAddress;
    peer: Peer;
    out: Output;
    log: (line: string) => void;
  },
): MetricsServer {
  const zero = () => ({
    uploadedBytes: 0,
    downloadedBytes: 0,
    transfersStarted: 0,
    transfersCompleted: 0,
    transfersFailed: 0,
    transfersActive: 0,
    retransmits: 0,
    badPieces: 0,
    ownersBanned: 0,
  });
  const server = serveMetrics({
    ...at,
    metrics: () => peerFamilies(peer.stats ?? zero(), peer.nodeId),
    stats: () => ({ nodeId: peer.nodeId, ...(peer.stats ?? zero()) }),
  });
  log(`metrics on http://${server.address}/metrics`);
  out.note(
    { event: "metrics", address: server.address },
    `metrics on http://${server.address}/metrics`,
  );
  return server;
}

/** The directories a run writes, with what each is for. */
function writeNeeds(o: PeerCliOptions): { path: string; what: string }[] {
  // share and list write no download; share's manifest cache in --out is best effort.
  const needs = o.command === "share" || o.command === "list"
    ? [{ path: o.logDir, what: "--log-dir" }]
    : [{ path: o.out, what: "--out" }, { path: o.logDir, what: "--log-dir" }];
  if (o.output !== undefined) needs.unshift({ path: dirname(o.output), what: "-o/--output" });
  return needs;
}

/** The libc this run may load through FFI (the UDP fast path), to keep in a printed command. */
function grantedLibc(): { ffi?: string } {
  const path = libcPath();
  if (path === undefined) return {};
  return Deno.permissions.querySync({ name: "ffi", path }).state === "granted" ? { ffi: path } : {};
}

/** Prints which grant is missing and the command that has it; returns exit code 6. */
function reportMissing(
  { o, env, out, missing }: {
    o: PeerCliOptions;
    env: CliEnv;
    out: Output;
    missing: MissingGrant[];
  },
): number {
  const command = grantCommand({
    entry: env.entry ?? "peer.ts",
    args: env.args,
    write: writeNeeds(o).map((n) => n.path),
    ...grantedLibc(),
  });
  out.error("disk", `Cannot run: ${describeMissing(missing)}`, {
    exitCode: ExitCode.disk,
    missing,
    command,
  });
  if (!out.json) {
    env.stderr(`Run this instead (same arguments, the grants they need):\n  ${command}\n`);
  }
  return ExitCode.disk;
}

/** What {@link runMode} works with: the command line, the world, and the started peer. */
interface ModeContext {
  /** The parsed command line. */
  o: PeerCliOptions;
  /** The process environment. */
  env: CliEnv;
  /** Where answers go. */
  out: Output;
  /** The started peer. */
  peer: Peer;
  /** `share`: the checked absolute paths. */
  sharePaths: string[];
  /** The node log. */
  log: (line: string) => void;
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal;
}

/** Runs the prompt, `share` or `get` on a started peer; returns the exit code. */
function runMode({ o, env, out, peer, sharePaths, log, signal }: ModeContext): Promise<number> {
  const where = `${peer.nodeId} at ${formatHostPort(peer.address)}`;
  switch (o.command) {
    case "share":
      return runShare({ peer, paths: sharePaths, out, log, signal });
    case "list":
      return runList({ peer, pattern: o.args[0] ?? "", out, log });
    case "get": {
      const mode: ProgressMode = o.quiet
        ? "quiet"
        : o.json
        ? "json"
        : env.stderrIsTerminal
        ? "tty"
        : "lines";
      const progress = new ProgressReporter({
        mode,
        write: o.json ? env.stdout : env.stderr,
        columns: env.columns(),
      });
      out.note(
        { event: "ready", nodeId: peer.nodeId, address: formatHostPort(peer.address) },
        `peer ${where}: getting ${o.args[0]}`,
      );
      return runGet({
        peer,
        query: o.args[0]!,
        outDir: o.output === undefined ? o.out : dirname(o.output),
        ...(o.output === undefined ? {} : { saveAs: basename(o.output) }),
        overwrite: o.overwrite,
        out,
        progress,
        log,
        signal,
      });
    }
    default: {
      const ready = { event: "ready", nodeId: peer.nodeId, address: formatHostPort(peer.address) };
      if (env.stdinIsTerminal && !o.json) {
        env.stdout(`udpswarm peer ${where}, tracker ${o.tracker}. Type help for commands.\n`);
      } else {
        out.note(ready, `peer ${where}, tracker ${o.tracker}: ready`);
      }
      const interactive = env.stdinIsTerminal && !o.json;
      const lines = interactive && env.terminalLines
        ? env.terminalLines({ prompt: PROMPT, dir: o.dir })
        : undefined;
      return runRepl({
        peer,
        input: env.stdin,
        ...(lines ? { lines } : {}),
        out,
        interactive: env.stdinIsTerminal && !o.json,
        writePrompt: env.stdout,
        dir: o.dir,
        outDir: o.out,
        overwrite: o.overwrite,
        tracker: o.tracker,
        log,
        signal,
      });
    }
  }
}

/** Creates `dir` unless it exists (so an existing directory needs no write grant on itself). */
async function ensureDir(dir: string): Promise<void> {
  try {
    if ((await Deno.stat(dir)).isDirectory) return;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  await Deno.mkdir(dir, { recursive: true });
}

/** Leaves the swarm (EXIT), giving up after `timeoutMs`; a failure is only logged. */
async function closePeer(
  { peer, timeoutMs, log }: { peer: Peer; timeoutMs: number; log: (line: string) => void },
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      peer.close(),
      new Promise<void>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (e) {
    log(`close failed: ${classifyError(e).message}`);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The real process environment. Signals go through a {@link SignalGate}: the deliveries of one
 * Ctrl-C within a second count as one; a signal after that exits at once with code 130.
 *
 * @param startPeer The peer factory.
 * @returns The environment for {@link runPeerCli}.
 */
export function denoEnv(startPeer: (options: PeerOptions) => Promise<Peer>): CliEnv {
  return {
    args: Deno.args,
    stdin: Deno.stdin.readable,
    stdinIsTerminal: Deno.stdin.isTerminal(),
    stderrIsTerminal: Deno.stderr.isTerminal(),
    columns: () => {
      try {
        const { columns } = Deno.consoleSize();
        return columns > 0 ? columns : 80;
      } catch {
        return 80;
      }
    },
    stdout: safeWriter(Deno.stdout),
    stderr: safeWriter(Deno.stderr),
    cwd: Deno.cwd(),
    startPeer,
    entry: entryName(),
    terminalLines: ({ prompt, dir }) =>
      terminalLines({ prompt, dir, write: safeWriter(Deno.stdout) }),
    onSignal(handler) {
      const gate = new SignalGate();
      const listeners = (["SIGINT", "SIGTERM"] as const).map((sig) => {
        const l = () => {
          const verdict = gate.deliver();
          if (verdict === "exit now") Deno.exit(ExitCode.interrupted);
          if (verdict === "stop") handler(sig);
        };
        Deno.addSignalListener(sig, l);
        return [sig, l] as const;
      });
      return () => {
        for (const [sig, l] of listeners) Deno.removeSignalListener(sig, l);
      };
    },
  };
}

/** `peer.ts` relative to the current directory when inside it, else its absolute path. */
function entryName(): string {
  const abs = fileURLToPath(new URL("../../peer.ts", import.meta.url));
  const rel = relative(Deno.cwd(), abs);
  return rel.startsWith("..") ? abs : rel;
}
