/**
 * udpswarm: BitTorrent-style file sharing over UDP — one tracker, many peers, every byte
 * verified.
 *
 * @example Decode a datagram
 * ```ts
 * import { decodeMessage, encodeMessage } from "./mod.ts";
 * const bytes = encodeMessage({ type: "ack", txid: 7 });
 * console.log(decodeMessage(bytes)); // { type: "ack", txid: 7 }
 * ```
 * @module
 */
export * from "./lib/wire/mod.ts";
