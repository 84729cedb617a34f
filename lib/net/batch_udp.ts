/**
 * Batched datagram system calls through libc over FFI, beside fast_udp.ts (same grant, same
 * non-blocking descriptor): `recvmmsg` reads up to {@link BATCH_SLOTS} waiting datagrams in one
 * call into a pooled set of buffers; with UDP GRO on (`UDP_GRO`, Linux ≥ 5.0) one of those reads
 * may be several datagrams the kernel kept together, which the `UDP_GRO` control message's segment
 * size splits again; `sendmsg` with a `UDP_SEGMENT` control message (UDP GSO, Linux ≥ 4.18) sends a
 * buffer of consecutive equal-size datagrams (the last may be shorter) in one call, split by the
 * kernel. Every datagram handed out is one datagram as its sender built it, and goes through the
 * same parse and checks as any other.
 *
 * With GRO on, Deno's own `receive` must never read the socket (it would return joined datagrams
 * without their segment size), so the endpoint waits with {@link BatchUdp.waitReadable} (`poll` on
 * a blocking thread, woken by an eventfd on close) instead. Why and what it measured:
 * docs/TRANSFER.md, _Receive buffer and the libc fast path_.
 *
 * Layouts are LP64 Linux (x86_64, aarch64): iovec 16 bytes, msghdr 56, mmsghdr 64, cmsghdr 16 +
 * data.
 * @module
 */
import { encodeIPv4, IPv4Source, MSG_DONTWAIT } from "./fast_udp.ts";
import { type Libc, openLp64Libc } from "./socket_buffer.ts";

/** Datagrams (or GRO groups) one {@link BatchUdp.receive} reads at most. */
export const BATCH_SLOTS = 8;
/** Bytes per receive slot: a whole GRO group (at most 64 KiB) or the largest datagram. */
const SLOT = 65536;
/** The kernel's cap on segments per GSO send (UDP_MAX_SEGMENTS). */
export const MAX_GSO_SEGMENTS = 64;
/** The largest UDP payload, which bounds a GSO send too. */
export const MAX_GSO_BYTES = 65507;

const MSG_TRUNC = 0x20;
const SOL_UDP = 17;
const UDP_SEGMENT = 103;
const UDP_GRO = 104;
const EAGAIN = 11;
const EFD_NONBLOCK = 0x800;
const POLLIN = 1;
const MMSG = 64;
const CONTROL = 32;
/** Failed GSO sends (other than a full buffer) after which GSO is left off for this socket. */
const GSO_GIVE_UP = 8;

/** Called for each datagram of a batch; `bytes` is valid only until it returns. */
export type BatchHandler = (bytes: Uint8Array, from: Deno.NetAddr) => void;

/** See the module doc. */
export class BatchUdp {
  readonly #c: Libc;
  readonly #fd: number;
  readonly #data: Uint8Array;
  /** mmsghdr[BATCH_SLOTS], then iovecs, names, controls: one stable off-heap buffer. */
  readonly #meta: Uint8Array;
  readonly #mv: DataView;
  readonly #namesAt: number;
  readonly #controlAt: number;
  /** One msghdr + iovec + name + control for GSO sends. */
  readonly #out: Uint8Array;
  readonly #ov: DataView;
  readonly #outBase: bigint;
  #toHost = "";
  #toPort = -1;
  #errno = 0n;
  readonly #errnoBytes = new Uint8Array(new ArrayBuffer(8));
  #gro = false;
  #gso: boolean;
  #gsoFailures = 0;
  #event = -1;
  readonly #pollFds = new Uint8Array(new ArrayBuffer(64), 0, 16);
  readonly #source = new IPv4Source();
  /** GSO sends that went out, and datagrams they carried. */
  gsoSends = 0;
  gsoDatagrams = 0;
  /** Reads that were GRO groups of several datagrams (split here). */
  groGroups = 0;

  private constructor(c: Libc, fd: number) {
    this.#c = c;
    this.#fd = fd;
    this.#data = new Uint8Array(new ArrayBuffer(BATCH_SLOTS * SLOT));
    this.#namesAt = BATCH_SLOTS * (MMSG + 16);
    this.#controlAt = this.#namesAt + BATCH_SLOTS * 16;
    this.#meta = new Uint8Array(new ArrayBuffer(this.#controlAt + BATCH_SLOTS * CONTROL));
    this.#mv = new DataView(this.#meta.buffer);
    const meta = addressOf(c, this.#meta);
    const data = addressOf(c, this.#data);
    for (let i = 0; i < BATCH_SLOTS; i++) {
      const h = i * MMSG;
      const iov = BATCH_SLOTS * MMSG + i * 16;
      this.#mv.setBigUint64(iov, data + BigInt(i * SLOT), true);
      this.#mv.setBigUint64(iov + 8, BigInt(SLOT), true);
      this.#mv.setBigUint64(h, meta + BigInt(this.#namesAt + i * 16), true);
      this.#mv.setBigUint64(h + 16, meta + BigInt(iov), true);
      this.#mv.setBigUint64(h + 24, 1n, true);
      this.#mv.setBigUint64(h + 32, meta + BigInt(this.#controlAt + i * CONTROL), true);
    }
    // msghdr at 0, iovec at 56, sockaddr_in at 72, cmsghdr at 88 (24 bytes)
    this.#out = new Uint8Array(new ArrayBuffer(128));
    this.#ov = new DataView(this.#out.buffer);
    this.#outBase = addressOf(c, this.#out);
    const ov = this.#ov;
    ov.setBigUint64(0, this.#outBase + 72n, true);
    ov.setUint32(8, 16, true);
    ov.setBigUint64(16, this.#outBase + 56n, true);
    ov.setBigUint64(24, 1n, true);
    ov.setBigUint64(32, this.#outBase + 88n, true);
    ov.setBigUint64(40, 24n, true);
    ov.setBigUint64(88, 18n, true); // CMSG_LEN(2)
    ov.setInt32(96, SOL_UDP, true);
    ov.setInt32(100, UDP_SEGMENT, true);
    // The kernel supports GSO when it knows the option
    const v = new Uint8Array(new ArrayBuffer(8));
    const len = new Uint8Array(new ArrayBuffer(8));
    len[0] = 4;
    this.#gso = c.getsockopt(fd, SOL_UDP, UDP_SEGMENT, v.subarray(0, 4), len.subarray(0, 4)) === 0;
  }

  /**
   * Batched calls on the IPv4 UDP socket with descriptor `fd`, or undefined without FFI access
   * to libc (or off LP64 Linux).
   *
   * @param fd the socket's descriptor (socket_buffer.ts `udpSocketFd`)
   * @returns the batch calls, or undefined
   */
  static open(fd: number): BatchUdp | undefined {
    const c = openLp64Libc();
    return c === null ? undefined : new BatchUdp(c, fd);
  }

  /** Whether GSO sends are on (the kernel knows UDP_SEGMENT and they have not kept failing). */
  get gso(): boolean {
    return this.#gso;
  }

  /** Whether GRO is on for this socket ({@link enableGro}). */
  get gro(): boolean {
    return this.#gro;
  }

  /**
   * Turns UDP GRO on: the kernel may then hand several datagrams of one sender as one read,
   * which {@link receive} splits. After this, only {@link receive} may read the socket.
   *
   * @returns true when the kernel took the option (and an eventfd for {@link wake} was made)
   */
  enableGro(): boolean {
    if (this.#gro) return true;
    const one = new Uint8Array(new ArrayBuffer(8));
    one[0] = 1;
    if (this.#c.setsockopt(this.#fd, SOL_UDP, UDP_GRO, one.subarray(0, 4), 4) !== 0) return false;
    const ev = this.#c.eventfd(0, EFD_NONBLOCK);
    if (ev < 0) {
      one[0] = 0;
      this.#c.setsockopt(this.#fd, SOL_UDP, UDP_GRO, one.subarray(0, 4), 4);
      return false;
    }
    this.#event = ev;
    const pv = new DataView(this.#pollFds.buffer);
    pv.setInt32(0, this.#fd, true);
    pv.setInt16(4, POLLIN, true);
    pv.setInt32(8, ev, true);
    pv.setInt16(12, POLLIN, true);
    this.#gro = true;
    return true;
  }

  /**
   * Waits (on a blocking thread) until the socket has a datagram or {@link wake} was called.
   * Only with GRO on.
   */
  async waitReadable(): Promise<void> {
    const pv = new DataView(this.#pollFds.buffer);
    pv.setInt16(6, 0, true);
    pv.setInt16(14, 0, true);
    await this.#c.poll(this.#pollFds, 2, -1);
  }

  /** Wakes a pending {@link waitReadable} (on close). */
  wake(): void {
    if (this.#event < 0) return;
    const one = new Uint8Array(new ArrayBuffer(8));
    one[0] = 1;
    this.#c.write(this.#event, one, 8);
  }

  /** Frees the eventfd (after the last {@link waitReadable} settled). */
  close(): void {
    if (this.#event >= 0) this.#c.close(this.#event);
    this.#event = -1;
  }

  /**
   * Reads the datagrams waiting (up to {@link BATCH_SLOTS} reads) and hands each to `handler`,
   * in arrival order, GRO groups split at their segment size. Truncated reads are dropped.
   *
   * @param handler called once per datagram
   * @returns datagrams handed out, or -1 when nothing was waiting (or on an error)
   */
  receive(handler: BatchHandler): number {
    const mv = this.#mv;
    for (let i = 0; i < BATCH_SLOTS; i++) {
      const h = i * MMSG;
      mv.setUint32(h + 8, 16, true);
      mv.setBigUint64(h + 40, this.#gro ? BigInt(CONTROL) : 0n, true);
      mv.setInt32(h + 48, 0, true);
    }
    const got = this.#c.recvmmsg(this.#fd, this.#meta, BATCH_SLOTS, MSG_DONTWAIT, 0n);
    if (got <= 0) return -1;
    let count = 0;
    for (let i = 0; i < got; i++) {
      const h = i * MMSG;
      const len = mv.getUint32(h + 56, true);
      if ((mv.getInt32(h + 48, true) & MSG_TRUNC) !== 0) continue;
      const from = this.#from(this.#namesAt + i * 16);
      const start = i * SLOT;
      const seg = this.#gro ? this.#segmentSize(h) : 0;
      if (seg <= 0 || seg >= len) {
        count++;
        handler(this.#data.subarray(start, start + len), from);
        continue;
      }
      this.groGroups++;
      for (let at = 0; at < len; at += seg) {
        count++;
        handler(this.#data.subarray(start + at, start + Math.min(len, at + seg)), from);
      }
    }
    return count;
  }

  /**
   * Sends `bytes`, consecutive datagrams of `segment` bytes each (the last may be shorter), in
   * one GSO call. Only IPv4 destinations.
   *
   * @param bytes the datagrams, back to back (at most {@link MAX_GSO_BYTES}; read before return)
   * @param segment each datagram's size
   * @param to the destination
   * @returns true when the kernel took them all; false when not (send them one by one)
   */
  sendSegments(bytes: Uint8Array, segment: number, to: Deno.NetAddr): boolean {
    if (!this.#gso) return false;
    if (to.hostname !== this.#toHost || to.port !== this.#toPort) {
      if (!encodeIPv4(this.#out, 72, to)) return false;
      this.#toHost = to.hostname;
      this.#toPort = to.port;
    }
    const ov = this.#ov;
    ov.setBigUint64(56, addressOf(this.#c, bytes), true);
    ov.setBigUint64(64, BigInt(bytes.byteLength), true);
    ov.setUint16(104, segment, true);
    ov.setInt32(48, 0, true);
    const n = Number(this.#c.sendmsg(this.#fd, this.#out, MSG_DONTWAIT));
    if (n === bytes.byteLength) {
      this.gsoSends++;
      this.gsoDatagrams += Math.ceil(bytes.byteLength / segment);
      return true;
    }
    if (n < 0 && this.#lastErrno() !== EAGAIN && ++this.#gsoFailures >= GSO_GIVE_UP) {
      this.#gso = false;
    }
    return false;
  }

  #lastErrno(): number {
    if (this.#errno === 0n) this.#errno = BigInt(this.#c.__errno_location());
    this.#c.memcpy(this.#errnoBytes, this.#errno, 4);
    return new DataView(this.#errnoBytes.buffer).getInt32(0, true);
  }

  /** The UDP_GRO segment size in message `h`'s control data, or 0. */
  #segmentSize(h: number): number {
    const mv = this.#mv;
    let left = Number(mv.getBigUint64(h + 40, true));
    let at = this.#controlAt + (h / MMSG) * CONTROL;
    while (left >= 20) {
      const clen = Number(mv.getBigUint64(at, true));
      if (clen < 16 || clen > left) return 0;
      if (mv.getInt32(at + 8, true) === SOL_UDP && mv.getInt32(at + 12, true) === UDP_GRO) {
        return clen >= 18
          ? (clen >= 20 ? mv.getInt32(at + 16, true) : mv.getUint16(at + 16, true))
          : 0;
      }
      const step = (clen + 7) & ~7;
      at += step;
      left -= step;
    }
    return 0;
  }

  /** The IPv4 source at `at` in the meta buffer (the same object while it repeats). */
  #from(at: number): Deno.NetAddr {
    return this.#source.read(this.#meta, at);
  }
}

/**
 * The address of a buffer's first byte, for the structures the kernel reads (the buffer must be
 * off V8's heap: an `ArrayBuffer` of its own, or a typed array over 64 bytes).
 */
export function addressOf(c: Libc, bytes: Uint8Array): bigint {
  return BigInt(c.memmove(bytes, bytes, 0));
}
