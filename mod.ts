/**
 * udpswarm: BitTorrent-style file sharing over UDP. One tracker keeps who shares what; peers
 * share files and download them from several owners in parallel, every piece verified against
 * a SHA-256 manifest, surviving loss, dead or lying owners, and restarts (downloads resume).
 *
 * @example Run a tracker and two peers in one process and move a file
 * ```ts
 * import { startPeer, startTracker } from "./mod.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeFile(`${dir}/hello.txt`, new TextEncoder().encode("hello, swarm"));
 * await using tracker = await startTracker({ port: 0 });
 * const at = `127.0.0.1:${tracker.address.port}`;
 * await using owner = await startPeer({ tracker: at, dir, cacheDir: `${dir}/.cache` });
 * await owner.share("hello.txt");
 * await using getter = await startPeer({ tracker: at, outDir: `${dir}/out`, shareDownloads: false });
 * await Deno.mkdir(`${dir}/out`);
 * const result = await getter.download("hello.txt").done;
 * console.log(await Deno.readTextFile(result.path)); // "hello, swarm"
 * await Deno.remove(dir, { recursive: true });
 * ```
 * @module
 */

// Peers: share and download.
export { startPeer } from "./lib/peer/peer.ts";
export type {
  DownloadHandle,
  DownloadOptions,
  DownloadProgress,
  DownloadResult,
  Peer,
  PeerOptions,
  SharedFile,
} from "./lib/peer/api.ts";
export { TransferError, type TransferErrorCode } from "./lib/peer/transfer_error.ts";

// Tracker: server and client.
export {
  type RunningTracker,
  startTracker,
  type TrackerCounters,
  type TrackerOptions,
} from "./lib/tracker/server.ts";
export {
  type OwnedFile,
  type RegisteredInfo,
  TrackerClient,
  type TrackerClientOptions,
  type TrackerConnectOptions,
} from "./lib/tracker/client.ts";
export { TrackerError } from "./lib/tracker/tracker_error.ts";

// Manifests and content ids.
export {
  buildManifest,
  contentIdOf,
  decodeManifest,
  encodeManifest,
  type Manifest,
} from "./lib/peer/manifest.ts";

// The wire codec (docs/PROTOCOL.md).
export * from "./lib/wire/mod.ts";
