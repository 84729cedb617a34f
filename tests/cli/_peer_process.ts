/**
 * A `peer.ts` process for CLI tests with narrow grants: the loopback network, its own directory
 * (read and write), the log directory (write) and the piece verifier's Worker module (read: Deno
 * loads a Worker's module with the peer's read grant; the peer's other modules are loaded before
 * the grants apply).
 * @module
 */
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { type ChildProcess, spawnDeno } from "../_harness/processes.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** The checkout's `peer.ts`. */
export const PEER_TS: string = join(ROOT, "peer.ts");

/** The piece verifier's Worker module. */
export const WORKER: string = join(ROOT, "lib", "peer", "piece_writer_worker.ts");

/**
 * The grants of a peer in `dir` that logs to `logs`.
 *
 * @param dir the peer's directory
 * @param logs the log directory
 * @returns `deno run` permission flags
 */
export function peerPermissions(dir: string, logs: string): string[] {
  return ["--allow-net=127.0.0.1", `--allow-read=${dir},${WORKER}`, `--allow-write=${dir},${logs}`];
}

/**
 * Spawns `peer.ts ARGS` with {@link peerPermissions}.
 *
 * @param name the process's name in test output
 * @param dir the peer's directory
 * @param logs the log directory
 * @param args the peer's arguments
 * @returns the process; the caller disposes of it
 */
export function spawnPeerProcess(
  name: string,
  dir: string,
  logs: string,
  args: string[],
): ChildProcess {
  return spawnDeno({ name, entrypoint: PEER_TS, permissions: peerPermissions(dir, logs), args });
}

/** What a one-shot peer process left: its exit code and its output. */
export interface PeerRun {
  /** The exit code. */
  code: number;
  /** Its stdout. */
  stdout: string;
  /** Its stderr. */
  stderr: string;
  /** Both streams, interleaved as they came (for assertion messages). */
  output: string;
}

/**
 * Runs a one-shot `peer.ts ARGS` ({@link spawnPeerProcess}) to its exit.
 *
 * @param name the process's name in test output
 * @param dir the peer's directory
 * @param logs the log directory
 * @param args the peer's arguments
 * @param timeoutMs the longest wait for the exit
 * @returns its exit code and output
 */
export async function runPeerProcess(
  name: string,
  dir: string,
  logs: string,
  args: string[],
  timeoutMs = 30_000,
): Promise<PeerRun> {
  await using child = spawnPeerProcess(name, dir, logs, args);
  const { code } = await child.wait(timeoutMs);
  const [stdout, stderr, output] = [child.output("stdout"), child.output("stderr"), child.output()];
  return { code, stdout, stderr, output };
}
