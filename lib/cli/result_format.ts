/**
 * How a finished download and a shared file are shown: one human line, one log line with
 * the figures, and the `--json` events. Pure functions, shared by the prompt and `get`.
 * @module
 */
import type { DownloadResult, SharedFile } from "../peer/api.ts";
import { formatBytes, formatRate } from "./progress.ts";

/** Average rate of a finished download in bytes/s (resumed bytes excluded). */
export function rateOf(r: DownloadResult): number {
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
    resumedBytes: r.resumedBytes,
    receivedBytes: r.receivedBytes,
    retransmits: r.retransmits,
    badPieces: r.badPieces,
  };
}

/** One human line summing up a finished download. */
export function formatResult(r: DownloadResult): string {
  const owners = r.owners.map((o) => `${o.nodeId} ${formatBytes(o.bytes)}`).join(", ");
  const resumed = r.resumedBytes > 0 ? `, ${formatBytes(r.resumedBytes)} resumed` : "";
  return `${formatBytes(r.size)} in ${(r.elapsedMs / 1000).toFixed(2)} s, ` +
    `${formatRate(rateOf(r))}${resumed}, from ${owners || "nobody"}`;
}

/** The log line for a finished download, with its figures. */
export function resultLogLine(r: DownloadResult): string {
  const owners = r.owners.map((o) => `${o.nodeId}=${o.bytes}`).join(",");
  return `download complete name=${r.name} content=${r.contentId} size=${r.size} ` +
    `elapsed_ms=${Math.round(r.elapsedMs)} rate_mbps=${(rateOf(r) / 1e6).toFixed(1)} ` +
    `owners=${owners} resumed=${r.resumedBytes} received=${r.receivedBytes} ` +
    `retransmits=${r.retransmits} bad_pieces=${r.badPieces} path=${r.path}`;
}

/** The `--json` fields of a shared file. */
export function sharedJson(f: SharedFile): Record<string, unknown> {
  return { name: f.name, contentId: f.contentId, size: f.size, path: f.path };
}
