/**
 * One download, driven: the rules all live in the sans-I/O {@link DownloadCore}; this driver
 * only moves datagrams (the peer's socket and the per-owner data sockets), tracker NEED calls,
 * bytes on disk (the `.part` file, the piece writer thread) and one timer, and implements
 * {@link DownloadHandle}.
 * @module
 */
import type { Message, NeedTarget, OwnersMessage } from "../wire/messages.ts";
import type { PeerAddress } from "../wire/address.ts";
import type { DownloadHandle, DownloadOptions, DownloadProgress, DownloadResult } from "./api.ts";
import { DownloadCore, type DownloadCoreEvent } from "./core/download_core.ts";
import type { Manifest } from "./manifest.ts";
import type { UdpEndpoint } from "../net/udp_endpoint.ts";
import { PieceWriter } from "./piece_writer.ts";
import { diskError } from "./transfer_error.ts";

/** The on-disk state of a download, as the session needs it. */
export interface PartStore {
  /** Verified pieces already on disk. */
  readonly verifiedPieces: Iterable<number>;
  /** The `.part` file, which the piece writer thread opens too. */
  readonly partPath: string;
  /** Records a piece the piece writer has verified and written. */
  markVerified(index: number): void;
  /** Writes a verified piece at its offset (synchronous: the engine's buffer is reused after). */
  writePiece(index: number, data: Uint8Array): void;
  /** fsyncs, renames to the final name, returns the final path. */
  complete(): Promise<string>;
  /** Saves state and closes; the `.part` stays for a later resume. */
  close(): Promise<void>;
}

/** What a session needs from its peer: settings, the tracker, the socket, the disk. */
export interface SessionContext {
  readonly nodeId: string;
  readonly outDir: string;
  readonly maxOwners: number;
  /** Largest UDP payload to use (from --mtu), or 0 to probe up to 32 KiB blocks. */
  readonly mtu: number;
  /** Hash and write pieces on a Worker thread instead of the receive loop. */
  readonly verifyInWorker: boolean;
  /** Cap on data bytes per block (0: as large as the path carries). */
  readonly maxBlock: number;
  need(want: NeedTarget, maxOwners: number): Promise<OwnersMessage>;
  send(bytes: Uint8Array, to: Deno.NetAddr): void;
  /** Opens a UDP socket for one owner's block traffic; undefined: the main socket carries all. */
  openDataSocket?: (() => UdpEndpoint) | undefined;
  log(line: string): void;
  mapOwnerAddress?: ((address: PeerAddress, nodeId: string) => PeerAddress) | undefined;
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
  /** Called once the file is complete and renamed. */
  completed(result: DownloadResult, manifest: Manifest, encoded: Uint8Array): Promise<void>;
}

let nextTxid = (Math.random() * 0x7fffffff) >>> 0;

/** See the module doc. */
export class DownloadSession implements DownloadHandle {
  readonly query: string;
  readonly txid: number;
  readonly done: Promise<DownloadResult>;
  readonly #ctx: SessionContext;
  readonly #core: DownloadCore;
  readonly #outcome = Promise.withResolvers<DownloadResult>();
  readonly #listeners = new Set<(p: DownloadProgress) => void>();
  /** Per-owner data sockets (block requests out, block data in). */
  readonly #sockets = new Map<string, UdpEndpoint>();
  /** Disk work under way, waited for before closing what it opened. */
  readonly #jobs: Promise<void>[] = [];
  #part: PartStore | undefined;
  #writer: PieceWriter | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;

  constructor(ctx: SessionContext, query: string, options: DownloadOptions = {}) {
    this.#ctx = ctx;
    this.query = query;
    this.txid = nextTxid = (nextTxid + 1) >>> 0;
    const core = this.#core = new DownloadCore({
      query,
      txid: this.txid,
      nodeId: ctx.nodeId,
      outDir: options.outDir ?? ctx.outDir,
      saveAs: options.saveAs,
      overwrite: options.overwrite,
      maxOwners: ctx.maxOwners,
      mtu: ctx.mtu,
      maxBlock: ctx.maxBlock,
      verifyInWorker: ctx.verifyInWorker,
      dataSockets: ctx.openDataSocket !== undefined,
      mapOwnerAddress: ctx.mapOwnerAddress,
    });
    const signal = options.signal;
    const abort = () => this.#step(() => core.abort(signal?.reason));
    signal?.addEventListener("abort", abort, { once: true });
    // A signal that is already aborted never fires "abort"
    if (signal?.aborted) core.abort(signal.reason);
    this.done = this.#outcome.promise.finally(() => {
      signal?.removeEventListener("abort", abort);
      return this.#close();
    });
    this.#step((now) => core.start(now));
  }

  /** Stops the download; the `.part` file is kept for a resume. */
  cancel(reason?: string): void {
    this.#step(() => this.#core.cancel(reason));
  }

  get progress(): DownloadProgress | undefined {
    return this.#core.progress;
  }

  onProgress(listener: (p: DownloadProgress) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** BLOCK_DATA for this txid from the peer's socket (a view into a reused buffer). */
  onBlockData(bytes: Uint8Array, from: Deno.NetAddr): void {
    this.#core.handleBlockData(bytes, from, performance.now());
    this.#drain();
  }

  /** PROBE_ACK, MANIFEST_DATA or ERROR for this txid, decoded by the peer. */
  onMessage(msg: Message, from: Deno.NetAddr): void {
    this.#core.handleMessage(msg, from, performance.now());
    this.#drain();
  }

  #step(event: (now: number) => void): void {
    event(performance.now());
    this.#drain();
  }

  /** Carries out the core's events, sends its datagrams and re-arms the timer. */
  #drain(): void {
    const core = this.#core;
    for (let ev = core.pollEvent(); ev; ev = core.pollEvent()) this.#act(ev);
    for (let t = core.pollTransmit(); t; t = core.pollTransmit()) {
      if (t.dataSocket === undefined) this.#ctx.send(t.bytes, t.to);
      else this.#dataSocket(t.dataSocket).send(t.bytes, t.to);
    }
    const at = core.pollTimeout() ?? Infinity;
    if (at >= this.#timerAt) return;
    clearTimeout(this.#timer);
    this.#timerAt = at;
    if (at === Infinity) return;
    this.#timer = setTimeout(() => {
      this.#timerAt = Infinity;
      this.#step((now) => core.handleTimeout(now));
    }, Math.max(0, at - performance.now()));
  }

  #act(ev: DownloadCoreEvent): void {
    const ctx = this.#ctx, core = this.#core;
    switch (ev.kind) {
      case "need":
        return void ctx.need(ev.want, ev.maxOwners).then(
          (reply) => this.#step((now) => core.handleNeedReply(reply, now)),
          (e) => this.#step((now) => core.handleNeedFailed(e, now)),
        );
      case "check_target":
        return this.#job(async () => {
          const sharedPath = ctx.sharedPath(ev.contentIdHex);
          const exists = sharedPath === undefined && ev.checkExists && await pathExists(ev.path);
          return (now) => core.handleTargetChecked({ sharedPath, exists }, now);
        });
      case "load_resume_manifest":
        return this.#job(async () => {
          const encoded = await ctx.loadResumeManifest(ev.contentIdHex, ev.name, ev.outDir);
          return (now) => core.handleManifestLoaded(encoded, now);
        });
      case "open_part":
        return this.#job(async () => {
          const part = this.#part = await ctx.openPart(ev);
          if (ctx.verifyInWorker && !core.finished) {
            this.#writer = new PieceWriter(part.partPath, ev.manifest.pieceHashes, (v) => {
              this.#step((now) => core.handlePieceVerdict(v, now));
            });
          }
          return (now) => core.handlePartOpened(part, now);
        });
      case "write_piece":
      case "verify_piece":
        try {
          if (ev.kind === "write_piece") this.#part!.writePiece(ev.index, ev.data);
          else this.#writer!.submit(ev.index, ev.offset, ev.data);
        } catch (e) {
          core.fail(e);
        }
        return;
      case "mark_verified":
        return this.#part!.markVerified(ev.index);
      case "complete_file":
        return this.#job(async () => {
          await this.#writer?.drain();
          await this.#writer?.close();
          const path = await this.#part!.complete();
          this.#part = undefined;
          return (now) => core.handleFileCompleted(path, now);
        });
      case "log":
        return ctx.log(ev.line);
      case "progress":
        for (const listener of this.#listeners) {
          try {
            listener(ev.progress);
          } catch {
            // a listener's failure is not the download's
          }
        }
        return;
      case "done":
        return this.#outcome.resolve(
          ev.manifest && ev.encodedManifest
            ? ctx.completed(ev.result, ev.manifest, ev.encodedManifest).then(() => ev.result)
            : ev.result,
        );
      case "failed":
        return this.#outcome.reject(ev.error);
    }
  }

  /** Runs disk work; its answer (or what it throws) goes to the core. */
  #job(work: () => Promise<(now: number) => void>): void {
    this.#jobs.push(
      work().then(
        (answer) => this.#step(answer),
        (e) => this.#step(() => this.#core.fail(e)),
      ),
    );
  }

  #dataSocket(owner: string): UdpEndpoint {
    let socket = this.#sockets.get(owner);
    if (socket) return socket;
    socket = this.#ctx.openDataSocket!();
    socket.onDatagram((bytes, from) => {
      this.#core.handleDatagram(bytes, from, performance.now());
      this.#drain();
    });
    this.#sockets.set(owner, socket);
    return socket;
  }

  async #close(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timerAt = -Infinity; // never armed again
    await Promise.allSettled(this.#jobs);
    await Promise.all([...this.#sockets.values()].map((s) => s.close()));
    this.#sockets.clear();
    await this.#writer?.close();
    await this.#part?.close().catch(() => {});
  }
}

/**
 * True when `path` exists. A path that cannot be checked (a component is a regular file, no
 * permission, …) is a `TransferError`, not a raw `Deno.errors.*` escaping `done`.
 */
async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw diskError(
      `Cannot save to ${path}`,
      e,
      "check that the output directory exists and is writable",
    );
  }
}
