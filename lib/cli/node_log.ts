/**
 * The per-node log of the seed: `logs/node-<id>.log`, one timestamped line per event. The
 * `Peer` reports events through the `log` callback of its options; this file adds the time
 * and appends them. Writes are synchronous and unbuffered, so the log is complete even when
 * the process is killed.
 * @module
 */
import { join } from "node:path";

/** Options for {@link NodeLog.open}. */
export interface NodeLogOptions {
  /** Directory of the log file; created if missing. @default "logs" */
  dir?: string;
  /** Node id; the file is `node-<nodeId>.log`. */
  nodeId: string;
  /** Clock. @default () => new Date() */
  now?: () => Date;
}

/**
 * Formats one log line: ISO-8601 UTC time, a space, the text, a newline. Line breaks in the
 * text are escaped so one event is always one line.
 */
export function formatLogLine(date: Date, text: string): string {
  return `${date.toISOString()} ${text.replace(/\r?\n/g, "\\n")}\n`;
}

/** An append-only, timestamped log file for one node. */
export class NodeLog implements Disposable {
  /** Path of the log file. */
  readonly path: string;
  readonly #file: Deno.FsFile;
  readonly #now: () => Date;
  readonly #encoder = new TextEncoder();
  #closed = false;
  /** Lines that could not be written (disk full, …); logging never throws. */
  writeErrors = 0;

  private constructor(path: string, file: Deno.FsFile, now: () => Date) {
    this.path = path;
    this.#file = file;
    this.#now = now;
  }

  /**
   * Opens (appending) `<dir>/node-<nodeId>.log`, creating the directory.
   *
   * @param options Directory, node id and clock.
   * @returns The open log.
   * @throws {Deno.errors.PermissionDenied} Without write permission on the directory.
   */
  static open(options: NodeLogOptions): NodeLog {
    const dir = options.dir ?? "logs";
    Deno.mkdirSync(dir, { recursive: true });
    const path = join(dir, `node-${options.nodeId}.log`);
    const file = Deno.openSync(path, { append: true, create: true });
    return new NodeLog(path, file, options.now ?? (() => new Date()));
  }

  /** Appends one timestamped line. A no-op once closed; never throws. */
  log(text: string): void {
    if (this.#closed) return;
    try {
      const bytes = this.#encoder.encode(formatLogLine(this.#now(), text));
      let off = 0;
      while (off < bytes.length) off += this.#file.writeSync(bytes.subarray(off));
    } catch {
      this.writeErrors++;
    }
  }

  /** Closes the file. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#file.close();
  }

  /** Same as {@link NodeLog.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
