/**
 * Verifies and writes complete pieces on a Worker thread (see piece_writer_worker.ts): the main
 * thread only hands over the piece buffer and gets it back with a verdict. That takes SHA-256
 * and the page-cache copy off the receive loop (their share of a download's main-thread time
 * is in docs/TRANSFER.md).
 *
 * One concept, one name: this is the driver side of `verifyInWorker`, the option of startPeer
 * (PeerOptions) and of the engine (DownloadEngineOptions): the engine emits `verify` events
 * instead of hashing, the session submits them here and answers with `handleVerified`.
 * @module
 */
import type { PieceWriterReply, PieceWriterRequest } from "./piece_writer_worker.ts";

/** The verdict on one piece. */
export interface PieceVerdict {
  /** The piece index. */
  index: number;
  /** The hash matched and the piece is on disk. */
  ok: boolean;
  /** The piece buffer, handed back. */
  buffer: Uint8Array;
  /** Set when the write failed (errno code and message); the piece is not on disk. */
  error?: { code: string; message: string };
}

/** See the module doc. */
export class PieceWriter {
  readonly #worker: Worker;
  readonly #onVerdict: (v: PieceVerdict) => void;
  #pending = 0;
  #idle: PromiseWithResolvers<void> | undefined;
  #closed: Promise<void> | undefined;

  /**
   * @param partPath the `.part` file (must exist)
   * @param hashes the manifest's piece hashes
   * @param onVerdict called on the main thread for every piece
   * @param identity device and inode of the `.part` as the caller opened it: the worker writes
   *   only into that file (never through a link put at `partPath` since)
   */
  constructor(
    partPath: string,
    hashes: Uint8Array,
    onVerdict: (v: PieceVerdict) => void,
    identity?: { dev: number; ino: number },
  ) {
    this.#onVerdict = onVerdict;
    this.#worker = new Worker(new URL("./piece_writer_worker.ts", import.meta.url), {
      type: "module",
    });
    this.#worker.onmessage = (ev: MessageEvent<PieceWriterReply>) => this.#onReply(ev.data);
    this.#post({ type: "init", path: partPath, hashes: hashes.slice(), identity });
  }

  /** Pieces handed over and not answered yet. */
  get pending(): number {
    return this.#pending;
  }

  /**
   * Hands over a complete piece. `data` must be a view from offset 0 of a buffer that nothing
   * else uses until its verdict arrives: the buffer is transferred (detached here).
   */
  submit(index: number, offset: number, data: Uint8Array): void {
    if (data.byteOffset !== 0) {
      throw new RangeError("Cannot submit piece: its view must start at offset 0");
    }
    this.#pending++;
    const buffer = data.buffer;
    // A SharedArrayBuffer (see DownloadEngineOptions.newPieceBuffer) is shared, not transferred:
    // no buffer changes hands and no garbage is left per piece.
    const transfer = buffer instanceof ArrayBuffer ? [buffer] : [];
    this.#post({ type: "piece", index, offset, length: data.byteLength, buffer }, transfer);
  }

  /** Resolves when every submitted piece has its verdict. */
  drain(): Promise<void> {
    if (this.#pending === 0) return Promise.resolve();
    this.#idle ??= Promise.withResolvers<void>();
    return this.#idle.promise;
  }

  /** Closes the worker's file and ends the worker. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#worker.terminate();
        resolve();
      };
      const timer = setTimeout(done, 2000);
      this.#worker.onmessage = (ev: MessageEvent<PieceWriterReply>) => {
        if (ev.data.type === "closed") done();
        else this.#onReply(ev.data);
      };
      this.#post({ type: "close" });
    });
    return this.#closed;
  }

  #post(msg: PieceWriterRequest, transfer: Transferable[] = []): void {
    this.#worker.postMessage(msg, transfer);
  }

  #onReply(r: PieceWriterReply): void {
    if (r.type === "closed") return;
    this.#pending--;
    const buffer = new Uint8Array(r.buffer);
    const verdict: PieceVerdict = r.type === "done"
      ? { index: r.index, ok: r.ok, buffer }
      : { index: r.index, ok: false, buffer, error: { code: r.code, message: r.message } };
    try {
      this.#onVerdict(verdict);
    } finally {
      if (this.#pending === 0 && this.#idle) {
        this.#idle.resolve();
        this.#idle = undefined;
      }
    }
  }
}
