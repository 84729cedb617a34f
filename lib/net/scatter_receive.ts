/**
 * Receiving a datagram straight into where its payload belongs (the same libc grant and
 * non-blocking descriptor as fast_udp.ts): one `recvmsg` with three iovecs, the first
 * `head` bytes into the start of the endpoint's receive buffer, the next bytes into a
 * caller's slot (a downloader's piece buffer, at the block it expects next), and whatever
 * follows into the receive buffer again, after where the slot's bytes would sit. A datagram
 * that fits the head and the slot is then handed over as two views, with no copy of its
 * payload; anything else (a longer datagram, a caller that does not want it in two parts) is
 * made contiguous in the receive buffer with one copy, the copy the plain path makes anyway.
 *
 * The kernel writes into the slot whatever datagram arrives, so the caller must offer only
 * bytes it does not need (a block not received yet) and must not read the slot for anything
 * but that datagram. Why and what it measured: docs/TRANSFER.md, _Downloader CPU, fourth round_.
 *
 * Layouts are LP64 Linux (x86_64, aarch64): msghdr 56 bytes, iovec 16.
 * @module
 */
import { IPv4Source, MSG_DONTWAIT } from "./fast_udp.ts";
import { addressOf } from "./batch_udp.ts";
import type { Libc } from "./socket_buffer.ts";

/** The smallest slot buffer offered to the kernel (smaller typed arrays may live on V8's heap). */
export const MIN_SLOT_BUFFER = 4096;
/** msghdr at 0, three iovecs at 56, the source sockaddr_in at 104. */
const IOV = 56;
const NAME = 104;

/** See the module doc. */
export class ScatterReceive {
  readonly #c: Libc;
  readonly #fd: number;
  readonly #buffer: Uint8Array;
  readonly #bufferAt: number;
  readonly #head: number;
  readonly #msg: Uint8Array;
  readonly #mv: DataView;
  /** Native addresses of the slot buffers seen (stable: off V8's heap). */
  readonly #bases = new WeakMap<ArrayBufferLike, number>();
  readonly #source = new IPv4Source();
  #slotLength = 0;
  /** Datagrams whose payload stayed in the slot ({@link receive} > head, ≤ head + slot). */
  placed = 0;

  /**
   * @param c libc
   * @param fd the socket's descriptor
   * @param buffer the endpoint's receive buffer (off V8's heap; at least a datagram long)
   * @param head bytes of each datagram that go to the start of `buffer` (a header)
   */
  constructor(c: Libc, fd: number, buffer: Uint8Array, head: number) {
    this.#c = c;
    this.#fd = fd;
    this.#buffer = buffer;
    this.#head = head;
    this.#bufferAt = Number(addressOf(c, buffer));
    this.#msg = new Uint8Array(new ArrayBuffer(128));
    this.#mv = new DataView(this.#msg.buffer);
    const base = Number(addressOf(c, this.#msg));
    const mv = this.#mv;
    setAddress(mv, 0, base + NAME);
    setAddress(mv, 16, base + IOV);
    mv.setUint32(24, 3, true);
    setAddress(mv, IOV, this.#bufferAt);
    mv.setUint32(IOV + 8, head, true);
  }

  /**
   * Reads one waiting datagram: its first `head` bytes to the receive buffer, the next ones into
   * `slot`, the rest to the receive buffer after `head + slot.byteLength`.
   *
   * @param slot where the bytes after the head go (off V8's heap: a piece buffer)
   * @returns the datagram's length, or -1 when none is waiting (or on an error); its source is
   *   {@link lastFrom}
   */
  receive(slot: Uint8Array): number {
    const mv = this.#mv;
    const len = slot.byteLength;
    const buf = slot.buffer;
    let base = this.#bases.get(buf);
    if (base === undefined) {
      base = Number(addressOf(this.#c, new Uint8Array(buf)));
      this.#bases.set(buf, base);
    }
    this.#slotLength = len;
    setAddress(mv, IOV + 16, base + slot.byteOffset);
    mv.setUint32(IOV + 24, len, true);
    const rest = this.#head + len;
    setAddress(mv, IOV + 32, this.#bufferAt + rest);
    mv.setUint32(IOV + 40, this.#buffer.byteLength - rest, true);
    mv.setUint32(8, 16, true); // msg_namelen
    mv.setUint32(48, 0, true); // msg_flags
    return Number(this.#c.recvmsg(this.#fd, this.#msg, MSG_DONTWAIT));
  }

  /**
   * Makes the datagram of length `n` that {@link receive} read into `slot` contiguous in the
   * receive buffer (copies the slot's part to where it belongs there).
   *
   * @param slot the slot passed to {@link receive}
   * @param n the length it returned
   * @returns the whole datagram, a view of the receive buffer
   */
  assemble(slot: Uint8Array, n: number): Uint8Array {
    const head = this.#head;
    if (n > head) {
      this.#buffer.set(slot.subarray(0, Math.min(n - head, this.#slotLength)), head);
    }
    return this.#buffer.subarray(0, n);
  }

  /** The source of the datagram {@link receive} returned (the same object while it repeats). */
  get lastFrom(): Deno.NetAddr {
    return this.#source.read(this.#msg, NAME);
  }
}

/** Writes a native address (below 2^53) as a little-endian u64. */
function setAddress(mv: DataView, at: number, address: number): void {
  mv.setUint32(at, address % 0x100000000, true);
  mv.setUint32(at + 4, Math.floor(address / 0x100000000), true);
}
