/**
 * State changes and incidents the registry reports, and their log-line form.
 * @module
 */
import { MAX_INCIDENT_LINES_PER_MINUTE } from "./limits.ts";

/** Something the tracker did or refused. */
export type TrackerEvent =
  | { type: "register"; nodeId: string; address: string }
  | { type: "evict"; nodeId: string; address: string; files: number; silentMs: number }
  | {
    type: "own";
    nodeId: string;
    name: string;
    contentId: string;
    size: number;
    replaced?: string;
  }
  | {
    type: "need";
    nodeId: string;
    query: string;
    contentId: string | undefined;
    owners: string[];
    alternatives: number;
  }
  | {
    type: "list";
    nodeId: string;
    match: string;
    pattern: string;
    cursor: number;
    returned: number;
    total: number;
  }
  | { type: "update"; nodeId: string; uploaded: number; rate: number }
  | { type: "report"; nodeId: string; contentId: string; credited: number; ignored: number }
  | { type: "exit"; nodeId: string; address: string; files: number }
  | { type: "key_rotated"; epoch: number }
  | { type: "refused"; source: string; request: string; code: string; detail: string }
  | { type: "malformed"; source: string; detail: string }
  | { type: "rate_limited"; source: string }
  | { type: "log_suppressed"; count: number }
  | { type: "store"; state: "down" | "up"; detail: string };

/**
 * Formats an event as the text after the timestamp in tracker.log.
 *
 * @param e the event
 * @returns one line without a newline
 */
export function formatEvent(e: TrackerEvent): string {
  switch (e.type) {
    case "register":
      return `register ${e.nodeId} from ${e.address}`;
    case "evict":
      return `evict ${e.nodeId} (${e.address}) silent ${e.silentMs} ms, dropped ${e.files} file(s)`;
    case "own":
      return `own ${e.nodeId} "${e.name}" ${e.contentId} ${e.size} bytes` +
        (e.replaced ? ` (replaces ${e.replaced})` : "");
    case "need":
      return e.contentId === undefined
        ? `need ${e.nodeId} ${e.query}: not found`
        : `need ${e.nodeId} ${e.query} -> ${e.contentId} owners [${e.owners.join(", ")}]` +
          (e.alternatives > 0 ? ` (${e.alternatives} other content(s) with that name)` : "");
    case "list":
      return `list ${e.nodeId} ${e.match} ${JSON.stringify(e.pattern)} from ${e.cursor}: ` +
        `${e.returned} of ${e.total}`;
    case "update":
      return `update ${e.nodeId} +${e.uploaded} bytes, rate ${Math.round(e.rate)} B/s`;
    case "report":
      return `report ${e.nodeId} ${e.contentId}: credited ${e.credited} bytes` +
        (e.ignored > 0 ? `, ${e.ignored} entr${e.ignored === 1 ? "y" : "ies"} ignored` : "");
    case "exit":
      return `exit ${e.nodeId} (${e.address}), dropped ${e.files} file(s)`;
    case "key_rotated":
      return `cookie key rotated, epoch ${e.epoch}`;
    case "refused":
      return `refused ${e.request} from ${e.source}: ${e.code}: ${e.detail}`;
    case "malformed":
      return `malformed datagram from ${e.source}: ${e.detail}`;
    case "rate_limited":
      return `rate limited ${e.source} (further drops from its address are not logged for a minute)`;
    case "store":
      return `store ${e.state}: ${e.detail}`;
    case "log_suppressed":
      return `${e.count} incident line(s) not logged in the last 10 s (at most one per address per minute and ${MAX_INCIDENT_LINES_PER_MINUTE} a minute in all)`;
  }
}
