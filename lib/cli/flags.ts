/**
 * Command-line parsing for `peer.ts`, on `node:util` parseArgs. Every bad value becomes a
 * {@link UsageError} with a one-line message; the entrypoint prints it and exits with code 2.
 * @module
 */
import { parseArgs } from "node:util";
import { parseHostPort } from "../net/host_port.ts";
import { isValidNodeId } from "../wire/codec.ts";
import { oneLine } from "./classify_error.ts";
import { EXIT_CODE_HELP } from "./exit_codes.ts";
import { parseRate } from "./rate_flag.ts";
import { type MetricsAddress, parseMetricsAddress } from "../metrics/metrics_server.ts";

/** A bad command line. The message is one line, meant for the user. */
export class UsageError extends Error {
  /** Creates a usage error with a one-line message. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** What `peer.ts` was asked to do. */
export type PeerCommand = "repl" | "share" | "get" | "list" | "help" | "version";

/** The parsed and validated command line of `peer.ts`. */
export interface PeerCliOptions {
  /** Interactive prompt, one-shot share or get, or help. */
  command: PeerCommand;
  /** `share`: the files; `get`: one name, content id or link; `list`: the pattern, if any. */
  args: string[];
  /** Tracker address as given; `A,B,…` lists fallbacks. @default "127.0.0.1:6969" */
  tracker: string;
  /** Node id, or undefined for a random one. */
  id: string | undefined;
  /** Directory that relative names in `send`/`share` resolve in. @default "." */
  dir: string;
  /** Directory downloads are saved into. @default dir */
  out: string;
  /** Local address to bind. @default "127.0.0.1", or "::1" for an IPv6 tracker */
  host: string;
  /** Local UDP port, 0 picks one. @default 0 */
  port: number;
  /** Path MTU, 0 probes. @default 0 */
  mtu: number;
  /** Owners asked for per download, or undefined for the peer's default. */
  owners: number | undefined;
  /** Replace existing output files. @default false */
  overwrite: boolean;
  /** Do not serve a download's verified pieces while it runs (`--no-share-partial`). @default false */
  noSharePartial: boolean;
  /** Write downloaded pieces with O_DIRECT (`--direct-writes`, libc grant only). @default false */
  directWrites: boolean;
  /** Directory of `node-<id>.log`. @default "logs" */
  logDir: string;
  /** Silence progress output. @default false */
  quiet: boolean;
  /** One JSON object per line on stdout. @default false */
  json: boolean;
  /** `get -o FILE`: the path to save the one download to, or undefined for `--out`/NAME. */
  output: string | undefined;
  /** `--metrics`: where to serve HTTP metrics, or undefined (off). */
  metrics: MetricsAddress | undefined;
  /** File to write a transfer trace to (JSON lines: window, delay, losses), or undefined. */
  trace: string | undefined;
  /** `--max-upload RATE`: upload cap, bytes/s. @default Infinity */
  maxUpload: number;
  /** `--upload-slots N`: requesters served at once, 0 = all; undefined: the peer's default (4). */
  uploadSlots: number | undefined;
  /** `--max-download RATE`: download cap over all downloads, bytes/s. @default Infinity */
  maxDownload: number;
}

/** Default tracker address. */
export const DEFAULT_TRACKER = "127.0.0.1:6969";

const SPEC = {
  tracker: { type: "string" },
  id: { type: "string" },
  dir: { type: "string" },
  out: { type: "string" },
  host: { type: "string" },
  port: { type: "string" },
  mtu: { type: "string" },
  owners: { type: "string" },
  overwrite: { type: "boolean" },
  "no-share-partial": { type: "boolean" },
  "direct-writes": { type: "boolean" },
  "log-dir": { type: "string" },
  quiet: { type: "boolean", short: "q" },
  json: { type: "boolean" },
  trace: { type: "string" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
  output: { type: "string", short: "o" },
  metrics: { type: "string" },
  "max-upload": { type: "string" },
  "upload-slots": { type: "string" },
  "max-download": { type: "string" },
} as const;

/**
 * Parses `peer.ts` arguments.
 *
 * @param argv The arguments after the script name (`Deno.args`).
 * @returns The validated options.
 * @throws {UsageError} On an unknown flag or command, a bad value or a missing argument.
 */
export function parsePeerArgs(argv: readonly string[]): PeerCliOptions {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: SPEC, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(describeParseError(e));
  }
  const { values, positionals } = parsed;

  let command: PeerCommand = "repl";
  let args: string[] = [];
  const [first, ...rest] = positionals;
  if (values.help || first === "help") {
    command = "help";
  } else if (values.version || first === "version") {
    command = "version";
  } else if (first === undefined) {
    command = "repl";
  } else if (first === "share") {
    command = "share";
    args = rest;
    if (args.length === 0) throw new UsageError("Missing argument: share needs at least one FILE");
  } else if (first === "get") {
    command = "get";
    if (rest.length === 0) throw new UsageError("Missing argument: get needs a NAME or content id");
    if (rest.length > 1) {
      throw new UsageError(`Too many arguments: get takes one NAME, got ${rest.length}`);
    }
    args = rest;
  } else if (first === "list") {
    command = "list";
    if (rest.length > 1) {
      throw new UsageError(
        `Too many arguments: list takes one PATTERN, got ${rest.length} (quote a pattern with spaces)`,
      );
    }
    args = rest;
  } else {
    throw new UsageError(
      `Unknown command: "${first}" (expected share, get, list, help, or none for the prompt)`,
    );
  }

  const tracker = values.tracker ?? DEFAULT_TRACKER;
  let trackerFamily: 4 | 6 | undefined;
  try {
    // A comma-separated list: fallbacks of one swarm, each checked; the first sets the family.
    for (const part of tracker.split(",")) {
      const family = parseHostPort(part.trim()).family;
      trackerFamily ??= family;
    }
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new UsageError(why.replace(/^Cannot parse address/, "Cannot parse --tracker"));
  }

  const id = values.id;
  if (id !== undefined && !isValidNodeId(id)) {
    throw new UsageError(
      `Cannot use --id: expected 1 to 24 characters of A-Z a-z 0-9 . _ -, got "${id}"`,
    );
  }
  if (values.output !== undefined && command !== "get") {
    throw new UsageError("Cannot use -o/--output: it names the file of one download (get)");
  }
  if (values.output !== undefined && /[/\\]$/.test(values.output)) {
    throw new UsageError(
      `Cannot use -o/--output: "${values.output}" names a directory; use --out DIR for that`,
    );
  }
  for (const key of ["dir", "out", "log-dir", "host", "output", "trace"] as const) {
    if (values[key] === "") throw new UsageError(`Cannot use --${key}: the value is empty`);
  }
  const dir = values.dir ?? ".";
  const host = values.host ?? (trackerFamily === 6 ? "::1" : "127.0.0.1");

  return {
    command,
    args,
    tracker,
    id,
    dir,
    out: values.out ?? dir,
    host,
    port: intFlag({ name: "port", raw: values.port, fallback: 0, min: 0, max: 65535 }),
    mtu: mtuFlag(values.mtu),
    owners: values.owners === undefined
      ? undefined
      : intFlag({ name: "owners", raw: values.owners, fallback: 0, min: 1, max: 16 }),
    overwrite: values.overwrite ?? false,
    noSharePartial: values["no-share-partial"] ?? false,
    directWrites: values["direct-writes"] ?? false,
    logDir: values["log-dir"] ?? "logs",
    quiet: values.quiet ?? false,
    json: values.json ?? false,
    output: values.output,
    metrics: metricsFlag(values.metrics),
    trace: values.trace,
    maxUpload: rateFlag("max-upload", values["max-upload"]),
    uploadSlots: values["upload-slots"] === undefined ? undefined : intFlag({
      name: "upload-slots",
      raw: values["upload-slots"],
      fallback: 8,
      min: 0,
      max: 64,
    }),
    maxDownload: rateFlag("max-download", values["max-download"]),
  };
}

/** Parses `--max-upload`/`--max-download RATE`; a bad value is a {@link UsageError}. */
function rateFlag(name: string, raw: string | undefined): number {
  if (raw === undefined) return Infinity;
  try {
    return parseRate(raw);
  } catch (e) {
    throw new UsageError(`Cannot parse --${name}: ${e instanceof Error ? e.message : e}`);
  }
}

/** Parses `--metrics PORT|HOST:PORT`; a bad value is a {@link UsageError}. */
function metricsFlag(raw: string | undefined): MetricsAddress | undefined {
  if (raw === undefined) return undefined;
  try {
    return parseMetricsAddress(raw);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new UsageError(why.replace(/^Cannot parse address/, "Cannot parse --metrics"));
  }
}

/** An integer flag's value as given, its default and its range. */
interface IntFlag {
  /** The flag's name without `--`. */
  name: string;
  /** The value as given, or undefined when the flag is absent. */
  raw: string | undefined;
  /** The value when the flag is absent. */
  fallback: number;
  /** Smallest value accepted. */
  min: number;
  /** Largest value accepted. */
  max: number;
}

/** Parses an integer flag within its range; a bad value is a {@link UsageError}. */
function intFlag({ name, raw, fallback, min, max }: IntFlag): number {
  if (raw === undefined) return fallback;
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(
      `Cannot parse --${name}: expected an integer from ${min} to ${max}, got "${raw}"`,
    );
  }
  return n;
}

/** Smallest useful MTU: 1200 bytes of UDP payload plus IPv4 and UDP headers. */
export const MIN_MTU = 1228;

function mtuFlag(raw: string | undefined): number {
  if (raw === undefined) return 0;
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (n === 0 || (Number.isSafeInteger(n) && n >= MIN_MTU && n <= 65535)) return n;
  throw new UsageError(
    `Cannot parse --mtu: expected 0 (probe) or an integer from ${MIN_MTU} to 65535, got "${raw}"`,
  );
}

function describeParseError(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  const code = (e as { code?: unknown } | null)?.code;
  const flag = /'(?:-\w, )?(--?[\w-]+)/.exec(message)?.[1];
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `Unknown flag: ${flag ?? message} (see --help)`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      if (!flag) return oneLine(message);
      if (/argument missing/.test(message)) return `Missing value for ${flag}`;
      if (/ambiguous/.test(message)) {
        return `Missing value for ${flag} (a value starting with "-" is written ${flag}=-VALUE)`;
      }
      return `Cannot use ${flag}: it takes no value`;
    default:
      return oneLine(message);
  }
}

/** The `--help` text of `peer.ts`. */
export function peerHelp(): string {
  const codes = EXIT_CODE_HELP.map(([code, text]) => `  ${String(code).padStart(3)}  ${text}`)
    .join("\n");
  return `udpswarm peer: share and download files over UDP

Usage:
  peer.ts [FLAGS]                        interactive prompt (type "help" there)
  peer.ts share FILE... [FLAGS]          share files; prints "sharing NAME CONTENT_ID"
                                         and a udpswarm: link per file, serves until
                                         SIGINT/SIGTERM
  peer.ts get NAME_OR_ID [--out DIR]     download one file, print its path, exit 0
                                         (NAME_OR_ID may be a udpswarm: link)
  peer.ts get NAME_OR_ID -o FILE         download one file to FILE
  peer.ts list [PATTERN]                 list the tracker's files: content id, size,
                                         owners, name (PATTERN: substring, or * ? glob)

Flags:
  --tracker HOST:PORT  tracker address; IPv6 as [::1]:6969 (default ${DEFAULT_TRACKER});
                       A,B,... lists trackers of one swarm: the peer fails over to the
                       next when the one in use stops answering
  --id ID              node id, 1-24 chars of A-Z a-z 0-9 . _ - (default: random)
  --dir DIR            directory that send/share resolve relative names in (default .)
  --out DIR            directory downloads are saved to (default: --dir)
  --host ADDR          local address to bind (default 127.0.0.1, ::1 for an IPv6 tracker)
  --port N             local UDP port, 0 picks one (default 0)
  --mtu N              path MTU in bytes, 0 probes the path (default 0; 1500 = Ethernet;
                       probing tries up to 8952-byte datagrams to other hosts, 32 KiB on loopback)
  --no-share-partial   serve a download only once complete, not its pieces while it runs
  --direct-writes      write downloaded pieces with O_DIRECT (needs the libc grant; off: slower
                       on a quiet machine, helps when the page cache is slow)
  --owners N           owners to ask for per download, 1-16 (default: the peer's, 4)
  --overwrite          replace an existing output file
  -o, --output FILE    get: save the download as FILE (its directory needs a write grant)
  --metrics ADDR       serve GET /metrics (Prometheus) and /stats.json on PORT
                       (loopback) or HOST:PORT (default: off)
  --log-dir DIR        directory of node-<id>.log (default logs)
  -q, --quiet          no progress output
  --json               one JSON object per line on stdout (events, progress, result)
  --trace FILE         write each download's window, delay and losses to FILE (JSON lines)
  --max-upload RATE    cap on upload over all transfers, e.g. 10M = 10 MiB/s (K, M, G:
                       KiB/s, MiB/s, GiB/s; a plain number is bytes/s; default: off)
  --max-download RATE  cap on download over all downloads, same units (default: off)
  --upload-slots N     requesters served at once (tit-for-tat and turns, plus one
                       optimistic slot); the others fetch elsewhere meanwhile. 0 serves
                       all at once (default 8)
  -h, --help           this text
  -V, --version        the version

With \`deno task peer\` (what most people run), the defaults are:
  --dir ./files --out ./downloads --log-dir logs, tracker ${DEFAULT_TRACKER}
  grants: the network, read on any path (to share what you name), write on ./downloads
  and ./logs only. Saving elsewhere (--out DIR, -o FILE) needs a write grant there: the
  error names the path and prints the full \`deno run\` command that has it.
Sizes are in MiB (1 MiB = 1,048,576 bytes) and rates in MiB/s.

Prompt commands:
  send <file>          share a file from --dir
  download <file>      download a file by name, content id or link, in the background
  list [pattern]       files the tracker knows (content id, size, owners, name)
  status               transfers in progress and shared files
  files                shared and downloaded files with their content ids
  limit [upload|download RATE]
                       show or set the rate caps (e.g. limit upload 5M)
  wait                 wait until background downloads have finished
  help                 list the commands
  exit                 leave the swarm (end of input does the same)

Exit codes:
${codes}
`;
}
