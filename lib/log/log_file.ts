/**
 * An append-only, timestamped, buffered log file (`<dir>/tracker.log`).
 * @module
 */

const FLUSH_BYTES = 64 * 1024;
const FLUSH_MS = 200;
const encoder = new TextEncoder();

/** Lines are buffered and written at most every 200 ms or every 64 KiB, and on close. */
export class LogFile {
  readonly path: string;
  readonly #file: Deno.FsFile;
  #parts: string[] = [];
  #bytes = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  #lastMs = -1;
  #lastStamp = "";
  /** Write failures (disk full, …); logging never throws into the caller. */
  writeErrors = 0;

  private constructor(path: string, file: Deno.FsFile) {
    this.path = path;
    this.#file = file;
  }

  /**
   * Opens (creating the directory and the file if needed) a log file for appending.
   *
   * @param dir the directory
   * @param name the file name
   * @returns the log file
   * @throws {Deno.errors.PermissionDenied} without write permission for `dir`
   */
  static open(dir: string, name = "tracker.log"): LogFile {
    Deno.mkdirSync(dir, { recursive: true });
    const path = `${dir.replace(/\/+$/, "")}/${name}`;
    const file = Deno.openSync(path, { append: true, create: true, write: true });
    return new LogFile(path, file);
  }

  /**
   * Appends one line, prefixed with an ISO-8601 UTC timestamp.
   *
   * @param line the text (no newline)
   * @param at the wall-clock time in ms
   */
  write(line: string, at: number = Date.now()): void {
    if (this.#closed) return;
    if (at !== this.#lastMs) {
      this.#lastMs = at;
      this.#lastStamp = new Date(at).toISOString();
    }
    const text = this.#lastStamp + " " + line + "\n";
    this.#parts.push(text);
    this.#bytes += text.length;
    if (this.#bytes >= FLUSH_BYTES) this.flush();
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.flush();
      }, FLUSH_MS);
    }
  }

  /** Writes the buffered lines now. */
  flush(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#parts.length === 0) return;
    const data = encoder.encode(this.#parts.join(""));
    this.#parts = [];
    this.#bytes = 0;
    try {
      let off = 0;
      while (off < data.length) off += this.#file.writeSync(data.subarray(off));
    } catch {
      this.writeErrors++;
    }
  }

  /** Flushes and closes. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.flush();
    this.#closed = true;
    this.#file.close();
  }
}
