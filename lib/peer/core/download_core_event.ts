/**
 * The surface of a {@link DownloadCore}: its options, the datagrams it sends and the events it
 * asks its driver to act on (tracker calls, disk, logs, progress, the outcome).
 * @module
 */
import type { TransferTraceRecord } from "./transfer_trace.ts";
import type { DownloadBudget } from "./download_budget.ts";
import type { PeerAddress } from "../../wire/address.ts";
import type { NeedTarget } from "../../wire/messages.ts";
import type { DownloadProgress, DownloadResult } from "../api.ts";
import type { Manifest } from "../manifest.ts";
// deno-lint-ignore no-unused-vars
import type { DownloadCore } from "./download_core.ts";

/** A peer's settings for its downloads. */
export interface DownloadSettings {
  /** This peer's node id (never an owner of its own download). */
  readonly nodeId: string;
  /** Owners asked for per NEED. */
  readonly maxOwners: number;
  /**
   * Largest UDP payload to use (from --mtu), or 0 to probe: up to 32 KiB blocks on loopback, up to
   * 8,952-byte datagrams to owners on other hosts (`datagram_cap.ts`).
   */
  readonly mtu: number;
  /**
   * Cap on data bytes per block (0: 32 KiB, or what the path carries if less). Above 32 KiB the
   * path is probed up to 65,507-byte datagrams as well.
   */
  readonly maxBlock: number;
  /** Pieces are verified and written off the loop (`verify_piece` events), on a Worker. */
  readonly verifyInWorker: boolean;
  /**
   * The kernel receive buffer of each socket blocks arrive on, bytes (SO_RCVBUF as the kernel
   * reports it): it bounds the bytes in flight per owner (receive_budget.ts).
   * @default DEFAULT_RECEIVE_BUFFER (the Linux default, ~208 KiB)
   */
  readonly receiveBuffer?: number | undefined;
  /** Receives the engine's transfer trace (window, delay, losses; see transfer_trace.ts). */
  readonly trace?: ((record: TransferTraceRecord) => void) | undefined;
  /** The peer's download rate cap, shared by all its downloads (download_budget.ts). */
  readonly budget?: DownloadBudget | undefined;
  /** Test hook: rewrite an owner's address before contacting it. */
  readonly mapOwnerAddress?: ((address: PeerAddress, nodeId: string) => PeerAddress) | undefined;
  /**
   * Swarm: ask the tracker for partial owners too, learn what each owner has (BITFIELD, HAVE;
   * swarm_view.ts) and pick rarest first among them. @default false
   */
  readonly swarm?: boolean | undefined;
  /** Random numbers in [0, 1) for the piece picker. @default Math.random */
  readonly random?: (() => number) | undefined;
  /**
   * This peer serves what the download verifies on this UDP port of its address (swarming with
   * partial sharing on): each owner is told so (SHARER) with the first BITFIELD request, so it
   * can fetch from this peer too. @default none
   */
  readonly sharePort?: number | undefined;
}

/** Options for {@link DownloadCore}. */
export interface DownloadCoreOptions extends DownloadSettings {
  /** Name or 64-hex content id asked for. */
  query: string;
  /** This download's transfer id, u32: every request carries it, every answer echoes it. */
  txid: number;
  /** Directory the file is saved into. */
  outDir: string;
  /** Save under this name instead of the advertised one. */
  saveAs?: string | undefined;
  /** Replace an existing file of the same name. @default false */
  overwrite?: boolean | undefined;
  /** Fail with `size_mismatch` unless the verified manifest has this size (a link's size). */
  expectedSize?: number | undefined;
  /** Owners' block traffic may use a data socket of their own (see {@link DownloadTransmit}). */
  dataSockets: boolean;
}

/** A datagram for the driver to send. */
export interface DownloadTransmit {
  /** The encoded datagram. */
  bytes: Uint8Array;
  /** Where it goes. */
  to: Deno.NetAddr;
  /**
   * Send it from this owner's data socket (the driver opens it on first use and feeds what it
   * receives to {@link DownloadCore.handleDatagram}); undefined: from the peer's socket.
   */
  dataSocket: string | undefined;
}

/** What the part file tells the core once it is open. */
export interface OpenedPart {
  /** Verified pieces already on disk (hashed again when the part was opened). */
  readonly verifiedPieces: Iterable<number>;
  /** What hashing the resumed pieces found: pieces the state claimed, and those that failed. */
  readonly resumeCheck?: { checked: number; failed: number; bytes: number } | undefined;
  /**
   * Piece buffers the driver can write straight to disk (PartFile.newPieceBuffer: `O_DIRECT`).
   * When set (and `verifyInWorker` is off) the engine emits `verify_piece` events and the driver
   * hashes each piece, writes it from its buffer and answers with `handlePieceVerdict` once it is
   * on disk: the engine keeps the buffer until then.
   */
  readonly newPieceBuffer?: ((size: number) => Uint8Array) | undefined;
}

/** Something the driver does or reports, in order. */
export type DownloadCoreEvent =
  /**
   * Ask the tracker (leaving out `exclude`; with `NEED_PARTIAL` when `partial`); answer with
   * `handleNeedReply` or `handleNeedFailed`.
   */
  | { kind: "need"; want: NeedTarget; maxOwners: number; exclude?: string[]; partial?: true }
  /**
   * Tell the tracker (REPORT) the bytes received and verified from each owner since the last
   * report; nothing to answer. At the end of a download, and every `REPORT_EVERY_MS`.
   */
  | { kind: "report"; contentId: Uint8Array; entries: { nodeId: string; bytes: number }[] }
  /**
   * Look for a shared file with this content id, and (if `checkExists`) whether `path` exists;
   * answer with `handleTargetChecked` (or `fail` when the check itself fails).
   */
  | { kind: "check_target"; contentIdHex: string; path: string; checkExists: boolean; size: number }
  /** Load the manifest stored by an interrupted run; answer with `handleManifestLoaded`. */
  | { kind: "load_resume_manifest"; contentIdHex: string; name: string; outDir: string }
  /** Open (or resume) the `.part` file; answer with `handlePartOpened`. */
  | {
    kind: "open_part";
    outDir: string;
    name: string;
    contentIdHex: string;
    manifest: Manifest;
    encodedManifest: Uint8Array;
    overwrite: boolean;
  }
  /** Write a verified piece now (`data` is reused after the next call into the core). */
  | { kind: "write_piece"; index: number; data: Uint8Array }
  /** Verify and write a piece off the loop; answer with `handlePieceVerdict`. */
  | { kind: "verify_piece"; index: number; offset: number; data: Uint8Array }
  /** Record that a piece verified off the loop is on disk. */
  | { kind: "mark_verified"; index: number }
  /** Every piece is verified: flush, rename, answer with `handleFileCompleted(path)`. */
  | { kind: "complete_file" }
  /** A log line. */
  | { kind: "log"; line: string }
  /** A progress report. */
  | { kind: "progress"; progress: DownloadProgress }
  /**
   * The download succeeded. `manifest` is absent when the file was shared already (nothing was
   * downloaded).
   */
  | { kind: "done"; result: DownloadResult; manifest?: Manifest; encodedManifest?: Uint8Array }
  /** The download failed (a `TransferError`, or what a driver's disk call threw). */
  | { kind: "failed"; error: unknown };
