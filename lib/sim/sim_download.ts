/**
 * One download on the simulated network: the real {@link DownloadCore}, driven like
 * lib/peer/download_session.ts but with the file in memory, the tracker reached through the
 * peer's {@link TrackerSession} and a {@link SimTimer} for the clock. Pieces are verified inline
 * (SHA-256 of every piece, as on a real peer).
 * @module
 */
import { Buffer } from "node:buffer";
import { DownloadCore } from "../peer/core/download_core.ts";
import type { DownloadBudget } from "../peer/core/download_budget.ts";
import type { DownloadCoreEvent } from "../peer/core/download_core_event.ts";
import type { DownloadResult } from "../peer/api.ts";
import type { Manifest } from "../peer/manifest.ts";
import type { NeedTarget, OwnersMessage } from "../wire/messages.ts";
import type { SimNetwork, SimSocket, SimTimer } from "./sim_network.ts";

/** What a {@link SimDownload} needs from its peer. */
export interface SimDownloadHost {
  /** The network. */
  readonly net: SimNetwork;
  /** The peer's main socket. */
  readonly socket: SimSocket;
  /** The peer's node id. */
  readonly nodeId: string;
  /** The peer's download cap, shared by its downloads. @default none */
  readonly budget?: DownloadBudget;
  /**
   * Asks the tracker (leaving out `exclude`; partial owners welcome when `partial`); calls back
   * with the reply or the error.
   */
  need(
    want: NeedTarget,
    maxOwners: number,
    answer: (r: OwnersMessage | Error) => void,
    exclude?: readonly string[],
    partial?: boolean,
  ): void;
  /** Sends a REPORT of verified bytes per owner to the tracker. */
  report?(contentId: Uint8Array, entries: { nodeId: string; bytes: number }[]): void;
  /** A fresh socket on this peer's host for one owner's block traffic. */
  openDataSocket(receive: (bytes: Uint8Array, from: Deno.NetAddr, now: number) => void): SimSocket;
  /**
   * The part is open: the peer may serve the pieces in `have` (1 per verified piece, kept up to
   * date) from `file` (the reference, or the bytes written so far) while it downloads.
   */
  partOpened?(
    d: SimDownload,
    manifest: Manifest,
    encoded: Uint8Array,
    have: Uint8Array,
    file: Uint8Array,
  ): void;
  /** A piece was verified and written. */
  pieceVerified?(d: SimDownload, index: number): void;
  /** The download finished: the peer may share it. */
  completed(
    result: DownloadResult,
    manifest: Manifest,
    encoded: Uint8Array,
    file: Uint8Array,
  ): void;
  /** A log line of the download. */
  log(line: string): void;
}

/** Options for {@link SimDownload}. */
export interface SimDownloadOptions {
  /** Name or 64-hex content id. */
  query: string;
  /** The download's transfer id. */
  txid: number;
  /** Owners per NEED. @default 8 */
  maxOwners?: number;
  /** Largest datagram, or 0 to probe. @default 0 */
  mtu?: number;
  /** Largest block. @default 0 (as large as the path carries) */
  maxBlock?: number;
  /**
   * The bytes the file must end up with. Given, written pieces are compared with it instead of
   * stored (memory stays flat with many peers), and a finished download's `file` is it.
   */
  reference?: Uint8Array;
  /** Swarm: partial owners, BITFIELD/HAVE, rarest first (DownloadCore's `swarm`). @default true */
  swarm?: boolean;
  /** The peer serves this download's verified pieces on this port (DownloadCore's `sharePort`). */
  sharePort?: number;
}

/** See the module doc. */
export class SimDownload {
  /** The core it drives. */
  readonly core: DownloadCore;
  /** The file's bytes once the part is open (the reference once complete, if one was given). */
  file: Uint8Array | undefined;
  /** Pieces written that differ from the reference. */
  mismatchedPieces = 0;
  /** Pieces written. */
  writtenPieces = 0;
  /** 1 per verified piece, once the part is open. */
  have: Uint8Array | undefined;
  /** When it finished (virtual ms), and how. */
  finishedAt: number | undefined;
  /** The result, once it succeeded. */
  result: DownloadResult | undefined;
  /** The error, once it failed. */
  error: unknown;
  readonly #host: SimDownloadHost;
  readonly #timer: SimTimer;
  readonly #sockets = new Map<string, SimSocket>();
  #manifest: Manifest | undefined;
  #encoded: Uint8Array | undefined;
  readonly #reference: Uint8Array | undefined;

  /**
   * Creates the download and starts it at the network's current time.
   *
   * @param host the peer it runs on
   * @param options what to download and how
   */
  constructor(host: SimDownloadHost, options: SimDownloadOptions) {
    this.#host = host;
    this.#reference = options.reference;
    this.core = new DownloadCore({
      nodeId: host.nodeId,
      maxOwners: options.maxOwners ?? 8,
      mtu: options.mtu ?? 0,
      maxBlock: options.maxBlock ?? 0,
      verifyInWorker: false,
      query: options.query,
      txid: options.txid,
      outDir: "/sim",
      dataSockets: true,
      swarm: options.swarm ?? true,
      random: () => host.net.random(),
      budget: host.budget,
      ...(options.sharePort === undefined ? {} : { sharePort: options.sharePort }),
    });
    this.#timer = host.net.timer((now) => this.#step(() => this.core.handleTimeout(now)));
    this.#step((now) => this.core.start(now));
  }

  /** This download's transfer id. */
  get txid(): number {
    return this.core.txid;
  }

  /** A datagram for this download that arrived at the peer's main socket. */
  handleDatagram(bytes: Uint8Array, from: Deno.NetAddr, now: number): void {
    this.core.handleDatagram(bytes, from, now);
    this.#drain();
  }

  /** Sends what the core has to send after an event the peer gave it directly. */
  flush(): void {
    this.#drain();
  }

  #step(event: (now: number) => void): void {
    event(this.#host.net.now);
    this.#drain();
  }

  #drain(): void {
    const core = this.core;
    for (let ev = core.pollEvent(); ev; ev = core.pollEvent()) this.#act(ev);
    this.#sendAll();
    this.#timer.arm(core.finished ? undefined : core.pollTimeout());
  }

  #act(ev: DownloadCoreEvent): void {
    const core = this.core;
    switch (ev.kind) {
      case "need":
        return this.#host.need(
          ev.want,
          ev.maxOwners,
          (r) =>
            this.#step((now) =>
              r instanceof Error ? core.handleNeedFailed(r, now) : core.handleNeedReply(r, now)
            ),
          ev.exclude,
          ev.partial === true,
        );
      case "report":
        return this.#host.report?.(ev.contentId, ev.entries);
      case "check_target":
        return core.handleTargetChecked({ sharedPath: undefined, exists: false }, this.#now);
      case "load_resume_manifest":
        return core.handleManifestLoaded(undefined, this.#now);
      case "open_part":
        if (!this.#reference) this.file = new Uint8Array(ev.manifest.size);
        this.#manifest = ev.manifest;
        this.#encoded = ev.encodedManifest;
        this.have = new Uint8Array(ev.manifest.pieceHashes.byteLength / 32);
        this.#host.partOpened?.(
          this,
          ev.manifest,
          ev.encodedManifest,
          this.have,
          this.#reference ?? this.file!,
        );
        return core.handlePartOpened({ verifiedPieces: [] }, this.#now);
      case "write_piece": {
        const at = ev.index * this.#manifest!.pieceSize;
        this.writtenPieces++;
        if (!this.#reference) this.file!.set(ev.data, at);
        else {
          const want = this.#reference.subarray(at, at + ev.data.byteLength);
          if (Buffer.compare(want, ev.data) !== 0) this.mismatchedPieces++;
        }
        this.have![ev.index] = 1;
        this.#host.pieceVerified?.(this, ev.index);
        return;
      }
      case "verify_piece":
      case "mark_verified":
        throw new TypeError("Cannot verify off the loop in a simulation");
      case "complete_file":
        return core.handleFileCompleted(`/sim/${this.#host.nodeId}`, this.#now);
      case "log":
        return this.#host.log(ev.line);
      case "progress":
        return;
      case "done":
        if (this.#reference && this.mismatchedPieces === 0) this.file = this.#reference;
        this.finishedAt = this.#now;
        this.result = ev.result;
        // What the last step sent (the farewells to the seeds) leaves before the sockets close,
        // as in the real driver, where the file's completion is disk work that comes later
        this.#sendAll();
        this.#closeSockets();
        if (ev.manifest && this.file) {
          this.#host.completed(ev.result, ev.manifest, this.#encoded!, this.file);
        }
        return;
      case "failed":
        this.finishedAt = this.#now;
        this.error = ev.error;
        this.#closeSockets();
        return;
    }
  }

  get #now(): number {
    return this.#host.net.now;
  }

  #dataSocket(owner: string): SimSocket {
    let s = this.#sockets.get(owner);
    if (s) return s;
    s = this.#host.openDataSocket((bytes, from, now) => {
      this.core.handleDatagram(bytes, from, now);
      this.#drain();
    });
    this.#sockets.set(owner, s);
    return s;
  }

  #sendAll(): void {
    const core = this.core;
    for (let t = core.pollTransmit(); t; t = core.pollTransmit()) {
      if (t.dataSocket === undefined) this.#host.socket.send(t.bytes, t.to);
      else this.#dataSocket(t.dataSocket).send(t.bytes, t.to);
    }
  }

  #closeSockets(): void {
    for (const s of this.#sockets.values()) s.close();
    this.#sockets.clear();
  }
}
