/**
 * One download, driven: the rules all live in the sans-I/O {@link DownloadCore}; this driver
 * only moves datagrams (the peer's socket and the per-owner data sockets), tracker NEED calls,
 * bytes on disk (the `.part` file, the piece writer thread) and one timer, and implements
 * {@link DownloadHandle}.
 * @module
 */
import type { Message, SharerMessage } from "../wire/messages.ts";
import { toHex } from "../wire/hex.ts";
import type { DownloadHandle, DownloadOptions, DownloadProgress, DownloadResult } from "./api.ts";
import { DownloadCore } from "./core/download_core.ts";
import type { DownloadCoreEvent } from "./core/download_core_event.ts";
import type { PartStore, SessionContext } from "./session_context.ts";
import type { UdpEndpoint } from "../net/udp_endpoint.ts";
import { type PieceVerdict, PieceWriter } from "./piece_writer.ts";
import { pieceHashMatches } from "./core/piece_hash.ts";
import { diskError } from "./transfer_error.ts";
import { BLOCK_DATA_HEADER_SIZE } from "../wire/limits.ts";

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
  /** The content being downloaded, once its part is open. */
  #contentIdHex: string | undefined;
  #writer: PieceWriter | undefined;
  #hashes: Uint8Array | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;

  constructor(ctx: SessionContext, query: string, options: DownloadOptions = {}) {
    this.#ctx = ctx;
    this.query = query;
    this.txid = nextTxid = (nextTxid + 1) >>> 0;
    const core = this.#core = new DownloadCore({
      ...ctx,
      query,
      txid: this.txid,
      outDir: options.outDir ?? ctx.outDir,
      saveAs: options.saveAs,
      overwrite: options.overwrite,
      expectedSize: options.expectedSize,
      dataSockets: ctx.openDataSocket !== undefined,
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

  /** The peer's download cap changed ({@link DownloadCore.handleRateChange}). */
  rateChanged(): void {
    this.#step((now) => this.#core.handleRateChange(now));
  }

  /** PROBE_ACK, MANIFEST_DATA or ERROR for this txid, decoded by the peer. */
  onMessage(msg: Message, from: Deno.NetAddr): void {
    this.#core.handleMessage(msg, from, performance.now());
    this.#drain();
  }

  /** A SHARER for this peer whose cookie the uploader checked (DownloadCore.addSharer). */
  addSharer(msg: SharerMessage, from: Deno.NetAddr): void {
    this.#step((now) =>
      this.#core.addSharer(toHex(msg.contentId), msg.nodeId, from.hostname, msg.port, now)
    );
  }

  /** Verified bytes this download received from owners on `host` (upload slots' credit). */
  verifiedFromHost(host: string): number {
    return this.#core.verifiedFromHost(host);
  }

  #step(event: (now: number) => void): void {
    event(performance.now());
    this.#drain();
  }

  /** Carries out the core's events, sends its datagrams and re-arms the timer. */
  #drain(): void {
    const core = this.#core;
    for (let ev = core.pollEvent(); ev; ev = core.pollEvent()) {
      try {
        this.#act(ev);
      } catch (e) {
        core.fail(e); // a disk write failed
      }
    }
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
        return void ctx.need(ev.want, ev.maxOwners, ev.exclude, ev.partial === true).then(
          (reply) => this.#step((now) => core.handleNeedReply(reply, now)),
          (e) => this.#step((now) => core.handleNeedFailed(e, now)),
        );
      case "check_target":
        return this.#job(async () => {
          const sharedPath = ctx.sharedPath(ev.contentIdHex);
          // A path that cannot be checked is a TransferError, not a raw Deno.errors.* in `done`
          const exists = sharedPath === undefined && ev.checkExists &&
            await Deno.lstat(ev.path).then(() => true, (e) => {
              if (e instanceof Deno.errors.NotFound) return false;
              const hint = "check that the output directory exists and is writable";
              throw diskError(`Cannot save to ${ev.path}`, e, hint);
            });
          // An existing file of the right size may already be the download: hash it.
          const sameContent = exists && ctx.hasContent !== undefined &&
            (await Deno.stat(ev.path).then((i) => i.isFile && i.size === ev.size, () => false)) &&
            await ctx.hasContent(ev.path, ev.contentIdHex).catch(() => false);
          return (now) => core.handleTargetChecked({ sharedPath, exists, sameContent }, now);
        });
      case "load_resume_manifest":
        return this.#job(async () => {
          const encoded = await ctx.loadResumeManifest(ev.contentIdHex, ev.name, ev.outDir);
          return (now) => core.handleManifestLoaded(encoded, now);
        });
      case "open_part":
        return this.#job(async () => {
          const part = this.#part = await ctx.openPart(ev);
          this.#contentIdHex = ev.contentIdHex;
          this.#hashes = ev.manifest.pieceHashes;
          ctx.partial?.({
            kind: "opened",
            contentIdHex: ev.contentIdHex,
            name: ev.name,
            manifest: ev.manifest,
            encoded: ev.encodedManifest,
            part,
          });
          if (ctx.verifyInWorker && !core.finished) {
            this.#writer = new PieceWriter(
              part.partPath,
              ev.manifest.pieceHashes,
              (v) => this.#step((now) => core.handlePieceVerdict(v, now)),
              part.partIdentity,
            );
          }
          return (now) => core.handlePartOpened(part, now);
        });
      case "write_piece":
        this.#part!.writePiece(ev.index, ev.data);
        return this.#verified(ev.index);
      case "verify_piece":
        if (this.#writer) return this.#writer.submit(ev.index, ev.offset, ev.data);
        return this.#verifyAndWrite(ev.index, ev.data);
      case "mark_verified":
        this.#part!.markVerified(ev.index);
        return this.#verified(ev.index);
      case "complete_file":
        return this.#job(async () => {
          await this.#writer?.drain();
          await this.#writer?.close();
          const path = await this.#part!.complete();
          this.#logDirectWrites();
          this.#part = undefined;
          return (now) => core.handleFileCompleted(path, now);
        });
      case "report":
        return ctx.report?.(ev.contentId, ev.entries);
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
        this.#ended(true);
        return this.#outcome.resolve(
          ev.manifest && ev.encodedManifest
            ? ctx.completed(ev.result, ev.manifest, ev.encodedManifest).then(() => ev.result)
            : ev.result,
        );
      case "failed":
        this.#ended(false);
        return this.#outcome.reject(ev.error);
    }
  }

  /**
   * A piece the engine holds for its verdict (the part's buffers can be written directly):
   * hashed here, written straight from its buffer, and answered once it is on disk, so the
   * engine reuses the buffer only then.
   */
  #verifyAndWrite(index: number, data: Uint8Array): void {
    const part = this.#part!;
    const answer = (v: PieceVerdict) => this.#step((now) => this.#core.handlePieceVerdict(v, now));
    if (!pieceHashMatches(data, this.#hashes!, index)) {
      return queueMicrotask(() => answer({ index, ok: false, buffer: data }));
    }
    const writing = part.writePieceDirect?.(index, data);
    if (writing === undefined) {
      part.writePiece(index, data); // throws to #drain on a disk error, which fails the download
      return queueMicrotask(() => answer({ index, ok: true, buffer: data }));
    }
    writing.then(
      () => answer({ index, ok: true, buffer: data }),
      (e) => this.#step(() => this.#core.fail(e)),
    );
  }

  #logDirectWrites(): void {
    const direct = this.#part?.directWrites?.();
    if (direct && direct.pieces > 0) {
      this.#ctx.log(
        `disk: ${direct.pieces} pieces written with O_DIRECT in ${direct.writes} system calls`,
      );
    }
  }

  #verified(index: number): void {
    if (this.#contentIdHex !== undefined) {
      this.#ctx.partial?.({ kind: "verified", contentIdHex: this.#contentIdHex, index });
    }
  }

  #ended(completed: boolean): void {
    const hex = this.#contentIdHex;
    this.#contentIdHex = undefined;
    if (hex !== undefined) this.#ctx.partial?.({ kind: "ended", contentIdHex: hex, completed });
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
    // A burst of datagrams is taken block by block; requests and disk work once, at its end
    socket.onDatagram((bytes, from) => {
      this.#core.startBatch();
      this.#core.handleDatagram(bytes, from, performance.now());
    });
    socket.onBatchEnd(() => this.#step((now) => this.#core.endBatch(now)));
    // With the libc grant, a block's payload is read straight into its piece buffer's slot
    socket.onScatter({
      head: BLOCK_DATA_HEADER_SIZE,
      slot: () => this.#core.expectedSlot(owner),
      deliver: (head, body, from) => {
        this.#core.startBatch();
        return this.#core.handleBlockParts(head, body, from, performance.now());
      },
    });
    this.#sockets.set(owner, socket);
    return socket;
  }

  async #close(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timerAt = -Infinity; // never armed again
    await Promise.allSettled(this.#jobs);
    let received = 0, scattered = 0;
    for (const s of this.#sockets.values()) {
      received += s.received;
      scattered += s.scattered;
    }
    this.#logDirectWrites();
    if (scattered > 0) {
      this.#ctx.log(
        `data sockets: ${scattered} of ${received} datagrams read straight into their piece buffer`,
      );
    }
    await Promise.all([...this.#sockets.values()].map((s) => s.close()));
    this.#sockets.clear();
    await this.#writer?.close();
    await this.#part?.close().catch(() => {});
  }
}
