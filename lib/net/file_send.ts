/**
 * Zero-copy block sends from a file through libc over FFI (same grant and same non-blocking
 * descriptor as fast_udp.ts): one BLOCK_DATA datagram is built in the kernel from its 16-byte
 * header, sent with `MSG_MORE` (the datagram stays open, "corked"), and its file bytes, appended
 * with `sendfile(2)` from the file's descriptor; the last `sendfile` chunk, without `MSG_MORE`,
 * sends the datagram. The file bytes go from the page cache into the datagram by reference (Linux
 * ≥ 6.5 splices the pages; before, `sendpage`), where the ordinary path copies them twice (a
 * positional read into a buffer, then `sendto` into the kernel). For 32 KiB blocks that is ~25 %
 * less CPU per byte on the owner; for path-MTU-sized blocks it costs more than it saves (two
 * system calls per 1.4 KiB), so the uploader uses it only for large blocks (figures in
 * docs/TRANSFER.md, _Owner side_).
 *
 * `sendfile` sends what the file has: a range past the file's end (a file that got shorter since
 * it was shared) would go out as a shorter datagram, so the caller checks the range against
 * {@link FileSend.fileSize} first, once per request (the uploader does; its ordinary path then
 * finds the short read and answers ERROR out_of_range).
 *
 * The header goes with a `UDP_SEGMENT` control message whose segment size is the whole datagram
 * (one segment: nothing is split). Without it a datagram corked with `MSG_MORE` gets its UDP
 * checksum computed in software over the spliced pages (18 % of the owner's samples at 32 KiB
 * blocks, more than the copy it saves); with it the checksum is left to the device (on loopback,
 * none is computed), as for an ordinary send. The kernel refuses that when the datagram is larger
 * than the route's MTU (EINVAL before Linux 6.10, EMSGSIZE since): from the first such refusal
 * datagrams of that size or more are not sent here ({@link FileSend.fits}), because a corked
 * datagram of spliced pages that leaves as IP fragments did not arrive (measured: network
 * namespaces, MTU 1500, 8,952-byte datagrams, Linux 6.18: a swarm's downloads stalled). Such a
 * datagram goes the ordinary way (a copy, which the kernel fragments), at no more than one
 * refused attempt per socket. One cap for the socket: after a refusal to one destination, larger
 * datagrams to loopback destinations are copied too.
 *
 * A corked datagram must never be left open: the next send on the socket (to any address)
 * would be appended to it. Whenever a send does not complete (a full socket buffer, a file that
 * descriptor `sendfile` refuses, any error), {@link FileSend.send} discards what is corked by
 * appending more than a UDP datagram can hold with `MSG_MORE`, which the kernel refuses with
 * EMSGSIZE after dropping the corked frames (`udp_flush_pending_frames`). The caller then sends
 * that block the ordinary way.
 *
 * JavaScript is single-threaded and Deno's own sends run only when the event loop turns, so no
 * other send on the socket can come between the header and its file bytes.
 * @module
 */
import { encodeIPv4, MSG_DONTWAIT } from "./fast_udp.ts";
import { isDescriptorOfFile, type Libc, openLp64Libc, STAT_BUFFER_BYTES } from "./socket_buffer.ts";
import { addressOf } from "./batch_udp.ts";

const MSG_MORE = 0x8000;
const EAGAIN = 11;
const EINVAL = 22;
const EMSGSIZE = 90;
const ENOBUFS = 105;
const SOL_UDP = 17;
const UDP_SEGMENT = 103;
/** CMSG_SPACE(2): the UDP_SEGMENT control message. */
const CONTROL_BYTES = 24;
/** msghdr at 0, iovec at 56, sockaddr_in at 72, cmsghdr at 88, the header at 112. */
const IOV = 56;
const NAME = 72;
const CONTROL = 88;
const HEADER = 112;
const MAX_HEADER = 64;
/** More than a UDP datagram can hold: appending it fails and drops the corked frames. */
const DISCARD_BYTES = 65535;
/** Failed sends (other than a full buffer) after which sendfile is left off for this socket. */
const GIVE_UP = 8;

/** The identity of an open file as `fstat` gives it (node:fs `Stats`: `dev`, `ino`). */
export interface FileIdentity {
  /** Device number. */
  dev: number;
  /** Inode number. */
  ino: number;
}

/** See the module doc. */
export class FileSend {
  readonly #c: Libc;
  readonly #fd: number;
  /** The header's msghdr, iovec, destination, control message and bytes (one off-heap buffer). */
  readonly #msg = new Uint8Array(new ArrayBuffer(HEADER + MAX_HEADER));
  readonly #mv = new DataView(this.#msg.buffer);
  #toHost = "";
  #toPort = -1;
  /** The off_t that `sendfile` reads and advances. */
  readonly #offset = new Uint8Array(new ArrayBuffer(8));
  readonly #ov = new DataView(this.#offset.buffer);
  readonly #discard = new Uint8Array(DISCARD_BYTES);
  readonly #stat = new Uint8Array(STAT_BUFFER_BYTES);
  #errno = 0n;
  readonly #errnoBytes = new Uint8Array(new ArrayBuffer(8));
  #on = true;
  /** Datagrams larger than this are not sent here (the route refused one: module doc). */
  #maxSize = DISCARD_BYTES;
  #failures = 0;
  /** Datagrams sent with `sendfile`. */
  sends = 0;
  /** Sends that did not complete (the caller sent those blocks the ordinary way). */
  fallbacks = 0;

  private constructor(c: Libc, fd: number) {
    this.#c = c;
    this.#fd = fd;
    const base = addressOf(c, this.#msg);
    const mv = this.#mv;
    mv.setBigUint64(0, base + BigInt(NAME), true);
    mv.setUint32(8, 16, true);
    mv.setBigUint64(16, base + BigInt(IOV), true);
    mv.setBigUint64(24, 1n, true);
    mv.setBigUint64(32, base + BigInt(CONTROL), true);
    mv.setBigUint64(40, BigInt(CONTROL_BYTES), true);
    mv.setBigUint64(IOV, base + BigInt(HEADER), true);
    mv.setBigUint64(CONTROL, 18n, true); // CMSG_LEN(2)
    mv.setInt32(CONTROL + 8, SOL_UDP, true);
    mv.setInt32(CONTROL + 12, UDP_SEGMENT, true);
  }

  /**
   * File sends on the IPv4 UDP socket with descriptor `fd`, or undefined without FFI access to
   * libc (or off LP64 Linux).
   *
   * @param fd the socket's descriptor (socket_buffer.ts `udpSocketFd`)
   * @returns the file sends, or undefined
   */
  static open(fd: number): FileSend | undefined {
    const c = openLp64Libc();
    return c === null ? undefined : new FileSend(c, fd);
  }

  /** Whether sends are on (they have not kept failing). */
  get on(): boolean {
    return this.#on;
  }

  /**
   * Whether {@link send} would try a datagram of `bytes` bytes (header included): sends are on
   * and no datagram of that size or less was refused as larger than the route's MTU.
   *
   * @param bytes the datagram's size
   * @returns false when it should go the ordinary way
   */
  fits(bytes: number): boolean {
    return this.#on && bytes <= this.#maxSize;
  }

  /**
   * Whether `fd` is an operating-system descriptor of the file `identity` describes (node:fs
   * descriptors are, in Deno 2; checked rather than assumed, since {@link send} hands it to the
   * kernel).
   *
   * @param fd a descriptor from node:fs `openSync`
   * @param identity that descriptor's `fstatSync` figures
   * @returns true when libc's `fstat` of `fd` names the same device and inode
   */
  isDescriptorOf(fd: number, identity: FileIdentity): boolean {
    return isDescriptorOfFile(this.#c, fd, identity, this.#stat);
  }

  /**
   * The current size of the file behind `fd` (libc `fstat`), or -1 when it cannot be read.
   *
   * @param fd a descriptor {@link isDescriptorOf} accepted
   * @returns its size in bytes, or -1
   */
  fileSize(fd: number): number {
    if (this.#c.fstat(fd, this.#stat) !== 0) return -1;
    // st_size is the i64 at 48 on x86_64 and on aarch64
    return Number(new DataView(this.#stat.buffer).getBigInt64(48, true));
  }

  /**
   * Sends one datagram: `header`, then `length` bytes of file `fileFd` from `offset`, which must
   * be within the file ({@link fileSize}): past its end the datagram would be shorter.
   *
   * @param header the datagram's first bytes (at most 64; read before this returns)
   * @param fileFd a descriptor {@link isDescriptorOf} accepted
   * @param offset where the file bytes start
   * @param length how many file bytes follow the header
   * @param to an IPv4 destination
   * @returns true when sent; false when nothing was sent (send it the ordinary way)
   */
  send(
    header: Uint8Array,
    fileFd: number,
    offset: number,
    length: number,
    to: Deno.NetAddr,
  ): boolean {
    const size = header.byteLength + length;
    if (!this.#on || header.byteLength > MAX_HEADER || size > this.#maxSize) return false;
    if (to.hostname !== this.#toHost || to.port !== this.#toPort) {
      if (!encodeIPv4(this.#msg, NAME, to)) return false;
      this.#toHost = to.hostname;
      this.#toPort = to.port;
    }
    const c = this.#c;
    const mv = this.#mv;
    this.#msg.set(header, HEADER);
    mv.setBigUint64(IOV + 8, BigInt(header.byteLength), true);
    mv.setUint16(CONTROL + 16, size, true);
    mv.setInt32(48, 0, true);
    const h = Number(c.sendmsg(this.#fd, this.#msg, MSG_MORE | MSG_DONTWAIT));
    let n = h;
    if (h === header.byteLength) {
      this.#ov.setUint32(0, offset >>> 0, true);
      this.#ov.setUint32(4, Math.floor(offset / 0x100000000), true);
      n = Number(c.sendfile(this.#fd, fileFd, this.#offset, length));
      if (n === length) {
        this.sends++;
        this.#failures = 0;
        return true;
      }
    }
    const errno = n < 0 ? this.#lastErrno() : 0;
    this.#discardCorked();
    this.fallbacks++;
    if (errno === EINVAL || errno === EMSGSIZE) {
      this.#maxSize = Math.min(this.#maxSize, size - 1); // larger than the route's MTU
    } else if (n < 0 && errno !== EAGAIN && errno !== ENOBUFS && ++this.#failures >= GIVE_UP) {
      this.#on = false;
    }
    return false;
  }

  /**
   * Drops whatever is corked on the socket: an append larger than any datagram fails (EMSGSIZE)
   * and the kernel flushes the pending frames; with nothing corked it fails the same way and
   * leaves nothing behind.
   */
  #discardCorked(): void {
    for (let i = 0; i < 2; i++) {
      const n = Number(
        this.#c.sendto(
          this.#fd,
          this.#discard,
          DISCARD_BYTES,
          MSG_MORE | MSG_DONTWAIT,
          this.#msg.subarray(NAME, NAME + 16),
          16,
        ),
      );
      if (n < 0) return;
    }
  }

  #lastErrno(): number {
    if (this.#errno === 0n) this.#errno = BigInt(this.#c.__errno_location());
    this.#c.memcpy(this.#errnoBytes, this.#errno, 4);
    return new DataView(this.#errnoBytes.buffer).getInt32(0, true);
  }
}
