/**
 * Why a datagram could not be decoded or a message could not be encoded.
 *
 * - `truncated`: the datagram ends before a field does (or is shorter than the header).
 * - `too_large`: the datagram exceeds `MAX_DATAGRAM` (65507 bytes), or (encoding) the message
 *   does not fit the output buffer.
 * - `bad_magic`, `bad_version`, `unknown_type`: the header's magic, version or type byte is
 *   not one this build speaks.
 * - `bad_length`: a length prefix is out of range, or the datagram size contradicts a field.
 * - `bad_utf8`: a name or text is not valid UTF-8.
 * - `bad_value`: a field is out of range (a u64 past 2^53-1, a bad node id, non-zero padding, …).
 * - `too_many`: a count exceeds its limit (owners, ranges).
 * - `trailing_bytes`: bytes are left after the last field.
 */
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
 * Thrown by the codec for any malformed datagram (decode), and with `too_large` when an encoded
 * message does not fit the caller's buffer. Decoding never throws anything else; encoding a
 * field that is out of range or of the wrong shape throws `RangeError` or `TypeError`.
 *
 * @example Catching a malformed datagram
 * ```ts
 * import { decodeMessage, WireError } from "@udpswarm/udpswarm";
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
   * Creates a wire error.
   *
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
