/**
 * What `peer.ts --metrics` exposes: the peer's totals ({@link PeerStats}) as Prometheus
 * families and as the `GET /stats.json` object.
 * @module
 */
import type { PeerStats } from "../peer/api.ts";
import type { MetricFamily } from "../metrics/prometheus.ts";

/** The metric name, help and type of each {@link PeerStats} field. */
const FIELDS: readonly [keyof PeerStats, string, string, "counter" | "gauge"][] = [
  ["uploadedBytes", "uploaded_bytes_total", "File bytes sent to downloaders", "counter"],
  ["downloadedBytes", "downloaded_bytes_total", "Bytes received from owners", "counter"],
  ["transfersStarted", "transfers_started_total", "Downloads started", "counter"],
  ["transfersCompleted", "transfers_completed_total", "Downloads verified and saved", "counter"],
  ["transfersFailed", "transfers_failed_total", "Downloads that failed or stopped", "counter"],
  ["transfersActive", "transfers_active", "Downloads running now", "gauge"],
  ["retransmits", "retransmits_total", "Datagrams re-requested after a timeout", "counter"],
  ["badPieces", "bad_pieces_total", "Pieces that failed verification", "counter"],
  ["ownersBanned", "owners_banned_total", "Owners dropped for bad data or silence", "counter"],
];

/**
 * The peer's Prometheus families.
 *
 * @param stats The peer's totals now.
 * @param nodeId The node id, as a label.
 * @returns One family per field of {@link PeerStats}, named `udpswarm_peer_*`.
 */
export function peerFamilies(stats: PeerStats, nodeId: string): MetricFamily[] {
  return FIELDS.map(([key, name, help, type]) => ({
    name: `udpswarm_peer_${name}`,
    help,
    type,
    samples: [{ labels: { node: nodeId }, value: stats[key] }],
  }));
}
