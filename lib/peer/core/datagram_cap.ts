/**
 * How large a block datagram a download asks for when nothing caps it (`--mtu 0`, no
 * `maxBlock`): up to 32 KiB over loopback, at most a jumbo frame's payload (8,952 bytes) to an
 * owner on another host.
 *
 * A datagram larger than the path's packets leaves as IP fragments, and a drop-tail queue admits
 * fragments one by one: when a rate-limited uplink's queue is full, the head of a 32 KiB datagram
 * gets in and its tail does not, so the datagram is lost and the fragments that got in still take
 * the link. A swarm's uploads are exactly such links, shared by every requester an uploader
 * serves (nine slots of 32 KiB are more than a 40 Mbit/s `tc` queue of 50 ms holds). Measured
 * (docs/TRANSFER.md, "Fragments"): with 32 KiB datagrams real N = 8 took 1.27–1.30× the bound and
 * the simulator with fragments 1.25×; with 8,952-byte datagrams 1.20–1.28× and 1.09×. 1,452-byte
 * datagrams lose nothing to fragments but cost about six times the per-datagram work of 8,952.
 * Over loopback nothing fragments and the largest datagrams are the fastest.
 * @module
 */
import { PROBE_SIZES } from "./mtu_probe.ts";

/** Largest block datagram to an owner on another host unless `--mtu` or `maxBlock` says otherwise. */
export const REMOTE_MAX_DATAGRAM = PROBE_SIZES[2];

/**
 * Tells whether an address is this host's loopback (127.0.0.0/8, ::1, or IPv4 mapped into
 * IPv6 loopback form).
 *
 * @param hostname an IP address as text
 */
export function isLoopback(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[|\]$/g, "");
  if (h === "::1" || h === "localhost") return true;
  const v4 = h.startsWith("::ffff:") ? h.slice(7) : h;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

/**
 * The cap on a download's datagrams when the user set none: undefined (probe up to 32 KiB)
 * when every owner is on loopback, else {@link REMOTE_MAX_DATAGRAM}.
 *
 * @param hostnames the addresses of the owners known when the download starts
 * @example
 * ```ts
 * import { defaultDatagramCap } from "./datagram_cap.ts";
 * defaultDatagramCap(["127.0.0.1"]); // undefined
 * defaultDatagramCap(["127.0.0.1", "192.0.2.7"]); // 8952
 * ```
 */
export function defaultDatagramCap(hostnames: Iterable<string>): number | undefined {
  for (const h of hostnames) if (!isLoopback(h)) return REMOTE_MAX_DATAGRAM;
  return undefined;
}
