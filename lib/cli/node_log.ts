/**
 * The per-node log of the seed: `logs/node-<id>.log`, one timestamped line per event. The
 * `Peer` reports events through the `log` callback of its options; this file adds the time
 * and appends them through {@link LogFile}. Writes are synchronous and unbuffered, so the log
 * is complete even when the process is killed.
 * @module
 */
import { join } from "node:path";
import { LogFile } from "../log/log_file.ts";

/** Options for {@link NodeLog.open}. */
export interface NodeLogOptions {
  /** Directory of the log file; created if missing. @default "logs" */
  dir?: string;
  /** Node id; the file is `node-<nodeId>.log`. */
  nodeId: string;
  /** Clock. @default () => new Date() */
  now?: () => Date;
}

/** An append-only, timestamped log file for one node; line breaks in a text are escaped. */
export class NodeLog implements Disposable {
  /** Path of the log file. */
  readonly path: string;
  readonly #file: LogFile;
  readonly #now: () => Date;

  private constructor(path: string, file: LogFile, now: () => Date) {
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
    const name = `node-${options.nodeId}.log`;
    const file = LogFile.open(dir, name, { buffered: false });
    return new NodeLog(join(dir, name), file, options.now ?? (() => new Date()));
  }

  /** Lines that could not be written (disk full, …); logging never throws. */
  get writeErrors(): number {
    return this.#file.writeErrors;
  }

  /**
   * Appends one timestamped line, with line breaks escaped so one event is always one line.
   * A no-op once closed; never throws.
   *
   * @param text the event
   */
  log(text: string): void {
    this.#file.write(text.replace(/\r?\n/g, "\\n"), this.#now().getTime());
  }

  /** Closes the file. Idempotent. */
  close(): void {
    this.#file.close();
  }

  /** Same as {@link NodeLog.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
