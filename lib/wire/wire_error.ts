/** Why a datagram could not be decoded or a message could not be encoded. */
export type WireErrorReason =
  | "truncated"
  | "too_large"
  | "bad_magic"
  | "bad_version"
  | "unknown_type"
  | "bad_length"
  | "bad_utf8"
  | "bad_value"
  | "too_many"
  | "trailing_bytes";

/**
 * Thrown by the codec for any malformed input (decode) or any value that does not fit the
 * wire format (encode). Decoding never throws anything else.
 *
 * @example Catching a malformed datagram
 * ```ts
 * import { decodeMessage, WireError } from "./mod.ts";
 * try {
 *   decodeMessage(new Uint8Array([1, 2, 3]));
 * } catch (e) {
 *   if (e instanceof WireError) console.log(e.reason, e.offset); // "truncated" 0
 * }
 * ```
 */
export class WireError extends Error {
  /** Machine-readable reason. */
  readonly reason: WireErrorReason;
  /** Byte offset in the datagram where decoding failed (-1 for encode errors). */
  readonly offset: number;

  /**
   * @param reason machine-readable reason
   * @param offset byte offset of the fault, or -1 when encoding
   * @param message human-readable explanation
   */
  constructor(reason: WireErrorReason, offset: number, message: string) {
    super(message);
    this.name = "WireError";
    this.reason = reason;
    this.offset = offset;
  }
}
