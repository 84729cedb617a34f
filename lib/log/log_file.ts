/**
 * The one log-file writer: an append-only file of timestamped lines, `<ISO-8601 UTC time> <text>`.
 * The tracker's `tracker.log` buffers its lines; a peer's `node-<id>.log`
 * (lib/cli/node_log.ts) writes each line at once.
 * @module
 */

const FLUSH_BYTES = 64 * 1024;
const FLUSH_MS = 200;
const encoder = new TextEncoder();

/** Options for {@link LogFile.open}. */
export interface LogFileOptions {
  /**
   * Buffer lines and write them at most every 200 ms or every 64 KiB, and on close; false
   * writes every line before {@link LogFile.write} returns, so the log is complete even when
   * the process is killed. @default true
   */
  buffered?: boolean;
}

/** An append-only, timestamped log file. Writing never throws into the caller. */
export class LogFile {
  /** Path of the log file. */
  readonly path: string;
  readonly #file: Deno.FsFile;
  readonly #buffered: boolean;
  #parts: string[] = [];
  #bytes = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  #lastMs = -1;
  #lastStamp = "";
  /** Write failures (disk full, …); logging never throws into the caller. */
  writeErrors = 0;

  private constructor(path: string, file: Deno.FsFile, buffered: boolean) {
    this.path = path;
    this.#file = file;
    this.#buffered = buffered;
  }

  /**
   * Opens (creating the directory and the file if needed) a log file for appending.
   *
   * @param dir the directory
   * @param name the file name
   * @param options buffering
   * @returns the log file
   * @throws {Deno.errors.PermissionDenied} without write permission for `dir`
   */
  static open(dir: string, name = "tracker.log", options: LogFileOptions = {}): LogFile {
    Deno.mkdirSync(dir, { recursive: true });
    const path = `${dir.replace(/\/+$/, "")}/${name}`;
    const file = Deno.openSync(path, { append: true, create: true, write: true });
    return new LogFile(path, file, options.buffered ?? true);
  }

  /**
   * Opens the first of `names` in `dir` that no other process holds, and holds it (an
   * exclusive advisory lock, released when the file is closed or the process ends), so two
   * writers never interleave lines in one file. The last name is opened even if it is held.
   *
   * @param dir the directory
   * @param names file names to try, in order, e.g. `["tracker.log", "tracker-6970.log"]`
   * @param options buffering
   * @returns the log file
   * @throws {Deno.errors.PermissionDenied} without write permission for `dir`
   */
  static openExclusive(
    dir: string,
    names: readonly string[],
    options: LogFileOptions = {},
  ): LogFile {
    Deno.mkdirSync(dir, { recursive: true });
    for (const [i, name] of names.entries()) {
      const path = `${dir.replace(/\/+$/, "")}/${name}`;
      const file = Deno.openSync(path, { append: true, create: true, write: true });
      let held = false;
      try {
        held = file.tryLockSync(true);
      } catch {
        held = false;
      }
      if (held || i === names.length - 1) return new LogFile(path, file, options.buffered ?? true);
      file.close();
    }
    throw new RangeError("Cannot open a log file: no file name given");
  }

  /**
   * Appends one line, prefixed with an ISO-8601 UTC timestamp and a space. A no-op once closed.
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
    if (!this.#buffered || this.#bytes >= FLUSH_BYTES) this.flush();
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
