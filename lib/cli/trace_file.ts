/**
 * The file behind `peer.ts --trace FILE`: one JSON object per line, each a transfer trace record
 * (lib/peer/core/transfer_trace.ts: every owner's window, delay and losses over a download, every
 * probe timeout). Buffered and written in 64 KiB batches and on close; writing never throws into
 * the caller.
 * @module
 */

const FLUSH_BYTES = 64 * 1024;
const encoder = new TextEncoder();

/** A JSON-lines file of trace records. */
export class TraceFile {
  /** Path of the file. */
  readonly path: string;
  readonly #file: Deno.FsFile;
  #parts: string[] = [];
  #bytes = 0;
  #closed = false;
  /** Write failures (disk full, …). */
  writeErrors = 0;

  private constructor(path: string, file: Deno.FsFile) {
    this.path = path;
    this.#file = file;
  }

  /**
   * Creates (or truncates) `path`.
   * @throws {Deno.errors.NotFound} and other file-system errors when it cannot be created
   */
  static open(path: string): TraceFile {
    return new TraceFile(path, Deno.openSync(path, { write: true, create: true, truncate: true }));
  }

  /** Appends one record as a JSON line. */
  write(record: unknown): void {
    if (this.#closed) return;
    const line = JSON.stringify(record) + "\n";
    this.#parts.push(line);
    this.#bytes += line.length;
    if (this.#bytes >= FLUSH_BYTES) this.#flush();
  }

  /** Writes what is buffered and closes the file. */
  close(): void {
    if (this.#closed) return;
    this.#flush();
    this.#closed = true;
    this.#file.close();
  }

  #flush(): void {
    if (this.#parts.length === 0) return;
    const bytes = encoder.encode(this.#parts.join(""));
    this.#parts = [];
    this.#bytes = 0;
    try {
      for (let at = 0; at < bytes.length;) at += this.#file.writeSync(bytes.subarray(at));
    } catch {
      this.writeErrors++;
    }
  }
}
