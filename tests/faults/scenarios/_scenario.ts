/**
 * Shared pieces of the fault scenarios (issue 7): the real `tracker.ts` and `peer.ts` as child
 * processes with narrow, explicit permissions, in-process trackers and peers, shared test files,
 * RSS sampling (ps, which reads /proc), and the `[faults]` result lines that docs/FAULTS.md quotes.
 *
 * Every scenario prints one line per measurement on stderr:
 * `[faults] <scenario> {"key":value,…}`. With `FAULTS_RESULTS=<file>` in the environment the
 * same objects are appended to that file as JSON lines.
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startPeer } from "../../../lib/peer/peer.ts";
import type { Peer, PeerOptions } from "../../../lib/peer/api.ts";
import { type RunningTracker, startTracker } from "../../../lib/tracker/server.ts";
import {
  type ChildProcess,
  randomFile,
  sha256File,
  spawnDeno,
  type TempDir,
  tempDir,
} from "../../_harness/processes.ts";

/** The repository root. */
export const ROOT: string = fileURLToPath(new URL("../../../", import.meta.url));
/** The piece writer's worker module, which a peer process must be allowed to read. */
export const WORKER: string = join(ROOT, "lib", "peer", "piece_writer_worker.ts");
/** `peer.ts` and `tracker.ts`. */
export const PEER_TS: string = join(ROOT, "peer.ts");
export const TRACKER_TS: string = join(ROOT, "tracker.ts");

export const MiB = 1024 * 1024;

/** Permissions of a peer process working in `dir` (files, downloads and logs all under it). */
export function peerPermissions(dir: string, extraRead: string[] = []): string[] {
  return [
    "--allow-net=127.0.0.1",
    `--allow-read=${[dir, WORKER, ...extraRead].join(",")}`,
    `--allow-write=${dir}`,
    "--allow-sys=statfs", // the free-space check before a download
  ];
}

/** A tracker process. */
export interface TrackerProcess extends AsyncDisposable {
  child: ChildProcess;
  port: number;
  /** `127.0.0.1:PORT`, for `--tracker`. */
  address: string;
  logPath: string;
}

/**
 * Starts `tracker.ts` and waits for its `listening on` line.
 *
 * @param logDir Where tracker.log goes.
 * @param args More flags (`--interval 1s`, `--port N`, …). @default `--port 0`
 */
export async function spawnTracker(logDir: string, args: string[] = []): Promise<TrackerProcess> {
  const child = spawnDeno({
    entrypoint: TRACKER_TS,
    name: "tracker",
    permissions: ["--allow-net=127.0.0.1", `--allow-read=${logDir}`, `--allow-write=${logDir}`],
    args: ["--log-dir", logDir, ...(args.includes("--port") ? [] : ["--port", "0"]), ...args],
  });
  try {
    const { match } = await child.waitForLine(/listening on udp:\/\/127\.0\.0\.1:(\d+)/, 15_000);
    const port = Number(match[1]);
    return {
      child,
      port,
      address: `127.0.0.1:${port}`,
      logPath: join(logDir, "tracker.log"),
      [Symbol.asyncDispose]: async () => void await child.close(),
    };
  } catch (e) {
    await child.close();
    throw e;
  }
}

/**
 * Starts `peer.ts share FILES` and waits until every file is announced.
 *
 * @returns The child and the content id of each file, in order.
 */
export async function spawnOwner(options: {
  dir: string;
  tracker: string;
  id: string;
  files: string[];
  args?: string[];
  /** More paths it may read (the shared files when they are outside `dir`). */
  read?: string[];
}): Promise<{ child: ChildProcess; contentIds: string[] }> {
  const child = spawnDeno({
    entrypoint: PEER_TS,
    name: options.id,
    permissions: peerPermissions(options.dir, options.read),
    args: [
      "share",
      ...options.files,
      "--dir",
      options.dir,
      ...peerArgs(options),
      "--quiet",
      ...(options.args ?? []),
    ],
  });
  try {
    const contentIds: string[] = [];
    let since = 0;
    for (let i = 0; i < options.files.length; i++) {
      const { line, match } = await child.waitForLine(/^sharing \S+ ([0-9a-f]{64})$/, 20_000, {
        since,
        stream: "stdout",
      });
      since = line.index + 1;
      contentIds.push(match[1]!);
    }
    return { child, contentIds };
  } catch (e) {
    await child.close();
    throw e;
  }
}

/** `--tracker`, `--id` and `--log-dir DIR/logs`, which every peer process of a scenario gets. */
function peerArgs(options: { tracker: string; id: string; dir: string }): string[] {
  return ["--tracker", options.tracker, "--id", options.id, "--log-dir", join(options.dir, "logs")];
}

/**
 * Starts `peer.ts get QUERY --json` into `out`, with its log under `dir/logs`.
 *
 * @param options `permissions` default to {@link peerPermissions} of `dir`; `args` are more flags.
 * @returns The child, named after its id; dispose of it on every path.
 */
export function spawnGet(options: {
  dir: string;
  out: string;
  tracker: string;
  id: string;
  query: string;
  args?: string[];
  permissions?: string[];
}): ChildProcess {
  return spawnDeno({
    entrypoint: PEER_TS,
    name: options.id,
    permissions: options.permissions ?? peerPermissions(options.dir),
    args: [
      "get",
      options.query,
      "--out",
      options.out,
      ...peerArgs(options),
      "--json",
      ...(options.args ?? []),
    ],
  });
}

/** The JSON events a `peer.ts … --json` child printed on stdout. */
export function jsonEvents(child: ChildProcess): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const l of child.lines) {
    if (l.stream !== "stdout" || !l.text.startsWith("{")) continue;
    try {
      out.push(JSON.parse(l.text));
    } catch {
      // not an event line
    }
  }
  return out;
}

/** A shared test file: its path and SHA-256. */
export interface TestFile {
  path: string;
  name: string;
  size: number;
  sha256: string;
}

/** Writes a deterministic file of `size` bytes as `dir/name`. */
export async function makeFile(
  dir: string,
  name: string,
  size: number,
  seed: number,
): Promise<TestFile> {
  const path = join(dir, name);
  await randomFile(path, size, seed);
  return { path, name, size, sha256: await sha256File(path) };
}

/**
 * Starts an in-process peer that keeps its log lines in memory.
 *
 * @returns The peer and its log lines (live array).
 */
export async function startLoggedPeer(
  options: PeerOptions,
): Promise<{ peer: Peer; log: string[] }> {
  const log: string[] = [];
  const peer = await startPeer({ ...options, log: (l) => void log.push(l) });
  return { peer, log };
}

/**
 * Resident set size of a process, as `ps -o rss=` reports it (Deno wants --allow-all for
 * /proc/PID/status, so the test asks ps, which reads the same VmRSS).
 *
 * @returns RSS in KiB, or undefined when there is no such process.
 */
export function rssKiB(pid: number): number | undefined {
  try {
    const { success, stdout } = new Deno.Command("ps", {
      args: ["-o", "rss=", "-p", String(pid)],
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    const kib = Number(new TextDecoder().decode(stdout).trim());
    return success && kib > 0 ? kib : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Prints `[faults] scenario {figures}` on stderr and appends it to `$FAULTS_RESULTS` if set.
 *
 * @param scenario Short scenario name.
 * @param figures What it measured.
 */
export function report(scenario: string, figures: Record<string, unknown>): void {
  const json = JSON.stringify(figures);
  console.error(`[faults] ${scenario} ${json}`);
  let path: string | undefined;
  try {
    path = Deno.env.get("FAULTS_RESULTS");
  } catch {
    path = undefined;
  }
  if (path) {
    Deno.writeTextFileSync(path, JSON.stringify({ scenario, ...figures }) + "\n", { append: true });
  }
}

/** Megabytes (10^6 bytes) per second, one decimal. */
export function mbps(bytes: number, ms: number): number {
  return Math.round((bytes / 1e3 / Math.max(ms, 1)) * 10) / 10;
}

/** A UDP port that was free a moment ago (bound on port 0, then released). */
export function freePort(): number {
  const conn = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const port = (conn.addr as Deno.NetAddr).port;
  conn.close();
  return port;
}

/**
 * A temporary directory with named subdirectories, removed on dispose.
 *
 * @param prefix Name prefix of the temporary directory.
 * @param names Subdirectories to create.
 * @returns The directory, with the path of each subdirectory under its name.
 */
export async function scenarioDir<K extends string>(
  prefix: string,
  names: readonly K[],
): Promise<TempDir & { sub: Record<K, string> }> {
  const dir = await tempDir(prefix);
  const sub = {} as Record<K, string>;
  for (const n of names) {
    sub[n] = join(dir.path, n);
    await Deno.mkdir(sub[n]);
  }
  return Object.assign(dir, { sub });
}

/** `127.0.0.1:PORT` of an in-process tracker, for `--tracker` and `PeerOptions.tracker`. */
export function trackerAddress(tracker: { localAddr: Deno.NetAddr }): string {
  return `127.0.0.1:${tracker.localAddr.port}`;
}

/**
 * Starts one `peer.ts share` process per id, each in its own home `dir/ID`, all sharing the
 * same files (which live in `read`).
 *
 * @returns The children, in the order of `ids`.
 */
export async function spawnOwners(options: {
  dir: string;
  tracker: string;
  ids: string[];
  files: (id: string) => string[];
  read: string[];
}): Promise<ChildProcess[]> {
  const started = await Promise.allSettled(options.ids.map(async (id) => {
    const home = join(options.dir, id);
    await Deno.mkdir(home);
    const { child } = await spawnOwner({ ...options, dir: home, id, files: options.files(id) });
    return child;
  }));
  const children = started.flatMap((s) => s.status === "fulfilled" ? [s.value] : []);
  const failed = started.find((s) => s.status === "rejected");
  if (failed) {
    await Promise.all(children.map((c) => c.close()));
    throw failed.reason;
  }
  return children;
}

/**
 * Starts in-process owners that share `files` from `dir`, each with its own manifest cache.
 *
 * @returns The peers, in the order of `ids`; close them on every path.
 */
export async function startOwners(options: {
  dir: string;
  tracker: string;
  ids: string[];
  files: string[];
  cacheRoot: string;
}): Promise<Peer[]> {
  const peers: Peer[] = [];
  try {
    for (const id of options.ids) {
      const { peer } = await startLoggedPeer({
        tracker: options.tracker,
        nodeId: id,
        dir: options.dir,
        cacheDir: join(options.cacheRoot, `cache-${id}`),
      });
      peers.push(peer);
      for (const f of options.files) await peer.share(f);
    }
    return peers;
  } catch (e) {
    for (const p of peers) await p.close();
    throw e;
  }
}

/** Options for {@link startScenario}. */
export interface ScenarioOptions<K extends string> {
  /** The temporary directory's name prefix. */
  prefix: string;
  /** Its subdirectories. */
  dirs: readonly K[];
  /** The random test file: the subdirectory it is written to, its name, size and seed. */
  file: { in: K; name: string; size: number; seed: number };
  /** Node ids of in-process owners sharing the file from its subdirectory (none: no owners). */
  owners?: string[];
}

/** A running scenario; `await using` closes the owners, stops the tracker, removes the dir. */
export interface Scenario<K extends string> extends AsyncDisposable {
  /** The temporary directory and its subdirectories. */
  dir: TempDir & { sub: Record<K, string> };
  /** The test file. */
  file: TestFile;
  /** The in-process tracker (T = 2 s). */
  tracker: RunningTracker;
  /** Its `127.0.0.1:PORT`. */
  address: string;
  /** The owners, in the order of `owners`. */
  owners: Peer[];
}

/**
 * The setup most scenarios share: a temporary directory, a random test file, an in-process
 * tracker on loopback and, optionally, in-process owners of the file (each with its manifest
 * cache under the directory).
 *
 * @param options the directory, the file and the owners
 * @returns the scenario
 */
export async function startScenario<K extends string>(
  options: ScenarioOptions<K>,
): Promise<Scenario<K>> {
  const dir = await scenarioDir(options.prefix, options.dirs);
  const stack = new AsyncDisposableStack();
  stack.use(dir);
  try {
    const f = options.file;
    const file = await makeFile(dir.sub[f.in], f.name, f.size, f.seed);
    const tracker = stack.use(await startTracker({ port: 0, intervalMs: 2000 }));
    const address = trackerAddress(tracker);
    const owners = options.owners === undefined ? [] : await startOwners({
      dir: dir.sub[f.in],
      tracker: address,
      ids: options.owners,
      files: [file.name],
      cacheRoot: dir.path,
    });
    stack.defer(async () => {
      for (const o of owners) await o.close();
    });
    const rest = stack.move();
    return {
      dir,
      file,
      tracker,
      address,
      owners,
      [Symbol.asyncDispose]: () => rest.disposeAsync(),
    };
  } catch (e) {
    await stack.disposeAsync();
    throw e;
  }
}
