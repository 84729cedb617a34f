/**
 * The node id a peer takes when none is given: the library's default and the CLI's, so a
 * node looks the same whichever way it was started.
 * @module
 */
import { toHex } from "../wire/hex.ts";

/**
 * A random node id: `p` and 8 hex digits (32 random bits), within the wire's node-id rule
 * (1..24 characters of `[A-Za-z0-9._-]`).
 *
 * @param randomBytes Fills a buffer with random bytes. @default crypto.getRandomValues
 * @returns A fresh node id such as `p3fa9c01e`.
 *
 * @example A random id, and a fixed one from injected bytes
 * ```ts
 * import { randomNodeId } from "./node_id.ts";
 * randomNodeId(); // e.g. "p3fa9c01e"
 * randomNodeId((b) => b.fill(0xab)); // "pabababab"
 * ```
 */
export function randomNodeId(
  randomBytes: (buffer: Uint8Array) => Uint8Array = (b) => crypto.getRandomValues(b),
): string {
  return `p${toHex(randomBytes(new Uint8Array(4)))}`;
}
