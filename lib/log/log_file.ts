/**
 * The one log-file writer: an append-only file of timestamped lines, `<ISO-8601 UTC time> <text>`.
 * The tracker's `tracker.log` buffers its lines; a peer's `node-<id>.log`
 * (lib/cli/node_log.ts) writes each line at once. Every line is escaped ({@link escapeLogText}:
 * text from the network cannot forge lines or hide characters), and the file is capped: when a
 * write would take it past `maxBytes`, it is renamed to `<name>.1` (replacing the previous one)
 * and a new file is started, so a log never takes more than twice the cap. Renaming needs read
 * permission on the directory as well; a process that may only write there (a peer's default grant)
 * starts the file over instead.
 * @module
 */
import { escapeLogText } from "./log_escape.ts";

const FLUSH_BYTES = 64 * 1024;
/** Default size cap of one log file (one rotated copy is kept besides). */
export const DEFAULT_LOG_MAX_BYTES = 64 * 1024 * 1024;
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
  /**
   * Size cap in bytes: past it the file is renamed to `<name>.1` and started again.
   * @default 67108864 (64 MiB)
   */
  maxBytes?: number;
}

/** An append-only, timestamped log file. Writing never throws into the caller. */
export class LogFile {
  /** Path of the log file. */
  readonly path: string;
  #file: Deno.FsFile;
  readonly #buffered: boolean;
  readonly #maxBytes: number;
  /** Bytes in the current file. */
  #size: number;
  /** Times the file was rotated. */
  rotations = 0;
  #parts: string[] = [];
  #bytes = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  #lastMs = -1;
  #lastStamp = "";
  /** Write failures (disk full, …); logging never throws into the caller. */
  writeErrors = 0;

  private constructor(path: string, file: Deno.FsFile, buffered: boolean, maxBytes: number) {
    this.path = path;
    this.#file = file;
    this.#buffered = buffered;
    this.#maxBytes = maxBytes;
    this.#size = sizeOf(file);
  }

  /**
   * Opens (creating the directory and the file if needed) a log file for appending.
   *
   * @param dir the directory
   * @param name the file name
   * @param options buffering and the size cap
   * @returns the log file
   * @throws {Deno.errors.PermissionDenied} without write permission for `dir`
   * @throws {RangeError} `maxBytes` is not positive
   */
  static open(dir: string, name = "tracker.log", options: LogFileOptions = {}): LogFile {
    const maxBytes = options.maxBytes ?? DEFAULT_LOG_MAX_BYTES;
    if (!(maxBytes > 0)) {
      throw new RangeError(`Cannot open log ${name}: maxBytes must be positive, got ${maxBytes}`);
    }
    Deno.mkdirSync(dir, { recursive: true });
    const path = `${dir.replace(/\/+$/, "")}/${name}`;
    const file = Deno.openSync(path, { append: true, create: true, write: true });
    return new LogFile(path, file, options.buffered ?? true, maxBytes);
  }

  /**
   * Opens the first of `names` in `dir` that no other process holds, and holds it (an
   * exclusive advisory lock, released when the file is closed or the process ends), so two
   * writers never interleave lines in one file. The last name is opened even if it is held.
   *
   * @param dir the directory
   * @param names file names to try, in order, e.g. `["tracker.log", "tracker-6970.log"]`
   * @param options buffering and the size cap
   * @returns the log file
   * @throws {Deno.errors.PermissionDenied} without write permission for `dir`
   * @throws {RangeError} `maxBytes` is not positive
   */
  static openExclusive(
    dir: string,
    names: readonly string[],
    options: LogFileOptions = {},
  ): LogFile {
    const maxBytes = options.maxBytes ?? DEFAULT_LOG_MAX_BYTES;
    if (!(maxBytes > 0)) {
      throw new RangeError(`Cannot open log: maxBytes must be positive, got ${maxBytes}`);
    }
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
      if (held || i === names.length - 1) {
        return new LogFile(path, file, options.buffered ?? true, maxBytes);
      }
      file.close();
    }
    throw new RangeError("Cannot open a log file: no file name given");
  }

  /**
   * Appends one line, prefixed with an ISO-8601 UTC timestamp and a space, with control,
   * line-break, bidirectional and invisible characters escaped. A no-op once closed.
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
    const text = this.#lastStamp + " " + escapeLogText(line) + "\n";
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
      if (this.#size > 0 && this.#size + data.length > this.#maxBytes) this.#rotate();
      let off = 0;
      while (off < data.length) off += this.#file.writeSync(data.subarray(off));
      this.#size += data.length;
    } catch {
      this.writeErrors++;
    }
  }

  /**
   * Renames the file to `<path>.1` (replacing it) and starts a new one. Renaming needs read
   * permission too; with write permission alone the file is started over instead.
   */
  #rotate(): void {
    this.#file.close();
    let renamed = false;
    try {
      Deno.renameSync(this.path, this.path + ".1");
      renamed = true;
    } catch {
      // no permission to rename: truncate below, so the cap still holds
    }
    this.#file = renamed
      ? Deno.openSync(this.path, { append: true, create: true, write: true })
      : Deno.openSync(this.path, { write: true, create: true, truncate: true });
    this.#size = 0;
    this.rotations++;
  }

  /** Flushes and closes. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.flush();
    this.#closed = true;
    this.#file.close();
  }
}

/** The file's size without needing read permission (`stat` needs it; a seek does not). */
function sizeOf(file: Deno.FsFile): number {
  try {
    return file.seekSync(0, Deno.SeekMode.End);
  } catch {
    return 0; // counted from this run on: the cap still holds for what this run writes
  }
}
