/**
 * How many bytes a downloader may have in flight towards its one UDP socket. Deno cannot set
 * SO_RCVBUF, so the kernel default (~208 KiB on Linux) holds what arrives between two reads, and
 * the kernel charges each datagram its buffer "truesize", not its length. Measured on loopback
 * (Linux, Deno 2.9.6): 92 datagrams of 1452 bytes, 12 of 8952 or 16400, 6 of 32784, 3 of 52–64 KiB.
 * @module
 */

/** The default socket receive buffer on Linux, bytes. */
export const DEFAULT_RECEIVE_BUFFER = 212_992;

/** Estimated kernel memory charged for one received datagram of `size` bytes. */
export function truesizeOf(size: number): number {
  if (size <= 1800) return 2304;
  if (size <= 3800) return 4608;
  if (size <= 7900) return 9216;
  if (size <= 16_400) return 17_664;
  if (size <= 32_800) return 35_328;
  return 70_656;
}

/**
 * Bytes of block data that may be in flight so that a burst still fits the receive buffer, with
 * one datagram (or an eighth of the buffer) of slack; never less than two blocks.
 *
 * @param blockSize data bytes per datagram
 * @param headerBytes bytes of header per datagram
 * @param receiveBuffer the socket's receive buffer
 */
export function inFlightBudget(
  blockSize: number,
  headerBytes = 16,
  receiveBuffer = DEFAULT_RECEIVE_BUFFER,
): number {
  const fits = Math.floor(receiveBuffer / truesizeOf(blockSize + headerBytes));
  // Slack: one datagram, or an eighth of the buffer for small datagrams (their truesize varies)
  return Math.max(2, fits - Math.max(1, Math.floor(fits / 8))) * blockSize;
}
