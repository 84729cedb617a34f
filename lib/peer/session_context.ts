/**
 * What a `DownloadSession` (download_session.ts) needs from its peer: the settings, the
 * tracker, the socket and the disk (the `.part` file as a {@link PartStore}).
 * @module
 */
import type { NeedTarget, OwnersMessage } from "../wire/messages.ts";
import type { DownloadResult } from "./api.ts";
import type { DownloadCoreEvent, DownloadSettings } from "./core/download_core_event.ts";
import type { Manifest } from "./manifest.ts";
import type { UdpEndpoint } from "../net/udp_endpoint.ts";

/** The on-disk state of a download, as the session needs it. */
export interface PartStore {
  /** Verified pieces already on disk (kept up to date: a partial download is served from it). */
  readonly verifiedPieces: Iterable<number> & { has(index: number): boolean };
  /** The `.part` file, which the piece writer thread opens too. */
  readonly partPath: string;
  /** Device and inode of the open `.part`: the piece writer thread checks it opened the same. */
  readonly partIdentity?: { dev: number; ino: number } | undefined;
  /** What re-hashing the resumed pieces found (pieces claimed, pieces that failed). */
  readonly resumeCheck?: { checked: number; failed: number; bytes: number } | undefined;
  /** Records a piece the piece writer has verified and written. */
  markVerified(index: number): void;
  /** Writes a verified piece at its offset (synchronous: the engine's buffer is reused after). */
  writePiece(index: number, data: Uint8Array): void;
  /**
   * Piece buffers {@link writePieceDirect} can write from (`O_DIRECT`); undefined when pieces
   * can only be written with {@link writePiece}.
   */
  readonly newPieceBuffer?: ((size: number) => Uint8Array) | undefined;
  /**
   * Starts writing a verified piece from `data` itself, which stays untouched until the promise
   * settles; records nothing (`markVerified` follows). Undefined: use {@link writePiece}.
   */
  writePieceDirect?(index: number, data: Uint8Array): Promise<void> | undefined;
  /** Pieces written with {@link writePieceDirect} so far, and the system calls that wrote them. */
  directWrites?(): { pieces: number; writes: number };
  /** fsyncs, renames to the final name, returns the final path. */
  complete(): Promise<string>;
  /** Saves state and closes; the `.part` stays for a later resume. */
  close(): Promise<void>;
}

/** What a download in progress tells its peer, so the peer can serve it (swarming). */
export type PartialEvent =
  | {
    kind: "opened";
    contentIdHex: string;
    name: string;
    manifest: Manifest;
    encoded: Uint8Array;
    part: PartStore;
  }
  | { kind: "verified"; contentIdHex: string; index: number }
  | { kind: "ended"; contentIdHex: string; completed: boolean };

/** What a session needs from its peer: settings, the tracker, the socket, the disk. */
export interface SessionContext extends DownloadSettings {
  /** Directory downloads are saved into, unless a download names another. */
  readonly outDir: string;
  /**
   * NEED; `exclude`: owners that failed this download, for the tracker to leave out; `partial`:
   * partial owners welcome (NEED_PARTIAL).
   */
  need(
    want: NeedTarget,
    maxOwners: number,
    exclude?: readonly string[],
    partial?: boolean,
  ): Promise<OwnersMessage>;
  /** REPORT: the bytes received and verified from each owner (what ranks owners). */
  report?(contentId: Uint8Array, entries: { nodeId: string; bytes: number }[]): void;
  send(bytes: Uint8Array, to: Deno.NetAddr): void;
  /** Opens a UDP socket for one owner's block traffic; undefined: the main socket carries all. */
  openDataSocket?: (() => UdpEndpoint) | undefined;
  log(line: string): void;
  /** A stored manifest for this content id from an earlier, interrupted run (resume). */
  loadResumeManifest(
    contentIdHex: string,
    name: string,
    outDir: string,
  ): Promise<Uint8Array | undefined>;
  openPart(
    args: Omit<Extract<DownloadCoreEvent, { kind: "open_part" }>, "kind">,
  ): Promise<PartStore>;
  /** Path of a file this peer already shares with that content id, if any. */
  sharedPath(contentIdHex: string): string | undefined;
  /**
   * The `.part` file is open: the peer may serve its verified pieces while it downloads (from
   * its first one). Called with every piece verified afterwards, and with `done` when the
   * download ends (completed or not).
   */
  partial?(event: PartialEvent): void;
  /**
   * Whether the file at `path` has this content id (hashed with the peer's piece size). Absent:
   * an existing file is never taken for the download.
   */
  hasContent?(path: string, contentIdHex: string): Promise<boolean>;
  /** Called once the file is complete and renamed. */
  completed(result: DownloadResult, manifest: Manifest, encoded: Uint8Array): Promise<void>;
}
