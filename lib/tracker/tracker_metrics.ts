/**
 * What `tracker.ts --metrics` exposes: requests by type and result, replies by type, the time
 * spent handling each datagram (a histogram), plus the registry's counters and gauges
 * (registered peers, files, evictions, errors, rate-limited datagrams and sources). The
 * driver feeds it one call per datagram; it never touches the network itself.
 * @module
 */
import { Histogram, type MetricFamily } from "../metrics/prometheus.ts";
import type { TrackerCounters } from "./server.ts";

/** Message type byte → name, for the labels (types this tracker does not serve are "other"). */
const TYPE_NAMES: Record<number, string> = {
  0x01: "register",
  0x02: "registered",
  0x03: "own",
  0x04: "need",
  0x05: "owners",
  0x06: "update",
  0x07: "exit",
  0x08: "ack",
  0x09: "error",
  0x0a: "list",
  0x0b: "listing",
  0x0c: "report",
};

/** Upper bounds of the latency buckets, in seconds (5 µs to 10 ms). */
export const LATENCY_BOUNDS: readonly number[] = [
  5e-6,
  10e-6,
  25e-6,
  50e-6,
  100e-6,
  250e-6,
  500e-6,
  1e-3,
  2.5e-3,
  10e-3,
];

/** BEP 15 actions (the u32 at offset 8 of a request, at 0 of a reply). */
const BEP15_ACTIONS = ["connect", "announce", "scrape", "error"];

/** The type label of a BEP 15 datagram: `bep15_connect`, `bep15_announce`, … */
function bep15TypeOf(bytes: Uint8Array, at: number): string {
  const action = bytes.length >= at + 4
    ? new DataView(bytes.buffer, bytes.byteOffset + at, 4).getUint32(0)
    : -1;
  return `bep15_${BEP15_ACTIONS[action] ?? "other"}`;
}

/** The type label of a datagram: its message type, or "malformed" without a valid header. */
function typeOf(bytes: Uint8Array): string {
  if (bytes.length < 8 || bytes[0] !== 0x55 || bytes[1] !== 0x53) return "malformed";
  return TYPE_NAMES[bytes[3]!] ?? "other";
}

/**
 * Request and reply counts and handling latency of a running tracker (`startTracker` with
 * `metrics: true` fills one; `tracker.ts --metrics` serves it).
 *
 * @example Counting what a tracker answered
 * ```ts
 * import assert from "node:assert/strict";
 * import { startTracker, TrackerClient } from "@udpswarm/udpswarm";
 *
 * await using tracker = await startTracker({ port: 0, metrics: true });
 * await using client = await TrackerClient.connect({
 *   tracker: `127.0.0.1:${tracker.address.port}`,
 *   nodeId: "me",
 * });
 * await client.start();
 * const stats = tracker.metrics!.stats(tracker.counters) as {
 *   requests: Record<string, Record<string, number>>;
 * };
 * assert.ok((stats.requests.register?.ok ?? 0) >= 1);
 * ```
 */
export class TrackerMetrics {
  readonly #requests = new Map<string, number>();
  readonly #replies = new Map<string, number>();
  readonly #latency = new Histogram(LATENCY_BOUNDS);
  #rateLimitedSources = 0;

  /**
   * Records one datagram and what the tracker did with it.
   *
   * @param request The datagram received.
   * @param reply The reply sent, or undefined when it was dropped.
   * @param seconds Time spent handling it.
   * @param bep15 It is a BEP 15 datagram (the BitTorrent UDP tracker protocol on the same port).
   */
  onRequest(
    request: Uint8Array,
    reply: Uint8Array | undefined,
    seconds: number,
    bep15 = false,
  ): void {
    const type = bep15 ? bep15TypeOf(request, 8) : typeOf(request);
    const replyType = reply === undefined
      ? undefined
      : bep15
      ? bep15TypeOf(reply, 0)
      : typeOf(reply);
    const result = replyType === undefined
      ? "dropped"
      : replyType === "error" || replyType === "bep15_error"
      ? "error"
      : "ok";
    const key = `${type} ${result}`;
    this.#requests.set(key, (this.#requests.get(key) ?? 0) + 1);
    if (replyType !== undefined) {
      const r = replyType;
      this.#replies.set(r, (this.#replies.get(r) ?? 0) + 1);
    }
    this.#latency.observe(seconds);
  }

  /** Records a source address that the per-source rate limit started dropping. */
  onRateLimitedSource(): void {
    this.#rateLimitedSources++;
  }

  /**
   * The Prometheus families, with the tracker's counters.
   *
   * @param c A snapshot of the tracker's counters.
   * @returns The families for `GET /metrics`.
   */
  families(c: TrackerCounters): MetricFamily[] {
    const counter = (name: string, help: string, value: number): MetricFamily => ({
      name: `udpswarm_tracker_${name}`,
      help,
      type: "counter",
      samples: [{ value }],
    });
    const gauge = (name: string, help: string, value: number): MetricFamily => ({
      ...counter(name, help, value),
      type: "gauge",
    });
    return [
      {
        name: "udpswarm_tracker_requests_total",
        help:
          "Datagrams received, by message type (bep15_* for BEP 15) and result (ok, error, dropped)",
        type: "counter",
        samples: [...this.#requests].map(([key, value]) => {
          const [type, result] = key.split(" ") as [string, string];
          return { labels: { type, result }, value };
        }),
      },
      {
        name: "udpswarm_tracker_replies_total",
        help: "Replies sent, by message type",
        type: "counter",
        samples: [...this.#replies].map(([type, value]) => ({ labels: { type }, value })),
      },
      counter("errors_total", "Requests answered with an ERROR", c.errors),
      counter("malformed_total", "Datagrams that failed to decode", c.malformed),
      counter("send_errors_total", "Replies the socket failed to send", c.sendErrors),
      counter("handler_errors_total", "Exceptions while handling a datagram", c.handlerErrors),
      gauge("peers", "Registered peers", c.peers),
      gauge("files", "Content ids with at least one owner", c.files),
      counter("registrations_total", "Peers registered", c.registrations),
      counter("evictions_total", "Peers evicted for silence", c.evictions),
      counter("exits_total", "Peers that sent EXIT", c.exits),
      counter(
        "rate_limited_total",
        "Datagrams dropped by the per-source rate limit",
        c.rateLimited,
      ),
      counter(
        "rate_limited_sources_total",
        "Times a source address started being rate limited (once a minute per source at most)",
        this.#rateLimitedSources,
      ),
      {
        name: "udpswarm_tracker_request_duration_seconds",
        help: "Time spent handling one datagram",
        type: "histogram",
        samples: this.#latency.samples(),
      },
    ];
  }

  /**
   * The `GET /stats.json` object.
   *
   * @param c A snapshot of the tracker's counters.
   * @returns Counters, requests by type and result, replies, latency.
   */
  stats(c: TrackerCounters): Record<string, unknown> {
    const requests: Record<string, Record<string, number>> = {};
    for (const [key, value] of this.#requests) {
      const [type, result] = key.split(" ") as [string, string];
      (requests[type] ??= {})[result] = value;
    }
    return {
      counters: c,
      requests,
      replies: Object.fromEntries(this.#replies),
      rateLimitedSources: this.#rateLimitedSources,
      latencySeconds: this.#latency.toJSON(),
    };
  }
}
