/**
 * The body of `peer.ts`: parse flags, check the input, open the node log, start the peer,
 * run the prompt or a one-shot mode, and always leave the swarm cleanly. Every effect the
 * process has on the world comes in through {@link CliEnv}, so tests can run it in-process.
 * @module
 */
import { join } from "node:path";
import type { Peer, PeerOptions } from "../peer/api.ts";
import { randomNodeId } from "../peer/node_id.ts";
import { classifyError, withAction } from "./classify_error.ts";
import { ExitCode, exitCodeFor } from "./exit_codes.ts";
import { parsePeerArgs, peerHelp, UsageError } from "./flags.ts";
import type { PeerCliOptions } from "./flags.ts";
import { checkDownloadQuery } from "./download_query.ts";
import { NodeLog } from "./node_log.ts";
import { checkShareFiles, runGet, runShare } from "./one_shot.ts";
import { createOutput, safeWriter } from "./output.ts";
import type { Output } from "./output.ts";
import { ProgressReporter } from "./progress.ts";
import type { ProgressMode } from "./progress.ts";
import { formatHostPort } from "../net/host_port.ts";
import { runRepl } from "./repl.ts";
import { TraceFile } from "./trace_file.ts";
import type { TransferTraceRecord } from "../peer/core/transfer_trace.ts";

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
    ...(o.owners === undefined ? {} : { maxOwners: o.owners }),
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
    const bad = checkDownloadQuery(query);
    if (bad !== undefined) {
      out.error("bad_name", `Cannot get "${query}": ${bad}`, { exitCode: ExitCode.badName });
      return ExitCode.badName;
    }
  }
  if (o.command !== "share") {
    try {
      await ensureDir(o.out);
    } catch (e) {
      out.error("disk", `Cannot create the output directory ${o.out}: ${classifyError(e).message}`);
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
    try {
      const first = await Promise.race([starting, stopped]);
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

    try {
      return await runMode({ o, env, out, peer, sharePaths, log, signal: stop.signal });
    } finally {
      await closePeer({ peer, timeoutMs: env.closeTimeoutMs ?? 5000, log });
    }
  } finally {
    unsubscribe();
    log("exit");
    trace?.close();
    nodeLog.close();
  }
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
        outDir: o.out,
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
      return runRepl({
        peer,
        input: env.stdin,
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
 * The real process environment. A second SIGINT/SIGTERM while the first is being handled
 * exits at once with code 130.
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
    onSignal(handler) {
      let count = 0;
      const listeners = (["SIGINT", "SIGTERM"] as const).map((sig) => {
        const l = () => {
          if (++count > 1) Deno.exit(ExitCode.interrupted);
          handler(sig);
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
