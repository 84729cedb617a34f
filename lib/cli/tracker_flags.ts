/**
 * Command-line parsing for `tracker.ts`, on `node:util` parseArgs. Every bad value becomes a
 * {@link UsageError} with a one-line message; the entrypoint prints it and exits with code 2.
 * @module
 */
import { parseArgs } from "node:util";
import type { TrackerOptions } from "../tracker/server.ts";
import {
  DEFAULT_GRACE,
  DEFAULT_INTERVAL_MS,
  DEFAULT_LIMITS,
  DEFAULT_MAX_OWNERS,
} from "../tracker/limits.ts";
import { MAX_OWNERS } from "../wire/limits.ts";
import { UsageError } from "./flags.ts";
import { DEFAULT_LOG_MAX_BYTES } from "../log/log_file.ts";
import { type MetricsAddress, parseMetricsAddress } from "../metrics/metrics_server.ts";
import { parseRedisUrl } from "../tracker/store/redis_url.ts";

/** The `--help` text of `tracker.ts`. */
export const TRACKER_USAGE = `udpswarm tracker: tells peers who shares which file

Usage: deno task tracker [options]
       deno run -P=tracker tracker.ts [options]

Options:
  --host ADDR        address to bind (use 0.0.0.0 or :: for all)  [127.0.0.1]
  --port N           UDP port (0 picks a free one)                 [6969]
  --interval T       heartbeat interval: 30, 30s, 500ms, 2m         [${DEFAULT_INTERVAL_MS / 1000}s]
  --grace G          evict a peer after T × (1 + G) of silence      [${DEFAULT_GRACE}]
  --owners N         owners per NEED reply, 1..${MAX_OWNERS}                 [${DEFAULT_MAX_OWNERS}]
  --log-dir DIR      where tracker.log goes                         [./logs]
  --no-log-file      write no log file
  --max-peers N      registered peers at once                       [${DEFAULT_LIMITS.maxPeers}]
  --max-files N      files one peer may share                       [${DEFAULT_LIMITS.maxFilesPerPeer}]
  --max-name N       longest file name in bytes (≤ 255)             [${DEFAULT_LIMITS.maxNameBytes}]
  --rate N           requests per second per source (address, port) [${DEFAULT_LIMITS.requestsPerSecond}]
  --burst N          burst of requests per source (address, port)   [${DEFAULT_LIMITS.burst}]
  --max-peers-per-address N   peers from one IP address             [${DEFAULT_LIMITS.maxPeersPerAddress}]
  --max-peers-per-prefix N    peers from one /24 (IPv6: /64)        [${DEFAULT_LIMITS.maxPeersPerPrefix}]
  --max-files-per-address N   files the peers of one IP may share   [${DEFAULT_LIMITS.maxFilesPerAddress}]
  --max-files-per-prefix N    files the peers of one /24 may share  [${DEFAULT_LIMITS.maxFilesPerPrefix}]
  --address-rate N   requests per second per IP address, all ports  [${DEFAULT_LIMITS.addressRequestsPerSecond}]
  --prefix-rate N    requests per second per /24 (IPv6: /64)        [${DEFAULT_LIMITS.prefixRequestsPerSecond}]
  --log-max-mb N     cap of tracker.log in MiB; then it becomes      [${
  DEFAULT_LOG_MAX_BYTES / 1024 / 1024
}]
                     tracker.log.1 and a new file starts
  --store STORE      where peers and files live: memory, or redis://HOST:PORT[/DB]
                     (trackers started with one Redis serve one swarm)  [memory]
  --store-timeout T  a Redis command unanswered for T counts as the connection
                     lost: requests waiting on it are dropped (peers retry) and
                     the tracker reconnects; 0 waits forever        [5s]
  --store-prefix NAME  the swarm's name in Redis: trackers with the same store
                     and NAME serve one swarm; each NAME is one Redis Cluster
                     slot, so swarms of different names spread over shards  [swarm]
  --metrics ADDR     serve GET /metrics (Prometheus) and /stats.json over HTTP on
                     PORT (loopback) or HOST:PORT                   [off]
  -v, --verbose      also print every log line on stdout
  -q, --quiet        print nothing on stdout but errors
  -h, --help         show this help
  -V, --version      show the version

The first line on stdout is "listening on udp://HOST:PORT". Rules, limits and the cookie
scheme: docs/TRACKER.md.`;

/** What `tracker.ts` was asked to do. */
export interface TrackerCliOptions {
  /** The options for `startTracker` (without `log`, which depends on `verbose`). */
  options: TrackerOptions;
  /** `-h`/`--help`: print {@link TRACKER_USAGE} and exit. */
  help: boolean;
  /** `-v`/`--verbose`: also print every log line on stdout. */
  verbose: boolean;
  /** `-q`/`--quiet`: print nothing on stdout but errors. */
  quiet: boolean;
  /** `-V`/`--version`: print the version and exit. */
  version: boolean;
  /** `--metrics`: where to serve the HTTP metrics, or undefined (off). */
  metrics: MetricsAddress | undefined;
  /** `--store`: `memory`, or a checked `redis://HOST:PORT[/DB]` URL. */
  store: string;
  /** `--store-timeout`: ms a Redis command may wait for its reply (0: forever), if given. */
  storeTimeoutMs: number | undefined;
  /** `--store-prefix`: the Redis key prefix (`{NAME}`, a Cluster hash tag), if given. */
  storePrefix: string | undefined;
}

function duration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) {
    throw new UsageError(
      `Cannot parse ${flag}: expected a duration like 30, 30s, 500ms or 2m, got "${text}"`,
    );
  }
  const v = Number(m[1]) * (m[2] === "ms" ? 1 : m[2] === "m" ? 60_000 : 1000);
  const ms = Math.round(v);
  if (ms < 1 || ms > 0x7fffffff) {
    throw new UsageError(`Cannot use ${flag}: ${text} is outside 1 ms..24 days`);
  }
  return ms;
}

function number(text: string, flag: string, min: number, max: number, integer = true): number {
  const v = Number(text);
  if (
    text.trim() === "" || !Number.isFinite(v) || (integer && !Number.isInteger(v)) || v < min ||
    v > max
  ) {
    throw new UsageError(
      `Cannot use ${flag}: expected ${
        integer ? "an integer" : "a number"
      } in ${min}..${max}, got "${text}"`,
    );
  }
  return v;
}

/**
 * Parses the tracker's command line.
 *
 * @param args the arguments after the script name
 * @returns the tracker options and the help/verbose/quiet switches
 * @throws {UsageError} On an unknown flag, a positional argument or a bad value.
 */
export function parseTrackerArgs(args: readonly string[]): TrackerCliOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: false,
      options: {
        host: { type: "string", default: "127.0.0.1" },
        port: { type: "string", default: "6969" },
        interval: { type: "string" },
        grace: { type: "string" },
        owners: { type: "string" },
        "log-dir": { type: "string", default: "./logs" },
        "no-log-file": { type: "boolean", default: false },
        "max-peers": { type: "string" },
        "max-files": { type: "string" },
        "max-name": { type: "string" },
        rate: { type: "string" },
        burst: { type: "string" },
        "max-peers-per-address": { type: "string" },
        "max-peers-per-prefix": { type: "string" },
        "max-files-per-address": { type: "string" },
        "max-files-per-prefix": { type: "string" },
        "address-rate": { type: "string" },
        "prefix-rate": { type: "string" },
        "log-max-mb": { type: "string" },
        verbose: { type: "boolean", short: "v", default: false },
        quiet: { type: "boolean", short: "q", default: false },
        help: { type: "boolean", short: "h", default: false },
        version: { type: "boolean", short: "V", default: false },
        metrics: { type: "string" },
        store: { type: "string", default: "memory" },
        "store-timeout": { type: "string" },
        "store-prefix": { type: "string" },
      },
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const options: TrackerOptions = {
    hostname: values.host,
    port: number(values.port, "--port", 0, 65535),
  };
  if (values.interval !== undefined) options.intervalMs = duration(values.interval, "--interval");
  if (values.grace !== undefined) options.grace = number(values.grace, "--grace", 0, 100, false);
  if (values.owners !== undefined) {
    options.maxOwners = number(values.owners, "--owners", 1, MAX_OWNERS);
  }
  if (!values["no-log-file"]) options.logDir = values["log-dir"];
  const limits: NonNullable<TrackerOptions["limits"]> = {};
  if (values["max-peers"] !== undefined) {
    limits.maxPeers = number(values["max-peers"], "--max-peers", 1, 1e9);
  }
  if (values["max-files"] !== undefined) {
    limits.maxFilesPerPeer = number(values["max-files"], "--max-files", 1, 1e9);
  }
  if (values["max-name"] !== undefined) {
    limits.maxNameBytes = number(values["max-name"], "--max-name", 1, 255);
  }
  if (values.rate !== undefined) {
    limits.requestsPerSecond = number(values.rate, "--rate", 0.001, 1e9, false);
  }
  if (values.burst !== undefined) limits.burst = number(values.burst, "--burst", 1, 1e9);
  const counts = [
    ["max-peers-per-address", "maxPeersPerAddress"],
    ["max-peers-per-prefix", "maxPeersPerPrefix"],
    ["max-files-per-address", "maxFilesPerAddress"],
    ["max-files-per-prefix", "maxFilesPerPrefix"],
  ] as const;
  for (const [flag, key] of counts) {
    const v = values[flag];
    if (v !== undefined) limits[key] = number(v, `--${flag}`, 1, 1e9);
  }
  if (values["address-rate"] !== undefined) {
    limits.addressRequestsPerSecond = number(values["address-rate"], "--address-rate", 1, 1e9);
    limits.addressBurst = 2 * limits.addressRequestsPerSecond;
  }
  if (values["prefix-rate"] !== undefined) {
    limits.prefixRequestsPerSecond = number(values["prefix-rate"], "--prefix-rate", 1, 1e9);
    limits.prefixBurst = 2 * limits.prefixRequestsPerSecond;
  }
  if (values["log-max-mb"] !== undefined) {
    options.logMaxBytes = Math.round(
      number(values["log-max-mb"], "--log-max-mb", 0.001, 1e6, false) * 1024 * 1024,
    );
  }
  options.limits = limits;
  let metrics: MetricsAddress | undefined;
  if (values.metrics !== undefined) {
    try {
      metrics = parseMetricsAddress(values.metrics);
    } catch (e) {
      throw new UsageError(
        (e as Error).message.replace(/^Cannot parse address/, "Cannot parse --metrics"),
      );
    }
    options.metrics = true;
  }
  const store = values.store;
  if (store !== "memory") {
    try {
      parseRedisUrl(store);
    } catch (e) {
      throw new UsageError(
        (e as Error).message.replace(/^Cannot use store/, "Cannot parse --store"),
      );
    }
  }
  const storeTimeout = values["store-timeout"];
  let storeTimeoutMs: number | undefined;
  if (storeTimeout !== undefined) {
    if (store === "memory") {
      throw new UsageError("Cannot use --store-timeout without --store redis://…");
    }
    storeTimeoutMs = /^\s*0+\s*$/.test(storeTimeout)
      ? 0
      : duration(storeTimeout, "--store-timeout");
  }
  const name = values["store-prefix"];
  let storePrefix: string | undefined;
  if (name !== undefined) {
    if (store === "memory") {
      throw new UsageError("Cannot use --store-prefix without --store redis://…");
    }
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
      throw new UsageError(
        `Cannot use --store-prefix "${name}": expected 1 to 64 letters, digits, '_', '.' or '-'`,
      );
    }
    storePrefix = `{${name}}`;
  }
  return {
    options,
    store,
    storeTimeoutMs,
    storePrefix,
    help: values.help,
    verbose: values.verbose,
    quiet: values.quiet,
    version: values.version,
    metrics,
  };
}
