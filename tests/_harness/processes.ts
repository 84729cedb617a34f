/**
 * Helpers for tests that run real processes: spawn `deno run` entrypoints with explicit
 * permissions, read their output line by line, wait for a line, kill them, and clean up on every
 * path. Plus deterministic test files and streaming SHA-256.
 *
 * @example Run the tracker and wait until it listens
 * ```ts ignore
 * await using tracker = spawnDeno({
 *   entrypoint: "tracker.ts",
 *   permissions: ["-P=tracker"],
 *   args: ["--port", "0"],
 * });
 * const { match } = await tracker.waitForLine(/listening on (\S+)/, 5000);
 * ```
 * @module
 */
import { createHash } from "node:crypto";
import { Prng } from "../../lib/sim/prng.ts";
import { withTimeout } from "./wait.ts";

/** Which output a line came from. */
export type StreamName = "stdout" | "stderr";

/** One line of a child's output. */
export interface OutputLine {
  /** Position among all lines of this child, from 0, both streams together. */
  index: number;
  stream: StreamName;
  text: string;
}

/** Options for {@link spawnProcess}. */
export interface SpawnOptions {
  /** The program. */
  command: string;
  /** Its arguments. @default [] */
  args?: string[];
  /** Working directory. @default the current one */
  cwd?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Start from an empty environment plus `env`. @default false */
  clearEnv?: boolean;
  /** A name for messages and echoed lines. @default the command's base name */
  name?: string;
  /** Called for every output line as it arrives. */
  onLine?: (line: OutputLine) => void;
  /** Echo every line to the console with the name as prefix. @default env HARNESS_ECHO === "1" */
  echo?: boolean;
  /** Lines kept in memory; older ones are forgotten (their indices stay). @default 20000 */
  maxLines?: number;
  /** Time `close()` gives the child after SIGTERM before it sends SIGKILL, in ms. @default 3000 */
  graceMs?: number;
}

/** Options for {@link spawnDeno}. */
export interface SpawnDenoOptions extends Omit<SpawnOptions, "command" | "args"> {
  /** Script path or URL given to `deno run`. */
  entrypoint: string;
  /**
   * Permission flags, stated explicitly: `["-P=peer"]`, `["--allow-net=127.0.0.1"]`, or `[]` for
   * none. Only `--allow-*`, `--deny-*`, `-P`/`--permission-set` flags are accepted; `-A` and
   * `--allow-all` are refused so every test states what its child may do.
   */
  permissions: string[];
  /** Arguments after the entrypoint. @default [] */
  args?: string[];
  /** Other `deno run` flags before the entrypoint, e.g. `["--quiet"]`. @default [] */
  denoFlags?: string[];
}

/** A running child process. Dispose of it (or `close()` it) on every path. */
export interface ChildProcess extends AsyncDisposable {
  readonly name: string;
  readonly pid: number;
  /** Lines still in memory, oldest first. */
  readonly lines: readonly OutputLine[];
  /** Lines seen so far, both streams. */
  readonly lineCount: number;
  /** The exit status, once the child has exited. */
  readonly exitStatus: Deno.CommandStatus | undefined;
  /** Resolves when the child exits and its output has been read to the end. */
  readonly status: Promise<Deno.CommandStatus>;
  /** The text of the kept lines, optionally only one stream, joined with newlines. */
  output(stream?: StreamName): string;
  /**
   * Waits for a line matching `pattern`, looking at kept lines from `since` on first.
   *
   * @param pattern Tested against each line's text.
   * @param timeoutMs Longest wait.
   * @param options `since`: first line index to consider (default 0, all kept lines); `stream`:
   *   only lines of that stream.
   * @returns The line and its match.
   * @throws {Error} On timeout or when the child exits first; the message ends with its last lines.
   */
  waitForLine(
    pattern: RegExp,
    timeoutMs: number,
    options?: { since?: number; stream?: StreamName },
  ): Promise<{ line: OutputLine; match: RegExpMatchArray }>;
  /** Sends a signal; does nothing once the child has exited. @default "SIGTERM" */
  kill(signal?: Deno.Signal): void;
  /**
   * Waits for the child to exit by itself.
   * @throws {Error} After `timeoutMs`; the child is left running (dispose of it to stop it).
   */
  wait(timeoutMs: number): Promise<Deno.CommandStatus>;
  /** Stops the child if it still runs (SIGTERM, then SIGKILL after graceMs) and waits for it. */
  close(): Promise<Deno.CommandStatus>;
}

interface Waiter {
  pattern: RegExp;
  stream: StreamName | undefined;
  since: number;
  resolve: (v: { line: OutputLine; match: RegExpMatchArray }) => void;
  reject: (e: Error) => void;
}

class Child implements ChildProcess {
  readonly name: string;
  readonly pid: number;
  readonly status: Promise<Deno.CommandStatus>;
  readonly #process: Deno.ChildProcess;
  readonly #lines: OutputLine[] = [];
  readonly #maxLines: number;
  readonly #graceMs: number;
  readonly #onLine: ((line: OutputLine) => void) | undefined;
  readonly #echo: boolean;
  readonly #waiters = new Set<Waiter>();
  #lineCount = 0;
  #exitStatus: Deno.CommandStatus | undefined;
  #closing: Promise<Deno.CommandStatus> | undefined;

  constructor(options: SpawnOptions) {
    this.name = options.name ?? options.command.split("/").pop() ?? options.command;
    this.#maxLines = options.maxLines ?? 20000;
    this.#graceMs = options.graceMs ?? 3000;
    this.#onLine = options.onLine;
    this.#echo = options.echo ?? Deno.env.get("HARNESS_ECHO") === "1";
    const command = new Deno.Command(options.command, {
      args: options.args ?? [],
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
      ...(options.env !== undefined ? { env: options.env } : {}),
      clearEnv: options.clearEnv ?? false,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    });
    const process = command.spawn();
    this.#process = process;
    this.pid = process.pid;
    const reading = Promise.all([
      this.#read(process.stdout, "stdout"),
      this.#read(process.stderr, "stderr"),
    ]);
    this.status = (async () => {
      const [status] = await Promise.all([process.status, reading]);
      this.#exitStatus = status;
      for (const w of this.#waiters) w.reject(this.#error(`exited with ${describe(status)}`, w));
      this.#waiters.clear();
      return status;
    })();
  }

  get lines(): readonly OutputLine[] {
    return this.#lines;
  }

  get lineCount(): number {
    return this.#lineCount;
  }

  get exitStatus(): Deno.CommandStatus | undefined {
    return this.#exitStatus;
  }

  output(stream?: StreamName): string {
    return this.#lines.filter((l) => !stream || l.stream === stream).map((l) => l.text).join("\n");
  }

  async #read(stream: ReadableStream<Uint8Array>, name: StreamName): Promise<void> {
    const decoder = new TextDecoder();
    let rest = "";
    for await (const chunk of stream) {
      rest += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = rest.indexOf("\n")) >= 0) {
        this.#push(name, rest.slice(0, nl).replace(/\r$/, ""));
        rest = rest.slice(nl + 1);
      }
    }
    rest += decoder.decode();
    if (rest.length > 0) this.#push(name, rest);
  }

  #push(stream: StreamName, text: string): void {
    const line: OutputLine = { index: this.#lineCount++, stream, text };
    this.#lines.push(line);
    if (this.#lines.length > this.#maxLines) this.#lines.shift();
    if (this.#echo) console.error(`[${this.name}${stream === "stderr" ? "!" : ""}] ${text}`);
    this.#onLine?.(line);
    for (const w of this.#waiters) {
      if (line.index < w.since || (w.stream && w.stream !== stream)) continue;
      const match = text.match(w.pattern);
      if (match) {
        this.#waiters.delete(w);
        w.resolve({ line, match });
      }
    }
  }

  #error(what: string, w: { pattern: RegExp }): Error {
    const tail = this.#lines.slice(-20).map((l) =>
      `  ${l.stream === "stderr" ? "!" : " "} ${l.text}`
    );
    return new Error(
      `${this.name} (pid ${this.pid}) ${what} before printing a line matching ${w.pattern}; ` +
        `last lines:\n${tail.join("\n") || "  (none)"}`,
    );
  }

  waitForLine(
    pattern: RegExp,
    timeoutMs: number,
    options: { since?: number; stream?: StreamName } = {},
  ): Promise<{ line: OutputLine; match: RegExpMatchArray }> {
    const since = options.since ?? 0;
    for (const line of this.#lines) {
      if (line.index < since || (options.stream && options.stream !== line.stream)) continue;
      const match = line.text.match(pattern);
      if (match) return Promise.resolve({ line, match });
    }
    if (this.#exitStatus) {
      return Promise.reject(this.#error(`exited with ${describe(this.#exitStatus)}`, { pattern }));
    }
    return new Promise((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined = undefined;
      const waiter: Waiter = {
        pattern,
        stream: options.stream,
        since,
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(this.#error(`timed out after ${timeoutMs} ms`, waiter));
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  kill(signal: Deno.Signal = "SIGTERM"): void {
    if (this.#exitStatus) return;
    try {
      this.#process.kill(signal);
    } catch (e) {
      // The child exited between the check and the kill.
      if (!(e instanceof TypeError) && !(e instanceof Deno.errors.NotFound)) throw e;
    }
  }

  wait(timeoutMs: number): Promise<Deno.CommandStatus> {
    return withTimeout(this.status, timeoutMs, `${this.name} (pid ${this.pid}) to exit`);
  }

  close(): Promise<Deno.CommandStatus> {
    this.#closing ??= (async () => {
      if (!this.#exitStatus) {
        this.kill("SIGTERM");
        try {
          await this.wait(this.#graceMs);
        } catch {
          this.kill("SIGKILL");
        }
      }
      return await this.status;
    })();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

function describe(status: Deno.CommandStatus): string {
  return status.signal ? `signal ${status.signal}` : `code ${status.code}`;
}

/**
 * Spawns any program with piped output and a line reader.
 *
 * @param options The program, its arguments and environment.
 * @returns The running child; dispose of it on every path.
 */
export function spawnProcess(options: SpawnOptions): ChildProcess {
  return new Child(options);
}

const PERMISSION_FLAG =
  /^(--(allow|deny)-(read|write|net|env|sys|run|ffi|import)(=.+)?|-P(=.+)?|--permission-set(=.+)?)$/;

/**
 * Spawns `deno run [denoFlags] [permissions] entrypoint [args]` with the Deno that runs the tests.
 * Permissions must be given explicitly, and `--no-prompt` is always added.
 *
 * @param options The entrypoint, its permission flags and arguments.
 * @returns The running child; dispose of it on every path.
 * @throws {TypeError} When a permission flag is not one.
 */
export function spawnDeno(options: SpawnDenoOptions): ChildProcess {
  for (const p of options.permissions) {
    if (!PERMISSION_FLAG.test(p)) {
      throw new TypeError(`Cannot spawn ${options.entrypoint}: "${p}" is not a permission flag`);
    }
  }
  const { entrypoint, permissions, args, denoFlags, ...rest } = options;
  return new Child({
    name: entrypoint.split("/").pop() ?? entrypoint,
    ...rest,
    command: Deno.execPath(),
    args: ["run", "--no-prompt", ...(denoFlags ?? []), ...permissions, entrypoint, ...(args ?? [])],
  });
}

/** Size of the chunks {@link randomFile} and {@link sha256File} stream. */
export const CHUNK_SIZE = 1 << 20;

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await file.write(bytes.subarray(off));
}

/**
 * Writes `size` deterministic pseudo-random bytes to `path` (created or truncated), streaming in
 * 1 MiB chunks. Equal `seed` and `size` give equal files; a shorter file is a prefix of a longer.
 *
 * @param path Where to write.
 * @param size Bytes to write.
 * @param seed Seed of the content.
 */
export async function randomFile(path: string, size: number, seed: number): Promise<void> {
  if (!(Number.isSafeInteger(size) && size >= 0)) {
    throw new RangeError(`Cannot write random file: size is ${size}, expected an integer >= 0`);
  }
  const prng = new Prng(seed);
  const chunk = new Uint8Array(Math.min(CHUNK_SIZE, Math.max(size, 4)));
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  for (let written = 0; written < size;) {
    const n = Math.min(chunk.length, size - written);
    prng.fill(chunk);
    await writeAll(file, chunk.subarray(0, n));
    written += n;
  }
}

/**
 * Hashes a file with SHA-256, streaming in 1 MiB chunks.
 *
 * @param path The file.
 * @returns The digest as lowercase hex.
 */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  const buf = new Uint8Array(CHUNK_SIZE);
  using file = await Deno.open(path, { read: true });
  for (;;) {
    const n = await file.read(buf);
    if (n === null) break;
    hash.update(buf.subarray(0, n));
  }
  return hash.digest("hex");
}

/** SHA-256 of bytes in memory, as lowercase hex. */
export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** A temporary directory removed (with its content) on dispose. */
export interface TempDir extends AsyncDisposable {
  readonly path: string;
}

/**
 * Makes a temporary directory that `await using` removes.
 *
 * @param prefix Name prefix. @default "udpswarm-test-"
 */
export async function tempDir(prefix = "udpswarm-test-"): Promise<TempDir> {
  const path = await Deno.makeTempDir({ prefix });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * Names of the entries of a directory (not recursive), sorted.
 *
 * @param dir The directory.
 * @returns The sorted names.
 */
export async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}
