/**
 * `deno task tracker`: the udpswarm tracker. Parses flags (lib/cli/tracker_flags.ts), starts
 * the tracker, logs to `<log-dir>/tracker.log`, and shuts down cleanly on SIGINT/SIGTERM.
 * @module
 */
import { startTracker } from "./lib/tracker/server.ts";
import { StoreUnavailable } from "./lib/tracker/store/store_unavailable.ts";
import { DEFAULT_GRACE, DEFAULT_INTERVAL_MS, DEFAULT_MAX_OWNERS } from "./lib/tracker/limits.ts";
import { UsageError } from "./lib/cli/flags.ts";
import { parseTrackerArgs, TRACKER_USAGE } from "./lib/cli/tracker_flags.ts";
import { versionLine } from "./lib/cli/version.ts";
import { type MetricsServer, serveMetrics } from "./lib/metrics/metrics_server.ts";
import { formatHostPort } from "./lib/net/host_port.ts";

async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseTrackerArgs(args);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`${e.message}\nRun with --help for usage.`);
      return 2;
    }
    throw e;
  }
  if (parsed.help) {
    console.log(TRACKER_USAGE);
    return 0;
  }
  if (parsed.version) {
    console.log(versionLine("tracker"));
    return 0;
  }
  const { options, verbose, quiet } = parsed;
  if (verbose && !quiet) options.log = (line) => console.log(line);
  if (parsed.store !== "memory") {
    // Several trackers on one Redis serve one swarm; the cookie secret is shared through it.
    options.redis = {
      url: parsed.store,
      ...(parsed.storeTimeoutMs !== undefined ? { commandTimeoutMs: parsed.storeTimeoutMs } : {}),
      ...(parsed.storePrefix !== undefined ? { prefix: parsed.storePrefix } : {}),
    };
  }
  let tracker;
  try {
    tracker = await startTracker(options);
  } catch (e) {
    const where = formatHostPort({ hostname: options.hostname ?? "", port: options.port ?? 0 });
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
    } else if (e instanceof StoreUnavailable) {
      console.error(`Cannot start tracker: ${e.message}`);
    } else if (e instanceof RangeError || e instanceof TypeError) {
      console.error(`Cannot start tracker: ${e.message}`);
      return 2;
    } else {
      console.error(`Cannot start tracker on ${where}: ${(e as Error).message}`);
    }
    return 1;
  }
  let metricsServer: MetricsServer | undefined;
  if (parsed.metrics) {
    const running = tracker;
    const m = running.metrics!;
    try {
      metricsServer = serveMetrics({
        ...parsed.metrics,
        metrics: () => m.families(running.counters),
        stats: () => m.stats(running.counters),
      });
    } catch (e) {
      await tracker.close();
      console.error(
        `Cannot serve metrics on ${formatHostPort(parsed.metrics)}: ${(e as Error).message}`,
      );
      return 1;
    }
  }
  if (!quiet) {
    console.log(`listening on udp://${formatHostPort(tracker.localAddr)}`);
    if (metricsServer) console.log(`metrics on http://${metricsServer.address}/metrics`);
    if (!verbose) {
      console.log(
        `interval ${(options.intervalMs ?? DEFAULT_INTERVAL_MS) / 1000} s, grace ${
          options.grace ?? DEFAULT_GRACE
        }, ${
          options.maxOwners ?? DEFAULT_MAX_OWNERS
        } owners per reply, store ${parsed.store}, log ${
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
  await metricsServer?.close();
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
