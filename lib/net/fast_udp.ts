/**
 * Synchronous UDP sends and receives on a Deno socket through libc over FFI (socket_buffer.ts
 * finds the descriptor), for the hot path only: each Deno `send`/`receive` is an async op that
 * costs a promise, a boxed future and an event-loop turn, while an FFI `sendto`/`recvfrom` on the
 * same non-blocking descriptor is one system call. Used only with FFI access to libc; anything it
 * cannot do at once (a full socket buffer, an IPv6 destination, an error) it reports, and the
 * caller falls back to Deno's own op, so Deno's reactor stays the owner of the socket (a
 * `recvfrom` that finds nothing leaves the next Deno `receive` to wait as before).
 * @module
 */
import { type Libc, openLibc, udpSocketFd } from "./socket_buffer.ts";

/** MSG_DONTWAIT on Linux. */
export const MSG_DONTWAIT = 0x40;
/** AF_INET on Linux. */
const AF_INET = 2;

/** See the module doc. */
export class FastUdp {
  readonly #c: Libc;
  readonly #fd: number;
  /** The destination last sent to, encoded once (sockaddr_in). */
  #to: Uint8Array = new Uint8Array(16);
  #toHost = "";
  #toPort = -1;
  /** Destinations encoded once, by address object (a swarm's sends alternate between peers). */
  readonly #dests = new SockaddrCache();
  /** The source of the last datagram received, and the address object handed out for it. */
  readonly #from = new Uint8Array(16);
  readonly #fromLen = new Uint8Array(4);
  readonly #source = new IPv4Source();

  private constructor(c: Libc, fd: number) {
    this.#c = c;
    this.#fd = fd;
  }

  /** The socket's descriptor (for batch_udp.ts). */
  get fd(): number {
    return this.#fd;
  }

  /**
   * The fast path for the IPv4 socket bound to `local`, or undefined without FFI access to libc,
   * for an IPv6 socket, or when the socket is not found.
   *
   * @param local the socket's local address
   * @returns the fast path, or undefined
   */
  static open(local: Deno.NetAddr): FastUdp | undefined {
    if (local.hostname.includes(":")) return undefined;
    const c = openLibc();
    const fd = udpSocketFd(local);
    return c === null || fd === undefined ? undefined : new FastUdp(c, fd);
  }

  /**
   * Sends one datagram now if the kernel takes it at once.
   *
   * @param bytes the datagram (read before this returns)
   * @param to an IPv4 destination
   * @returns true when sent; false when it was not (send it the ordinary way)
   */
  trySend(bytes: Uint8Array, to: Deno.NetAddr): boolean {
    if (to.hostname !== this.#toHost || to.port !== this.#toPort) {
      const encoded = this.#dests.get(to);
      if (encoded === undefined) return false;
      this.#to = encoded;
      this.#toHost = to.hostname;
      this.#toPort = to.port;
    }
    const n = this.#c.sendto(this.#fd, bytes, bytes.byteLength, MSG_DONTWAIT, this.#to, 16);
    return Number(n) === bytes.byteLength;
  }

  /**
   * Receives one datagram if one is waiting.
   *
   * @param buffer where it goes
   * @returns its length, or -1 when none is waiting (or on an error); its source is
   *   {@link lastFrom}
   */
  tryReceive(buffer: Uint8Array): number {
    const fromLen = this.#fromLen;
    fromLen[0] = 16;
    fromLen[1] = fromLen[2] = fromLen[3] = 0;
    const n = Number(
      this.#c.recvfrom(this.#fd, buffer, buffer.byteLength, MSG_DONTWAIT, this.#from, fromLen),
    );
    return n;
  }

  /** The source of the datagram {@link tryReceive} returned (the same object while it repeats). */
  get lastFrom(): Deno.NetAddr {
    return this.#source.read(this.#from, 0);
  }
}

/** Sources {@link IPv4Source} keeps before it starts over (a swarm's owners and requesters). */
const SOURCES_KEPT = 1024;

/**
 * Reads sockaddr_in sources, handing back the same object for the same source: a swarm's
 * datagrams alternate between several senders, and one object per sender spares each datagram
 * a new address and hostname string (and lets callers cache by the object).
 */
export class IPv4Source {
  #key = -1;
  #addr: Deno.NetAddr | undefined;
  readonly #known = new Map<number, Deno.NetAddr>();

  /**
   * The IPv4 address and port of the sockaddr_in at `at` in `f`.
   *
   * @param f the bytes the kernel wrote
   * @param at where the sockaddr_in starts
   * @returns the source, the same object as the last time this source was read (of the latest
   *   1024 sources)
   */
  read(f: Uint8Array, at: number): Deno.NetAddr {
    const port = (f[at + 2]! << 8) | f[at + 3]!;
    const key = port * 0x100000000 +
      (((f[at + 4]! << 24) | (f[at + 5]! << 16) | (f[at + 6]! << 8) | f[at + 7]!) >>> 0);
    if (this.#addr !== undefined && key === this.#key) return this.#addr;
    let addr = this.#known.get(key);
    if (addr === undefined) {
      if (this.#known.size >= SOURCES_KEPT) this.#known.clear();
      addr = {
        transport: "udp",
        hostname: `${f[at + 4]}.${f[at + 5]}.${f[at + 6]}.${f[at + 7]}`,
        port,
      };
      this.#known.set(key, addr);
    }
    this.#key = key;
    this.#addr = addr;
    return addr;
  }
}

/**
 * One address object per source for addresses Deno's own receive hands out (a new object and
 * hostname string for every datagram): the receive path passes each through {@link get}, so
 * what keeps state by address object (the send path's {@link SockaddrCache}, an owner book)
 * finds it again whichever way the datagram was read.
 */
export class SourceBook {
  #known = new Map<string, Map<number, Deno.NetAddr>>();
  #count = 0;
  #last: Deno.NetAddr | undefined;

  /**
   * The object for this source: the first one seen with its hostname and port (of the latest
   * 1024 sources), or `from` itself.
   *
   * @param from a datagram's source
   * @returns an object with the same hostname and port
   */
  get(from: Deno.NetAddr): Deno.NetAddr {
    const last = this.#last;
    if (last !== undefined && last.port === from.port && last.hostname === from.hostname) {
      return last;
    }
    let ports = this.#known.get(from.hostname);
    let addr = ports?.get(from.port);
    if (addr === undefined) {
      if (this.#count >= SOURCES_KEPT) {
        this.#known.clear();
        this.#count = 0;
        ports = undefined;
      }
      if (ports === undefined) this.#known.set(from.hostname, ports = new Map());
      ports.set(from.port, addr = from);
      this.#count++;
    }
    this.#last = addr;
    return addr;
  }
}

/** One destination {@link SockaddrCache} encoded: the address it had then, and its sockaddr_in. */
interface Encoded {
  hostname: string;
  port: number;
  bytes: Uint8Array;
}

/**
 * Destinations encoded as sockaddr_in once per address object, checked against the object's
 * hostname and port at each use (an object changed since is encoded again).
 */
export class SockaddrCache {
  #known = new WeakMap<Deno.NetAddr, Encoded>();

  /**
   * The sockaddr_in of `to` (do not change it), or undefined when it is not an IPv4 address.
   *
   * @param to the destination
   * @returns 16 bytes, the same buffer each time for the same address object
   */
  get(to: Deno.NetAddr): Uint8Array | undefined {
    const e = this.#known.get(to);
    if (e !== undefined && e.hostname === to.hostname && e.port === to.port) return e.bytes;
    const bytes = new Uint8Array(16);
    if (!encodeIPv4(bytes, 0, to)) return undefined;
    this.#known.set(to, { hostname: to.hostname, port: to.port, bytes });
    return bytes;
  }
}

/**
 * Writes `to` as a sockaddr_in at `at` in `out`.
 *
 * @param out where it goes (16 bytes from `at`)
 * @param at the offset in `out`
 * @param to the address
 * @returns false when it is not an IPv4 address
 */
export function encodeIPv4(out: Uint8Array, at: number, to: Deno.NetAddr): boolean {
  const parts = to.hostname.split(".");
  if (parts.length !== 4) return false;
  out.fill(0, at, at + 16);
  out[at] = AF_INET; // little-endian sa_family
  out[at + 2] = to.port >> 8;
  out[at + 3] = to.port & 0xff;
  for (let i = 0; i < 4; i++) {
    const v = Number(parts[i]);
    if (!Number.isInteger(v) || v < 0 || v > 255 || parts[i] === "") return false;
    out[at + 4 + i] = v;
  }
  return true;
}
