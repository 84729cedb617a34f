/**
 * udpswarm: BitTorrent-style file sharing over UDP. One tracker keeps who shares what; peers
 * share files and download them from several owners in parallel, every piece verified against
 * a SHA-256 manifest, surviving loss, dead or lying owners, and restarts (downloads resume).
 *
 * @example Run a tracker and two peers in one process and move a file
 * ```ts
 * import { startPeer, startTracker } from "@udpswarm/udpswarm";
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
// api.ts is the peer's public interface: every type in it (Peer, PeerOptions, SharedFile,
// DownloadOptions, DownloadHandle, DownloadProgress, DownloadResult, PeerStats, RateLimits).
export type * from "./lib/peer/api.ts";
export { TransferError, type TransferErrorCode } from "./lib/peer/transfer_error.ts";
export type { FileList, ListedFile, ListOptions } from "./lib/peer/file_list.ts";

// Content links: `udpswarm:CONTENT_ID?name=NAME&size=SIZE`, what `share` prints and `get` takes.
export {
  CONTENT_LINK_SCHEME,
  type ContentLink,
  formatContentLink,
  isContentLink,
  parseContentLink,
} from "./lib/peer/content_link.ts";
export type {
  DropTraceRecord,
  OwnerTraceSample,
  PtoTraceRecord,
  TransferTraceRecord,
} from "./lib/peer/core/transfer_trace.ts";

// Tracker: server and client.
export {
  type RunningTracker,
  startTracker,
  type TrackerCounters,
  type TrackerOptions,
  type TrackerRedisOptions,
} from "./lib/tracker/server.ts";
export { TrackerMetrics } from "./lib/tracker/tracker_metrics.ts";
export type { MetricFamily, MetricSample } from "./lib/metrics/prometheus.ts";
export type { TrackerLimits, TrackerTimingOptions } from "./lib/tracker/limits.ts";
export {
  type OwnedFile,
  type RegisteredInfo,
  TrackerClient,
  type TrackerClientOptions,
  type TrackerConnectOptions,
  type TrackerListQuery,
} from "./lib/peer/tracker_client.ts";
export { DEFAULT_RETRY, type RetryPolicy } from "./lib/peer/core/request_retry.ts";
export {
  TrackerSession,
  type TrackerSessionEvent,
  type TrackerSessionOptions,
} from "./lib/peer/core/tracker_session.ts";
export {
  TrackerError,
  TrackerErrorCode,
  type TrackerErrorCodeValue,
} from "./lib/tracker/tracker_error.ts";

// The pure cores (sans-I/O: events in with `now`, `poll*` out), for embedding or simulation.
export { DownloadCore } from "./lib/peer/core/download_core.ts";
export type * from "./lib/peer/core/download_core_event.ts";
export {
  DownloadEngine,
  type DownloadEngineOptions,
  type EngineEvent,
  type EngineManifest,
  type EngineStats,
  type Transmit as EngineTransmit,
} from "./lib/peer/core/download_engine.ts";
export {
  BudgetShare,
  DownloadBudget,
  type DownloadBudgetOptions,
} from "./lib/peer/core/download_budget.ts";
export * from "./lib/peer/core/upload_rules.ts";
export * from "./lib/peer/core/upload_slots.ts";
export type { CookieSource } from "./lib/peer/core/address_cookies.ts";
export { BlockPlan } from "./lib/peer/core/block_plan.ts";
export { Dispatcher } from "./lib/tracker/dispatch.ts";
export type { Keys, TrackerCore, TrackerCoreOptions } from "./lib/tracker/tracker_core.ts";
export type { TrackerCoreTiming } from "./lib/tracker/limits.ts";
export type { MemoryStore, MemoryStoreOptions } from "./lib/tracker/store/memory_store.ts";
export { StoreUnavailable } from "./lib/tracker/store/store_unavailable.ts";
export type * from "./lib/tracker/store/swarm_store.ts";
export type * from "./lib/tracker/store/bep15_store.ts";
export { Bep15EventCode, type Bep15EventName } from "./lib/wire/bep15.ts";
export type { RegistryCounters, RegistryOptions, Source } from "./lib/tracker/dispatch.ts";
export type { TrackerEvent } from "./lib/tracker/tracker_event.ts";
export { ReplySlab } from "./lib/wire/fast_path.ts";
export { BlockLayout } from "./lib/peer/core/block_layout.ts";
export type { PieceVerdict } from "./lib/peer/piece_writer.ts";
export type { BlockPlanStart } from "./lib/peer/core/block_plan.ts";

// The simulated network that runs the real cores (deterministic, virtual time, no sockets).
export * from "./lib/sim/sim_network.ts";
export * from "./lib/sim/sim_tracker.ts";
export * from "./lib/sim/sim_peer.ts";
export * from "./lib/sim/sim_download.ts";

// Manifests and content ids.
export {
  buildManifest,
  type BuildManifestOptions,
  type BuiltManifest,
  contentIdOf,
  decodeManifest,
  defaultPieceSizeFor,
  encodeManifest,
  type FileIdentity,
  type Manifest,
} from "./lib/peer/manifest.ts";

// The wire codec (docs/PROTOCOL.md): what an embedder needs to speak the protocol. The
// reader/writer internals and address helpers stay in lib/wire.
export { decodeHeader, decodeMessage, encodeMessage, isValidNodeId } from "./lib/wire/codec.ts";
export { writeBlockDataHeader } from "./lib/wire/block_data.ts";
export { WireError, type WireErrorReason } from "./lib/wire/wire_error.ts";
export { canonicalAddress, type PeerAddress } from "./lib/wire/address.ts";
export {
  type AckMessage,
  type Base as MessageBase,
  type BitfieldMessage,
  type BlockDataMessage,
  type BlockRequestMessage,
  type ByteRange,
  ErrorCode,
  type ErrorCodeValue,
  type ErrorMessage,
  type ExitMessage,
  type HaveMessage,
  type ListingEntry,
  type ListingMessage,
  type ListMatch,
  type ListMessage,
  type ManifestDataMessage,
  type ManifestRequestMessage,
  type Message,
  MessageType,
  type MessageTypeName,
  NEED_PARTIAL,
  type NeedMessage,
  type NeedTarget,
  type OwnerEntry,
  type OwnersMessage,
  type OwnMessage,
  type OwnProgress,
  type PeerMessage,
  type ProbeAckMessage,
  type ProbeMessage,
  type RegisteredMessage,
  type RegisterMessage,
  type ReportEntry,
  type ReportMessage,
  type SharerMessage,
  type TrackerMessage,
  type UpdateMessage,
} from "./lib/wire/messages.ts";
export * from "./lib/wire/limits.ts";
