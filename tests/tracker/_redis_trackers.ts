/**
 * `tracker.ts --store redis://…` as a real process, for the tests that run several trackers on
 * one private Redis.
 * @module
 */
import { type ChildProcess, spawnDeno } from "../_harness/processes.ts";
import { TRACKER_TS } from "../faults/scenarios/_scenario.ts";

/**
 * Starts `tracker.ts --store URL` in its own log directory and waits until it listens.
 *
 * @param logDir its log directory (created)
 * @param url the Redis URL
 * @param intervalMs its heartbeat interval
 * @returns the process and its `HOST:PORT`
 */
export async function spawnRedisTracker(
  logDir: string,
  url: string,
  intervalMs: number,
): Promise<{ child: ChildProcess; address: string }> {
  await Deno.mkdir(logDir, { recursive: true });
  const child = spawnDeno({
    entrypoint: TRACKER_TS,
    name: `tracker-${logDir.split("/").pop()}`,
    permissions: [
      "--allow-net=127.0.0.1",
      "--allow-env",
      `--allow-read=${logDir}`,
      `--allow-write=${logDir}`,
    ],
    args: ["--port", "0", "--log-dir", logDir, "--interval", `${intervalMs}ms`, "--store", url],
  });
  try {
    const { match } = await child.waitForLine(/listening on udp:\/\/(127\.0\.0\.1:\d+)/, 30_000);
    return { child, address: match[1]! };
  } catch (e) {
    await child.close();
    throw e;
  }
}
