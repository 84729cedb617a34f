/**
 * `deno task tracker`: the udpswarm tracker. Parses flags, starts the tracker, logs to
 * `<log-dir>/tracker.log`, and shuts down cleanly on SIGINT/SIGTERM.
 * @module
 */
import { parseArgs } from "node:util";
import { startTracker, type TrackerOptions } from "./lib/tracker/server.ts";
import {
  DEFAULT_GRACE,
  DEFAULT_INTERVAL_MS,
  DEFAULT_LIMITS,
  DEFAULT_MAX_OWNERS,
} from "./lib/tracker/limits.ts";
import { MAX_OWNERS } from "./lib/wire/limits.ts";

const USAGE = `udpswarm tracker: tells peers who shares which file

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
  --rate N           requests per second per source address         [${DEFAULT_LIMITS.requestsPerSecond}]
  --burst N          burst of requests per source address           [${DEFAULT_LIMITS.burst}]
  -v, --verbose      also print every log line on stdout
  -q, --quiet        print nothing on stdout but errors
  -h, --help         show this help

The first line on stdout is "listening on udp://HOST:PORT". Rules, limits and the cookie
scheme: docs/TRACKER.md.`;

class UsageError extends Error {}

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

function parse(args: string[]) {
  let values;
  try {
    ({ values } = parseArgs({
      args,
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
        verbose: { type: "boolean", short: "v", default: false },
        quiet: { type: "boolean", short: "q", default: false },
        help: { type: "boolean", short: "h", default: false },
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
  options.limits = limits;
  return { options, help: values.help, verbose: values.verbose, quiet: values.quiet };
}

async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parse(args);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`${e.message}\nRun with --help for usage.`);
      return 2;
    }
    throw e;
  }
  if (parsed.help) {
    console.log(USAGE);
    return 0;
  }
  const { options, verbose, quiet } = parsed;
  if (verbose && !quiet) options.log = (line) => console.log(line);
  let tracker;
  try {
    tracker = await startTracker(options);
  } catch (e) {
    const where = `${options.hostname}:${options.port}`;
    if (e instanceof Deno.errors.AddrInUse) {
      console.error(
        `Cannot start tracker: ${where} is already in use (another tracker? try --port)`,
      );
    } else if (e instanceof Deno.errors.PermissionDenied) {
      console.error(
        `Cannot start tracker: ${
          (e as Error).message
        } (the "tracker" permission set allows net and ./logs; use --log-dir ./logs, --no-log-file, or add the directory to deno.json)`,
      );
    } else if (e instanceof RangeError || e instanceof TypeError) {
      console.error(`Cannot start tracker: ${e.message}`);
      return 2;
    } else {
      console.error(`Cannot start tracker on ${where}: ${(e as Error).message}`);
    }
    return 1;
  }
  const a = tracker.localAddr;
  const host = a.hostname.includes(":") ? `[${a.hostname}]` : a.hostname;
  if (!quiet) {
    console.log(`listening on udp://${host}:${a.port}`);
    if (!verbose) {
      console.log(
        `interval ${(options.intervalMs ?? DEFAULT_INTERVAL_MS) / 1000} s, grace ${
          options.grace ?? DEFAULT_GRACE
        }, ${options.maxOwners ?? DEFAULT_MAX_OWNERS} owners per reply, log ${
          tracker.logPath ?? "(none)"
        }; Ctrl-C stops`,
      );
    }
  }
  const stopped = Promise.withResolvers<string>();
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  const handlers = signals.map((sig) => {
    const h = () => stopped.resolve(sig);
    Deno.addSignalListener(sig, h);
    return [sig, h] as const;
  });
  const sig = await stopped.promise;
  for (const [s, h] of handlers) Deno.removeSignalListener(s, h);
  await tracker.close();
  if (!quiet) {
    const c = tracker.counters;
    console.log(
      `${sig}: stopped (${c.registrations} registrations, ${c.needs} NEEDs answered, ${c.malformed} malformed datagrams)`,
    );
  }
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
