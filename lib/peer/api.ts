/**
 * The public shape of a running peer. `startPeer()` (lib/peer/peer.ts) returns a {@link Peer};
 * the CLI and embedders program against these types.
 * @module
 */
import type { PeerAddress } from "../wire/address.ts";
import type { FileList, ListOptions } from "./file_list.ts";
import type { TransferTraceRecord } from "./core/transfer_trace.ts";

/** Options for `startPeer()`. */
export interface PeerOptions {
  /**
   * Tracker address `host:port`, or several comma-separated (`A,B,…`, trackers of one swarm):
   * the peer uses the first and fails over to the next when it stops answering, registers
   * there and announces its files again; downloads in progress carry on.
   * @default "127.0.0.1:6969"
   */
  tracker?: string;
  /** Node id, 1..24 chars of `[A-Za-z0-9._-]`. @default a random id */
  nodeId?: string;
  /** Local address to bind. @default "127.0.0.1" */
  hostname?: string;
  /** Local UDP port; 0 picks one. @default 0 */
  port?: number;
  /** Directory that `share(name)` resolves relative names in. @default "." */
  dir?: string;
  /** Directory downloads are saved into. @default dir */
  outDir?: string;
  /** Where manifests are cached (keyed by path, size, mtime). @default `${dir}/.udpswarm` */
  cacheDir?: string;
  /**
   * Piece size in bytes for files this peer shares.
   * @default defaultPieceSizeFor(each file's size): 64 KiB up to 64 MiB, 256 KiB over 128 MiB
   */
  pieceSize?: number;
  /**
   * Path MTU in bytes: downloads use datagrams of at most `mtu - 48` bytes (room for IPv6 and
   * UDP headers; at least 576). 0 leaves it to path probing: up to 32 KiB datagrams from owners
   * on loopback, up to 8,952 bytes from owners on other hosts (fewer IP fragments lost at a full
   * uplink; docs/TRANSFER.md, _Fragments_).
   * @default 0
   */
  mtu?: number;
  /**
   * Cap on data bytes per datagram when downloading (tuning); 0 means 32 KiB on loopback and
   * 8,952-byte datagrams to other hosts, or what the path carries if less; a cap set here probes
   * up to 32 KiB datagrams whatever the owner's address. A cap above 32 KiB also probes the path
   * for 65,507-byte datagrams (52 KiB blocks, 5 per 256 KiB piece); trade-offs measured in
   * docs/TRANSFER.md.
   * @default 0
   */
  maxBlock?: number;
  /**
   * Give each owner of a download its own UDP socket, so each owner's burst has a whole kernel
   * receive buffer (~208 KiB, which Deno cannot enlarge; see `receiveBuffer`). @default true
   */
  dataSockets?: boolean;
  /**
   * Kernel receive buffer to ask for on each of this peer's UDP sockets (SO_RCVBUF, bytes; the
   * kernel caps it at `net.core.rmem_max` and doubles it). Deno cannot set it, so this goes
   * through libc over FFI and applies only when the process has FFI access to libc
   * (`--allow-ffi=/lib/x86_64-linux-gnu/libc.so.6`); without it the kernel default (~208 KiB)
   * stays. A larger buffer lets a download have more bytes in flight per owner, so it sends far
   * fewer requests and its owners wake far less often (figures in docs/TRANSFER.md). 0 leaves the
   * kernel default. @default 4194304
   */
  receiveBuffer?: number;
  /**
   * With FFI access to libc (as for `receiveBuffer`), send and receive on the hot path with
   * synchronous libc calls instead of one Deno async op per datagram (lib/net/fast_udp.ts),
   * falling back to Deno's ops for anything they cannot do at once. @default true
   */
  fastPath?: boolean;
  /**
   * With FFI access to libc (as for `receiveBuffer`), write a download's pieces with `O_DIRECT`
   * straight from their piece buffers, on a blocking thread (lib/peer/direct_write.ts): no
   * page-cache copy, no writeback in the downloader's threads. Buffered where the file system
   * refuses it (tmpfs), for the last piece of an odd size, and with `verifyInWorker`. Off by
   * default: on a quiet machine it measured slower (1 GiB: 1.92 s against 1.53 s, downloader CPU
   * 1.66 against 1.37 s/GiB) and held more memory (115 against 79 MiB at `--mtu 1500`); it helped
   * only while the page cache was slow under load (docs/TRANSFER.md, _Downloader CPU, fifth
   * round_). `--direct-writes` on the command line.
   * @default false
   */
  directWrites?: boolean;
  /**
   * With the fast path, send the blocks of one request as UDP GSO sends (lib/net/batch_udp.ts:
   * up to 64 path-MTU-sized datagrams per system call, the kernel splits them); at `--mtu 1500`
   * it halves the owner's CPU (figures in docs/TRANSFER.md). Larger blocks go one by one.
   * @default true
   */
  gso?: boolean;
  /**
   * With the fast path, turn UDP GRO on for a download's per-owner data sockets (lib/net/
   * batch_udp.ts: the kernel hands a burst of one owner's datagrams as one read, split again
   * here; the socket then waits on a blocking thread instead of Deno's receive). It pays where
   * datagrams are small: by default on when `mtu` is set at or below 1500 (about 1.5× less
   * downloader CPU per GiB there), off otherwise (with large blocks each wait's thread hop costs
   * more than it saves; figures in docs/TRANSFER.md).
   * @default mtu > 0 && mtu <= 1500
   */
  receiveGro?: boolean;
  /**
   * With the fast path, send blocks of 8 KiB or more from the shared file without copying them
   * (lib/net/file_send.ts: the header, then `sendfile` into the same datagram); it cuts the
   * owner's CPU per GiB of 32 KiB blocks by about a fifth (figures in docs/TRANSFER.md).
   * @default true
   */
  sendFile?: boolean;
  /**
   * Hash and write downloaded pieces on a Worker thread, off the receive loop. It costs more CPU
   * and its peak memory grows with the file, so it is off by default (figures in
   * docs/TRANSFER.md).
   * @default false
   */
  verifyInWorker?: boolean;
  /**
   * Share downloads: their verified pieces while they run (see `sharePartial`), the whole file
   * once complete. @default true
   */
  shareDownloads?: boolean;
  /**
   * Serve a download's verified pieces while it runs (swarming: the peer is a partial owner from
   * its first verified piece). Off, downloads are shared only once complete (when
   * `shareDownloads` is on). @default true
   */
  sharePartial?: boolean;
  /**
   * Upload slots: requesters served at once (the regular slots, chosen tit-for-tat and by turns;
   * one optimistic slot more), the others get ERROR choked and fetch elsewhere meanwhile
   * (docs/TRANSFER.md, Swarming). False serves every requester at once. @default 8
   */
  uploadSlots?: number | false;
  /** Owners asked for per NEED. @default 4 */
  maxOwners?: number;
  /** Log sink: one timestamp-free line per call (the logger adds the timestamp). */
  log?: (line: string) => void;
  /**
   * Receives a trace of every download's owners: window, delay and losses sampled every 10 ms,
   * and every probe timeout (`peer.ts --trace FILE` writes them as JSON lines).
   */
  trace?: (record: TransferTraceRecord) => void;
  /** Test hook: rewrite an owner's address before contacting it (e.g. through a lossy relay). */
  mapOwnerAddress?: (address: PeerAddress, nodeId: string) => PeerAddress;
  /**
   * How often this peer's address-cookie key rotates, ms (the cookie it hands out in PROBE_ACK
   * and checks in every manifest and block request; valid for one to two epochs). Downloaders
   * whose cookie expired get ERROR bad_cookie and probe again. @default 120000
   */
  cookieEpochMs?: number;
  /**
   * Share the upload fairly between requesters' IP addresses and prefixes while several ask
   * (see `FairShare`); off only to measure what it does. @default true
   */
  fairShare?: boolean;
  /**
   * Upload cap over everything this peer serves, bytes/s (`--max-upload`): requests beyond it
   * wait and their blocks go out paced, shared fairly between downloaders. @default Infinity
   */
  maxUploadRate?: number;
  /**
   * Download cap over all this peer's downloads, bytes/s (`--max-download`): blocks are only
   * requested as the cap allows, shared fairly between downloads. @default Infinity
   */
  maxDownloadRate?: number;
}

/** A peer's rate caps, bytes/s; Infinity is no cap. */
export interface RateLimits {
  /** Upload cap over everything the peer serves. */
  upload: number;
  /** Download cap over all the peer's downloads. */
  download: number;
}

/** A file this peer shares. */
export interface SharedFile {
  /** Display name (the base name of the file). */
  name: string;
  /** Absolute path on disk. */
  path: string;
  /** Size in bytes. */
  size: number;
  /** Content id: lowercase hex SHA-256 of the encoded manifest. */
  contentId: string;
  /** Number of pieces. */
  pieces: number;
}

/** Options for `Peer.download()`. */
export interface DownloadOptions {
  /** Output directory. @default the peer's outDir */
  outDir?: string;
  /** Save under this name instead of the advertised one. */
  saveAs?: string;
  /** Replace an existing file of the same name. @default false */
  overwrite?: boolean;
  /**
   * The size the content must have (a link's `size`): the download fails with
   * `size_mismatch` when the verified manifest says otherwise.
   */
  expectedSize?: number;
  /** Abort the download. */
  signal?: AbortSignal;
}

/** A progress report, emitted a few times per second and on every state change. */
export interface DownloadProgress {
  /** Name the file is saved under (`saveAs` or the advertised one); "" until the tracker answers. */
  name: string;
  /** Content id as lowercase hex; "" until the tracker answers. */
  contentId: string;
  /** Total size in bytes; 0 until the tracker answers. */
  size: number;
  /** Verified bytes so far (including those resumed from a previous run). */
  verifiedBytes: number;
  /** Bytes resumed from disk at start. */
  resumedBytes: number;
  /** Bytes received from the network (including duplicates and bad data). */
  receivedBytes: number;
  /** Smoothed rate in bytes/s. */
  rate: number;
  /** Node ids of owners in use. */
  owners: string[];
  /** Datagrams re-requested after a timeout. */
  retransmits: number;
  /** Pieces that failed verification. */
  badPieces: number;
  /** Owners dropped for good (bad data, or silent too long). @default 0 */
  ownersBanned?: number;
}

/** The outcome of a finished download. */
export interface DownloadResult {
  /** Final path of the verified file. */
  path: string;
  /** Name the file was saved under (`saveAs` or the advertised name). */
  name: string;
  /** Content id as lowercase hex. */
  contentId: string;
  /** Size in bytes. */
  size: number;
  /** Wall time in ms. */
  elapsedMs: number;
  /** Owners that contributed, with the verified bytes each delivered. */
  owners: { nodeId: string; bytes: number }[];
  /** Bytes already verified on disk from a previous run (not downloaded again). */
  resumedBytes: number;
  /** Bytes received from the network (including duplicates and bad data). */
  receivedBytes: number;
  /** Datagrams re-requested after a timeout. */
  retransmits: number;
  /** Bytes of the blocks re-requested (lost blocks and blocks of lost requests). */
  retransmittedBytes?: number;
  /** Pieces that failed verification. */
  badPieces: number;
  /**
   * True when nothing was downloaded: the file was already shared by this peer, or already at
   * the output path with the same content.
   */
  alreadyHad?: boolean;
}

/** A running download. */
export interface DownloadHandle {
  /** Name or content id that was asked for. */
  readonly query: string;
  /** Latest progress (also before the first event). */
  readonly progress: DownloadProgress | undefined;
  /** Registers a progress listener; returns a function that removes it. */
  onProgress(listener: (p: DownloadProgress) => void): () => void;
  /** Resolves with the verified file, rejects with a `TransferError`. */
  readonly done: Promise<DownloadResult>;
}

/** Totals of a peer since it started: what `peer.ts --metrics` exposes. */
export interface PeerStats {
  /** File bytes sent to downloaders. */
  uploadedBytes: number;
  /** Bytes received from owners (including duplicates and bad data). */
  downloadedBytes: number;
  /** Downloads started. */
  transfersStarted: number;
  /** Downloads verified and saved (or already here). */
  transfersCompleted: number;
  /** Downloads that failed or were stopped. */
  transfersFailed: number;
  /** Downloads running now. */
  transfersActive: number;
  /** Datagrams re-requested after a timeout. */
  retransmits: number;
  /** Pieces that failed verification. */
  badPieces: number;
  /** Owners dropped for good by a download (bad data, silence). */
  ownersBanned: number;
}

/** A running peer. */
export interface Peer extends AsyncDisposable {
  /** This node's id. */
  readonly nodeId: string;
  /** The local UDP address. */
  readonly address: PeerAddress;
  /** Files this peer shares, by content id. */
  readonly files: ReadonlyMap<string, SharedFile>;
  /** True once the peer shares at least one file. */
  readonly isInSendMode: boolean;
  /** Downloaded file name → node ids of the owners it came from. */
  readonly downloadedFiles: ReadonlyMap<string, string[]>;
  /** Downloads in progress. */
  readonly downloads: ReadonlyMap<string, DownloadHandle>;
  /** Totals since the peer started, for `--metrics` (absent on peers that keep none). */
  readonly stats?: PeerStats;
  /** Shares a file (path absolute or relative to `dir`); resolves once the tracker acknowledged. */
  share(path: string): Promise<SharedFile>;
  /**
   * Starts downloading a file by name or 64-hex content id. The content id is what is
   * verified: a name the tracker maps to more than one content fails with `ambiguous`
   * (list them with {@link Peer.list} and download one by content id).
   */
  download(nameOrId: string, options?: DownloadOptions): DownloadHandle;
  /**
   * Lists the files the tracker knows whose names match `pattern` (all of them for ""), page
   * after page, sorted by name then content id.
   */
  list(pattern?: string, options?: ListOptions): Promise<FileList>;
  /** The rate caps in force (bytes/s; Infinity: none). */
  readonly rateLimits: RateLimits;
  /**
   * Changes the rate caps now, for transfers under way too; a cap left out stays as it is.
   *
   * @param limits bytes/s per direction; Infinity removes that cap
   * @throws {RangeError} for a cap that is not a positive number
   */
  setRateLimits(limits: Partial<RateLimits>): void;
  /** Sends EXIT, stops serving, closes the socket. Idempotent. */
  close(): Promise<void>;
}
