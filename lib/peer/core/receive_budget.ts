/**
 * How many bytes a downloader may have in flight towards its one UDP socket. Deno cannot set
 * SO_RCVBUF (only a peer with FFI access to libc can: lib/net/socket_buffer.ts, and then passes
 * the buffer it got), so the kernel default (~208 KiB on Linux) holds what arrives between two reads, and
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
 * Datagrams that may be in flight towards one socket however large its buffer (one raised with
 * SO_RCVBUF, socket_buffer.ts). With 1452-byte datagrams it bounds the rate: 96 (~120 KiB in
 * flight) held `--mtu 1500` near 120 KiB per round trip, 256 cut the CPU per GiB of both sides
 * (fewer, larger requests) at the same peak RSS; 384 and 512 bought nothing more. It was 96 while
 * the receive path's garbage grew with the datagrams in flight (the `Map` that recent_ids.ts
 * replaced: 1452-byte datagrams peaked at 109–111 MiB with 256); figures in docs/TRANSFER.md.
 */
export const MAX_DATAGRAMS_IN_FLIGHT = 256;

/**
 * Bytes of block data that may be in flight so that a burst still fits the receive buffer, with
 * one datagram (or an eighth of the buffer) of slack, and at most
 * {@link MAX_DATAGRAMS_IN_FLIGHT} datagrams; never less than two blocks.
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
  const fits = Math.min(
    Math.floor(receiveBuffer / truesizeOf(blockSize + headerBytes)),
    MAX_DATAGRAMS_IN_FLIGHT,
  );
  // Slack: one datagram, or an eighth of the buffer for small datagrams (their truesize varies)
  return Math.max(2, fits - Math.max(1, Math.floor(fits / 8))) * blockSize;
}
