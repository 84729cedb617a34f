/**
 * A `tracker.ts` process on 127.0.0.1 for CLI tests: narrow grants (loopback network, its log
 * directory), a free port, a 2 s heartbeat interval.
 * @module
 */
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { type ChildProcess, spawnDeno } from "../_harness/processes.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** A running tracker process and the address it listens on. */
export interface TrackerProcess {
  /** The process; dispose of it. */
  child: ChildProcess;
  /** `127.0.0.1:PORT`. */
  address: string;
}

/**
 * Starts `tracker.ts --host 127.0.0.1 --port 0 --log-dir LOGS --interval 2` and waits until it listens.
 *
 * @param logs The log directory (also its only read/write grant).
 * @param timeoutMs Longest wait for the "listening on" line.
 * @returns The process and its address; the caller disposes of the process.
 */
export async function spawnTrackerProcess(
  logs: string,
  timeoutMs = 30_000,
): Promise<TrackerProcess> {
  const child = spawnDeno({
    name: "tracker",
    entrypoint: join(ROOT, "tracker.ts"),
    permissions: ["--allow-net=127.0.0.1", `--allow-read=${logs}`, `--allow-write=${logs}`],
    args: ["--host", "127.0.0.1", "--port", "0", "--log-dir", logs, "--interval", "2"],
  });
  try {
    const { match } = await child.waitForLine(/listening on (?:udp:\/\/)?(\S+:\d+)/, timeoutMs);
    return { child, address: match[1]! };
  } catch (e) {
    await child.close();
    throw e;
  }
}
