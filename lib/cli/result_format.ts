/**
 * How a finished download and a shared file are shown: one human line, one log line with
 * the figures, and the `--json` events. Pure functions, shared by the prompt and `get`.
 * @module
 */
import type { DownloadResult, SharedFile } from "../peer/api.ts";
import { formatBytes, formatRate } from "./progress.ts";

const MIB = 1024 * 1024;

/** Average rate of a finished download in bytes/s (resumed bytes excluded). */
export function rateOf(r: DownloadResult): number {
  if (r.alreadyHad) return 0;
  const fetched = Math.max(0, r.size - r.resumedBytes);
  return r.elapsedMs > 0 ? (fetched * 1000) / r.elapsedMs : 0;
}

/** The `--json` form of a finished download. */
export function resultJson(r: DownloadResult): Record<string, unknown> {
  return {
    event: "done",
    path: r.path,
    name: r.name,
    contentId: r.contentId,
    size: r.size,
    elapsedMs: Math.round(r.elapsedMs),
    rate: Math.round(rateOf(r)),
    owners: r.owners,
    alreadyHad: r.alreadyHad ?? false,
    resumedBytes: r.resumedBytes,
    receivedBytes: r.receivedBytes,
    retransmits: r.retransmits,
    badPieces: r.badPieces,
  };
}

/** One human line summing up a finished download. */
export function formatResult(r: DownloadResult): string {
  if (r.alreadyHad) return `${formatBytes(r.size)}, already here: nothing downloaded`;
  const owners = r.owners.map((o) => `${o.nodeId} ${formatBytes(o.bytes)}`).join(", ");
  const resumed = r.resumedBytes > 0 ? `, ${formatBytes(r.resumedBytes)} resumed` : "";
  return `${formatBytes(r.size)} in ${(r.elapsedMs / 1000).toFixed(2)} s, ` +
    `${formatRate(rateOf(r))}${resumed}, from ${owners || "nobody"}`;
}

/** The log line for a finished download, with its figures. */
export function resultLogLine(r: DownloadResult): string {
  const owners = r.owners.map((o) => `${o.nodeId}=${o.bytes}`).join(",");
  return `download complete name=${r.name} content=${r.contentId} size=${r.size} ` +
    `elapsed_ms=${Math.round(r.elapsedMs)} rate_mibps=${(rateOf(r) / MIB).toFixed(1)} ` +
    `owners=${owners} resumed=${r.resumedBytes} received=${r.receivedBytes} ` +
    `retransmits=${r.retransmits} bad_pieces=${r.badPieces} path=${r.path}`;
}

/** One row of {@link formatSummary}: a download that ended, well or not. */
export interface SummaryRow {
  /** The name or content id asked for, or the saved name. */
  file: string;
  /** `OK` (verified and saved), `HAD` (already here), `ERR` or `STOP`. */
  status: "OK" | "HAD" | "ERR" | "STOP";
  /** The result, for OK and HAD. */
  result?: DownloadResult;
}

/**
 * The end-of-run table, after aria2c's "Download Results": status, size, time, rate, owners
 * and path (or the query) per download.
 *
 * @param rows The downloads of this run, in the order they ended.
 * @returns Lines ending with a legend; empty when there are no rows.
 */
export function formatSummary(rows: readonly SummaryRow[]): string {
  if (rows.length === 0) return "";
  const table = rows.map(({ file, status, result: r }) => [
    status,
    r ? formatBytes(r.size) : "-",
    r && !r.alreadyHad ? `${(r.elapsedMs / 1000).toFixed(2)} s` : "-",
    r && !r.alreadyHad ? formatRate(rateOf(r)) : "-",
    r && r.owners.length > 0 ? r.owners.map((o) => o.nodeId).join(",") : "-",
    r ? r.path : file,
  ]);
  const head = ["stat", "size", "time", "rate", "owners", "path"];
  const widths = head.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join(" | ");
  return [
    "Download results:",
    line(head),
    ...table.map(line),
    "Status: OK verified and saved, HAD already here, ERR failed, STOP interrupted",
  ].join("\n");
}

/** The `--json` fields of a shared file. */
export function sharedJson(f: SharedFile): Record<string, unknown> {
  return { name: f.name, contentId: f.contentId, size: f.size, path: f.path };
}
