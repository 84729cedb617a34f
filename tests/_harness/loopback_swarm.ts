/**
 * The setup of the in-process loopback tests: a temporary directory with one subdirectory per
 * peer and an in-process tracker on 127.0.0.1. `await using` stops the tracker and removes the
 * directory.
 * @module
 */
import { join } from "node:path";
import {
  type RunningTracker,
  startTracker,
  type TrackerOptions,
} from "../../lib/tracker/server.ts";
import { tempDir } from "./processes.ts";

/** What {@link loopbackSwarm} starts. */
export interface LoopbackSwarm<D extends readonly string[] = string[]> extends AsyncDisposable {
  /** The temporary directory. */
  path: string;
  /** The subdirectories' paths, in the order asked for. */
  dirs: { -readonly [I in keyof D]: string };
  /** The tracker. */
  tracker: RunningTracker;
  /** Its `HOST:PORT`. */
  address: string;
}

/**
 * Makes a temporary directory (`prefix…`) with the subdirectories `dirs` and starts a tracker on
 * a free port of 127.0.0.1.
 *
 * @param prefix the directory's name prefix
 * @param dirs the subdirectories to make
 * @param tracker more tracker options (timing, limits)
 * @returns the directory and the tracker
 */
export async function loopbackSwarm<const D extends readonly string[]>(
  prefix: string,
  dirs: D,
  tracker: Omit<TrackerOptions, "port"> = {},
): Promise<LoopbackSwarm<D>> {
  const stack = new AsyncDisposableStack();
  try {
    const tmp = stack.use(await tempDir(prefix));
    const paths = dirs.map((d) => join(tmp.path, d));
    for (const p of paths) await Deno.mkdir(p, { recursive: true });
    const t = stack.use(await startTracker({ ...tracker, port: 0 }));
    const rest = stack.move();
    return {
      path: tmp.path,
      dirs: paths as { -readonly [I in keyof D]: string },
      tracker: t,
      address: `${t.localAddr.hostname}:${t.localAddr.port}`,
      [Symbol.asyncDispose]: () => rest.disposeAsync(),
    };
  } catch (e) {
    await stack.disposeAsync();
    throw e;
  }
}
