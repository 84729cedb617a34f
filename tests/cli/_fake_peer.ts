/**
 * A scripted stand-in for a running `Peer`, for CLI unit tests: no sockets, no disk.
 * Each download is a {@link FakeDownload} the test drives by hand.
 * @module
 */
import { basename } from "node:path";
import type {
  DownloadHandle,
  DownloadOptions,
  DownloadProgress,
  DownloadResult,
  Peer,
  RateLimits,
  SharedFile,
} from "../../lib/peer/api.ts";
import type { PeerAddress } from "../../lib/wire/address.ts";
import type { FileList, ListedFile, ListOptions } from "../../lib/peer/file_list.ts";

/** An error shaped like `TransferError` (a string `code`). */
export class FakeTransferError extends Error {
  /** Reason code. */
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = "TransferError";
    this.code = code;
  }
}

/** A download whose progress and outcome the test controls. */
export class FakeDownload implements DownloadHandle {
  readonly query: string;
  readonly options: DownloadOptions;
  progress: DownloadProgress | undefined;
  readonly done: Promise<DownloadResult>;
  readonly #listeners = new Set<(p: DownloadProgress) => void>();
  #resolve!: (r: DownloadResult) => void;
  #reject!: (e: unknown) => void;

  constructor(query: string, options: DownloadOptions) {
    this.query = query;
    this.options = options;
    this.done = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.done.catch(() => {});
    options.signal?.addEventListener(
      "abort",
      () => this.fail(new FakeTransferError("aborted", "Download aborted")),
      { once: true },
    );
  }

  onProgress(listener: (p: DownloadProgress) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Emits a progress event. */
  emit(p: Partial<DownloadProgress>): void {
    this.progress = { ...progressFixture(this.query), ...p };
    for (const l of this.#listeners) l(this.progress);
  }

  /** Completes the download. */
  finish(r: Partial<DownloadResult> = {}): void {
    this.#resolve({ ...resultFixture(this.query), ...r });
  }

  /** Fails the download. */
  fail(e: unknown): void {
    this.#reject(e);
  }
}

/** A progress event with plausible values. */
export function progressFixture(name = "a.bin"): DownloadProgress {
  return {
    name,
    contentId: "ab".repeat(32),
    size: 64 * 1024 * 1024,
    verifiedBytes: 16 * 1024 * 1024,
    resumedBytes: 0,
    receivedBytes: 16 * 1024 * 1024,
    rate: 50e6,
    owners: ["n1", "n2"],
    retransmits: 3,
    badPieces: 0,
  };
}

/** A download result with plausible values. */
export function resultFixture(name = "a.bin"): DownloadResult {
  return {
    path: `/tmp/out/${name}`,
    name,
    contentId: "ab".repeat(32),
    size: 64 * 1024 * 1024,
    elapsedMs: 1000,
    owners: [{ nodeId: "n1", bytes: 32 * 1024 * 1024 }, { nodeId: "n2", bytes: 32 * 1024 * 1024 }],
    resumedBytes: 0,
    receivedBytes: 64 * 1024 * 1024,
    retransmits: 5,
    badPieces: 0,
  };
}

/** A fake peer: `share` and `download` are scripted; every call is recorded. */
export class FakePeer implements Peer {
  readonly nodeId: string;
  readonly address: PeerAddress = { family: 4, host: "127.0.0.1", port: 40000 };
  readonly files = new Map<string, SharedFile>();
  readonly downloadedFiles = new Map<string, string[]>();
  readonly downloads = new Map<string, DownloadHandle>();
  readonly shared: string[] = [];
  readonly started: FakeDownload[] = [];
  /** Replaces the default share behaviour (succeeds with a fake content id). */
  shareImpl: ((path: string) => Promise<SharedFile>) | undefined;
  /** Called when a download starts. */
  onDownload: ((d: FakeDownload) => void) | undefined;
  /** What `list()` finds (filtered by exact name for `match: "exact"`). */
  listed: ListedFile[] = [];
  /** The `list()` calls. */
  readonly lists: { pattern: string; options: ListOptions }[] = [];
  closed = 0;
  /** The caps `setRateLimits` set. */
  rateLimits: RateLimits = { upload: Infinity, download: Infinity };

  constructor(nodeId = "fake1") {
    this.nodeId = nodeId;
  }

  get isInSendMode(): boolean {
    return this.files.size > 0;
  }

  async share(path: string): Promise<SharedFile> {
    this.shared.push(path);
    const f = this.shareImpl ? await this.shareImpl(path) : {
      name: basename(path),
      path,
      size: 10,
      contentId: String(this.shared.length).padStart(64, "c"),
      pieces: 1,
    };
    this.files.set(f.contentId, f);
    return f;
  }

  download(nameOrId: string, options: DownloadOptions = {}): DownloadHandle {
    const d = new FakeDownload(nameOrId, options);
    this.started.push(d);
    this.downloads.set(nameOrId, d);
    d.done.then(
      (r) => {
        this.downloads.delete(nameOrId);
        this.downloadedFiles.set(r.name, r.owners.map((o) => o.nodeId));
      },
      () => this.downloads.delete(nameOrId),
    );
    this.onDownload?.(d);
    return d;
  }

  list(pattern = "", options: ListOptions = {}): Promise<FileList> {
    this.lists.push({ pattern, options });
    const files = options.match === "exact"
      ? this.listed.filter((f) => f.name === pattern)
      : this.listed;
    return Promise.resolve({ files, total: files.length, complete: true });
  }

  setRateLimits(limits: Partial<RateLimits>): void {
    this.rateLimits = { ...this.rateLimits, ...limits };
  }

  close(): Promise<void> {
    this.closed++;
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Captures what an `Output` writes. */
export class Capture {
  stdout = "";
  stderr = "";
  readonly out = (s: string) => void (this.stdout += s);
  readonly err = (s: string) => void (this.stderr += s);
  /** stdout lines. */
  get lines(): string[] {
    return this.stdout.split("\n").filter((l) => l !== "");
  }
}

/** A byte stream the test writes lines into, then closes (end of input). */
export class ScriptedInput {
  readonly #controller: { c?: ReadableStreamDefaultController<Uint8Array> } = {};
  readonly stream: ReadableStream<Uint8Array>;
  readonly #encoder = new TextEncoder();
  constructor() {
    this.stream = new ReadableStream<Uint8Array>({
      start: (c) => void (this.#controller.c = c),
    });
  }
  /** Sends one line. */
  line(text: string): void {
    this.#controller.c!.enqueue(this.#encoder.encode(`${text}\n`));
  }
  /** Ends the input. */
  end(): void {
    this.#controller.c!.close();
  }
}

/** Lets pending promise callbacks run. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setTimeout(r, 0));
}
