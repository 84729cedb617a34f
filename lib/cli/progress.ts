/**
 * Download progress for people and machines: one line updated in place on a terminal,
 * plain periodic lines otherwise, JSON objects with `--json`, nothing with `--quiet`.
 * Formatting is pure; the reporter is driven by progress events and an injected clock.
 * @module
 */
import type { DownloadProgress } from "../peer/api.ts";

/** How progress is shown. */
export type ProgressMode = "tty" | "lines" | "json" | "quiet";

/** Options for {@link ProgressReporter}. */
export interface ProgressReporterOptions {
  /** Writes raw text (no newline added). */
  write: (text: string) => void;
  /** Display mode. */
  mode: ProgressMode;
  /** Minimum time between two outputs. @default 200 for "tty", 2000 for "lines" and "json" */
  intervalMs?: number;
  /** Terminal width; a TTY line is cut to fit. @default 80 */
  columns?: number;
  /** Clock in ms. @default Date.now */
  now?: () => number;
}

const KIB = 1024;
const MIB = 1024 * KIB;
const GIB = 1024 * MIB;

/** Formats a byte count with a binary unit: `512 B`, `1.5 KiB`, `64.0 MiB`, `1.00 GiB`. */
export function formatBytes(n: number): string {
  if (n < KIB) return `${n} B`;
  if (n < MIB) return `${(n / KIB).toFixed(1)} KiB`;
  if (n < GIB) return `${(n / MIB).toFixed(1)} MiB`;
  return `${(n / GIB).toFixed(2)} GiB`;
}

/**
 * Formats a rate in binary megabytes per second, the unit {@link formatBytes} uses for sizes:
 * `81.3 MiB/s` (1 MiB/s = 1,048,576 bytes/s).
 */
export function formatRate(bytesPerSecond: number): string {
  const mib = Math.max(0, bytesPerSecond) / MIB;
  return `${mib < 10 ? mib.toFixed(2) : mib.toFixed(1)} MiB/s`;
}

/** Formats seconds as `m:ss` or `h:mm:ss`; `--:--` when unknown or absurd. */
export function formatEta(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return "--:--";
  const s = Math.ceil(seconds);
  if (s >= 100 * 3600) return "--:--";
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** Completed fraction in percent, 0..100 (an empty file is 100 %). */
export function percentOf(p: Pick<DownloadProgress, "size" | "verifiedBytes">): number {
  if (p.size <= 0) return 100;
  return Math.min(100, (100 * p.verifiedBytes) / p.size);
}

/** Seconds left at the current rate, or undefined when the rate is 0. */
export function etaSeconds(
  p: Pick<DownloadProgress, "size" | "verifiedBytes" | "rate">,
): number | undefined {
  const left = Math.max(0, p.size - p.verifiedBytes);
  if (left === 0) return 0;
  return p.rate > 0 ? left / p.rate : undefined;
}

/**
 * One human line for a download:
 * `big.iso  42.0%  26.9 MiB/64.0 MiB  81.3 MiB/s  ETA 0:03  owners 2 (a,b)`.
 */
export function formatProgressLine(p: DownloadProgress): string {
  const owners = p.owners.length === 0
    ? "owners 0"
    : `owners ${p.owners.length} (${p.owners.join(",")})`;
  return [
    p.name,
    `${percentOf(p).toFixed(1)}%`,
    `${formatBytes(p.verifiedBytes)}/${formatBytes(p.size)}`,
    formatRate(p.rate),
    `ETA ${formatEta(etaSeconds(p))}`,
    owners,
  ].join("  ");
}

/** The `--json` progress event for a download. */
export function progressJson(p: DownloadProgress): Record<string, unknown> {
  const eta = etaSeconds(p);
  return {
    event: "progress",
    name: p.name,
    contentId: p.contentId,
    size: p.size,
    verifiedBytes: p.verifiedBytes,
    receivedBytes: p.receivedBytes,
    percent: Math.round(percentOf(p) * 10) / 10,
    rate: Math.round(p.rate),
    etaSeconds: eta === undefined ? null : Math.round(eta * 10) / 10,
    owners: p.owners,
    retransmits: p.retransmits,
    badPieces: p.badPieces,
  };
}

/**
 * Shows progress of one download. Feed it every progress event; it throttles output itself.
 * Call {@link ProgressReporter.finish} once the download ended, so a TTY line is closed.
 */
export class ProgressReporter {
  readonly #write: (text: string) => void;
  readonly #mode: ProgressMode;
  readonly #interval: number;
  readonly #columns: number;
  readonly #now: () => number;
  #last = -Infinity;
  #latest: DownloadProgress | undefined;
  #shown: DownloadProgress | undefined;
  #lineOpen = false;

  /** Creates a reporter; it writes nothing until the first update. */
  constructor(options: ProgressReporterOptions) {
    this.#write = options.write;
    this.#mode = options.mode;
    this.#interval = options.intervalMs ?? (options.mode === "tty" ? 200 : 2000);
    this.#columns = Math.max(20, options.columns ?? 80);
    this.#now = options.now ?? Date.now;
  }

  /** Records a progress event and shows it if the interval has passed. */
  update(p: DownloadProgress): void {
    this.#latest = p;
    if (this.#mode === "quiet") return;
    const t = this.#now();
    if (t - this.#last < this.#interval) return;
    this.#last = t;
    this.#show(p);
  }

  /**
   * Shows the final state (or the latest one, if not shown yet) and ends a TTY line.
   * Idempotent.
   *
   * @param final The state to end on, e.g. 100 % once the download is verified.
   */
  finish(final?: DownloadProgress): void {
    if (final) this.#latest = final;
    if (this.#mode !== "quiet" && this.#latest && this.#latest !== this.#shown) {
      this.#show(this.#latest);
    }
    if (this.#lineOpen) {
      this.#write("\n");
      this.#lineOpen = false;
    }
  }

  #show(p: DownloadProgress): void {
    this.#shown = p;
    switch (this.#mode) {
      case "tty": {
        let line = formatProgressLine(p);
        if (line.length > this.#columns - 1) line = line.slice(0, this.#columns - 1);
        this.#write(`\r\x1b[2K${line}`);
        this.#lineOpen = true;
        break;
      }
      case "lines":
        this.#write(`${formatProgressLine(p)}\n`);
        break;
      case "json":
        this.#write(`${JSON.stringify(progressJson(p))}\n`);
        break;
      case "quiet":
        break;
    }
  }
}
