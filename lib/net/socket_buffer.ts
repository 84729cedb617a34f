/**
 * Raising a UDP socket's kernel receive buffer (SO_RCVBUF), which `Deno.listenDatagram` cannot
 * set: through libc over Deno's FFI, only when the process was granted FFI access to libc
 * (`--allow-ffi=/lib/x86_64-linux-gnu/libc.so.6`, or `--allow-ffi`). Without the grant (or off
 * Linux) nothing changes and the kernel default (~208 KiB) stays. Nothing here prompts.
 *
 * Deno does not expose a socket's file descriptor, so the socket is found by its local port:
 * `getsockname` on each open descriptor until one is a UDP socket bound to that port.
 * Why it matters (the receive buffer bounds a downloader's bytes in flight per socket, hence how
 * many blocks one request asks for) and what it measured: docs/TRANSFER.md, _Receive buffer_.
 * @module
 */

/** SOL_SOCKET and SO_RCVBUF on Linux. */
const SOL_SOCKET = 1;
const SO_RCVBUF = 8;
const SO_TYPE = 3;
const SOCK_DGRAM = 2;
/** Descriptors searched for the socket. */
const MAX_FD = 4096;
/**
 * Where libc is looked for, in order; an FFI grant may name one of these paths (the bare name,
 * last, needs an unscoped `--allow-ffi`).
 */
export const LIBC_PATHS: readonly string[] = [
  "/lib/x86_64-linux-gnu/libc.so.6",
  "/usr/lib/x86_64-linux-gnu/libc.so.6",
  "/lib/aarch64-linux-gnu/libc.so.6",
  "/usr/lib/aarch64-linux-gnu/libc.so.6",
  "/lib64/libc.so.6",
  "/usr/lib64/libc.so.6",
  "libc.so.6",
];

/**
 * The first absolute path of {@link LIBC_PATHS} that exists: what an `--allow-ffi=PATH` grant
 * should name on this machine.
 *
 * @returns the path, or undefined (not Linux, or no read grant to look)
 */
export function libcPath(): string | undefined {
  for (const p of LIBC_PATHS) {
    try {
      if (p.startsWith("/") && Deno.statSync(p).isFile) return p;
    } catch {
      // not there, or not allowed to look
    }
  }
  return undefined;
}

/** The libc calls the peer uses (lib/net/*.ts and lib/peer/preallocate.ts; each returns -1 on failure). */
export interface Libc {
  getsockname(fd: number, addr: Uint8Array, len: Uint8Array): number;
  setsockopt(fd: number, level: number, name: number, value: Uint8Array, len: number): number;
  getsockopt(fd: number, level: number, name: number, value: Uint8Array, len: Uint8Array): number;
  sendto(
    fd: number,
    buf: Uint8Array,
    len: number,
    flags: number,
    addr: Uint8Array,
    addrLen: number,
  ): number | bigint;
  recvfrom(
    fd: number,
    buf: Uint8Array,
    len: number,
    flags: number,
    addr: Uint8Array,
    addrLen: Uint8Array,
  ): number | bigint;
  recvmmsg(fd: number, msgs: Uint8Array, vlen: number, flags: number, timeout: bigint): number;
  sendmsg(fd: number, msg: Uint8Array, flags: number): number | bigint;
  recvmsg(fd: number, msg: Uint8Array, flags: number): number | bigint;
  /** `offset` is an off_t the kernel advances (8 bytes). */
  sendfile(
    outFd: number,
    inFd: number,
    offset: Uint8Array,
    count: number | bigint,
  ): number | bigint;
  /** Fills a struct stat (144 bytes on x86_64, 128 on aarch64). */
  fstat(fd: number, stat: Uint8Array): number;
  /** Runs on a blocking thread (a nonblocking FFI symbol): resolves when a descriptor is ready. */
  poll(fds: Uint8Array, nfds: number | bigint, timeoutMs: number): Promise<number>;
  eventfd(initval: number, flags: number): number;
  write(fd: number, buf: Uint8Array, len: number | bigint): number | bigint;
  /** Opens a file (`path` NUL-terminated); a descriptor, or -1. */
  open(path: Uint8Array, flags: number): number;
  /** Allocates a file's blocks (lib/peer/preallocate.ts). */
  fallocate(fd: number, mode: number, offset: bigint, len: bigint): number;
  /**
   * Positional gather write on a blocking thread (a nonblocking FFI symbol; used by
   * lib/peer/direct_write.ts): the iovecs and the bytes they point at must stay untouched until
   * the promise settles. Bytes written, or -1.
   */
  pwritev(fd: number, iov: Uint8Array, iovcnt: number, offset: bigint): Promise<number | bigint>;
  close(fd: number): number;
  /** Address of the calling thread's errno (read with {@link Libc.memcpy}). */
  __errno_location(): bigint;
  /** `memmove(buf, buf, 0)` returns `buf`'s address: Deno.UnsafePointer.of needs unscoped FFI. */
  memmove(dest: Uint8Array, src: Uint8Array, len: number | bigint): bigint;
  /** Copies `len` bytes from a native address into `dest`. */
  memcpy(dest: Uint8Array, src: bigint, len: number | bigint): bigint;
}

let libc: Libc | null | undefined;

/** libc's socket calls, or null when FFI is not granted (for libc) or not there. */
export function openLibc(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  if (typeof Deno.dlopen !== "function" || Deno.build.os !== "linux") return null;
  for (const path of LIBC_PATHS) {
    try {
      if (Deno.permissions.querySync({ name: "ffi", path }).state !== "granted") continue;
      const lib = Deno.dlopen(path, {
        getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
        setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
        getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
        sendto: {
          parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"],
          result: "isize",
        },
        recvfrom: {
          parameters: ["i32", "buffer", "usize", "i32", "buffer", "buffer"],
          result: "isize",
        },
        recvmmsg: { parameters: ["i32", "buffer", "u32", "i32", "u64"], result: "i32" },
        sendmsg: { parameters: ["i32", "buffer", "i32"], result: "isize" },
        recvmsg: { parameters: ["i32", "buffer", "i32"], result: "isize" },
        sendfile: { parameters: ["i32", "i32", "buffer", "usize"], result: "isize" },
        fstat: { parameters: ["i32", "buffer"], result: "i32" },
        open: { parameters: ["buffer", "i32"], result: "i32" },
        fallocate: { parameters: ["i32", "i32", "i64", "i64"], result: "i32" },
        pwritev: {
          parameters: ["i32", "buffer", "i32", "i64"],
          result: "isize",
          nonblocking: true,
        },
        poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
        eventfd: { parameters: ["u32", "i32"], result: "i32" },
        write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
        close: { parameters: ["i32"], result: "i32" },
        __errno_location: { parameters: [], result: "u64" },
        memmove: { parameters: ["buffer", "buffer", "usize"], result: "u64" },
        memcpy: { parameters: ["buffer", "u64", "usize"], result: "u64" },
      });
      libc = lib.symbols as unknown as Libc;
      return libc;
    } catch {
      // not there, or not this path: try the next
    }
  }
  return null;
}

/**
 * libc where the calls that pass `msghdr`/`mmsghdr`/`iovec` structures can be used: those
 * structures are laid out here for LP64 Linux (x86_64, aarch64).
 *
 * @returns libc, or null without the grant or on another architecture
 */
export function openLp64Libc(): Libc | null {
  if (Deno.build.arch !== "x86_64" && Deno.build.arch !== "aarch64") return null;
  return openLibc();
}

/** Bytes enough for a `struct stat` on LP64 Linux (144 on x86_64, 128 on aarch64). */
export const STAT_BUFFER_BYTES = 256;

/**
 * Whether `fd` is a descriptor of the file `identity` names: libc `fstat` of it gives the same
 * device and inode (`st_dev` and `st_ino`, the first two u64 on x86_64 and on aarch64).
 *
 * @param c libc ({@link openLp64Libc})
 * @param fd a descriptor
 * @param identity the file's device and inode (node:fs `Stats`' `dev` and `ino`)
 * @param stat scratch space of {@link STAT_BUFFER_BYTES} bytes (reused by callers on hot paths)
 * @returns false as well when `fd` is not a descriptor or `fstat` fails
 */
export function isDescriptorOfFile(
  c: Libc,
  fd: number,
  identity: { dev: number; ino: number },
  stat: Uint8Array = new Uint8Array(STAT_BUFFER_BYTES),
): boolean {
  if (!Number.isInteger(fd) || fd < 0 || c.fstat(fd, stat) !== 0) return false;
  const v = new DataView(stat.buffer, stat.byteOffset, stat.byteLength);
  return Number(v.getBigUint64(0, true)) === identity.dev &&
    Number(v.getBigUint64(8, true)) === identity.ino;
}

/** The receive buffer a peer asks for by default (PeerOptions.receiveBuffer), bytes. */
export const DEFAULT_SOCKET_RECEIVE_BUFFER = 4 * 1024 * 1024;

/**
 * Asks the kernel for a receive buffer of `bytes` on the UDP socket bound to `local` (the
 * kernel caps it at `net.core.rmem_max` and doubles it for its bookkeeping).
 *
 * @param local the socket's local address (its port and address family find it)
 * @param bytes the buffer wanted
 * @returns the buffer the kernel now charges datagrams against (SO_RCVBUF as read back), or
 *   undefined when it could not be set (no FFI grant, no such socket)
 */
export function raiseReceiveBuffer(local: Deno.NetAddr, bytes: number): number | undefined {
  const c = openLibc();
  const fd = udpSocketFd(local);
  if (c === null || fd === undefined) return undefined;
  const len = new Uint8Array(4);
  const lenView = new DataView(len.buffer);
  const val = new Uint8Array(4);
  const valView = new DataView(val.buffer);
  valView.setInt32(0, bytes, true);
  if (c.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, val, 4) !== 0) return undefined;
  lenView.setUint32(0, 4, true);
  if (c.getsockopt(fd, SOL_SOCKET, SO_RCVBUF, val, len) !== 0) return undefined;
  return valView.getInt32(0, true);
}

/**
 * The file descriptor of this process's UDP socket bound to `local`, found with `getsockname`
 * over the open descriptors (Deno does not expose it).
 *
 * @param local the socket's local address (its port, family and IPv4 address find it)
 * @returns the descriptor, or undefined without FFI access to libc or when none matches
 */
export function udpSocketFd(local: Deno.NetAddr): number | undefined {
  const c = openLibc();
  if (c === null) return undefined;
  const addr = new Uint8Array(128);
  const len = new Uint8Array(4);
  const lenView = new DataView(len.buffer);
  const val = new Uint8Array(4);
  const valView = new DataView(val.buffer);
  const port = local.port;
  const wantFamily = local.hostname.includes(":") ? 10 : 2; // AF_INET6, AF_INET
  const ip4 = wantFamily === 2 ? local.hostname.split(".").map(Number) : undefined;
  for (let fd = 3; fd < MAX_FD; fd++) {
    lenView.setUint32(0, addr.byteLength, true);
    if (c.getsockname(fd, addr, len) !== 0) continue;
    const family = addr[0]! | (addr[1]! << 8);
    if (family !== wantFamily) continue;
    if (((addr[2]! << 8) | addr[3]!) !== port) continue;
    // Two sockets may share a port on different IPv4 addresses: the address must match too
    if (ip4 !== undefined && !ip4.every((b, i) => addr[4 + i] === b)) continue;
    lenView.setUint32(0, 4, true);
    if (c.getsockopt(fd, SOL_SOCKET, SO_TYPE, val, len) !== 0) continue;
    if (valView.getInt32(0, true) === SOCK_DGRAM) return fd;
  }
  return undefined;
}

/**
 * The log line that says which receive buffer a peer's sockets have.
 *
 * @param got what {@link raiseReceiveBuffer} returned (undefined: not raised)
 * @param wanted the peer's `receiveBuffer` option (undefined: the default)
 * @returns one line for the peer's log
 */
export function receiveBufferNote(got: number | undefined, wanted: number | undefined): string {
  if (got !== undefined) {
    return `UDP receive buffer ${got} bytes per socket (SO_RCVBUF through FFI)`;
  }
  if (wanted === 0) return "UDP receive buffer: the kernel default (receiveBuffer 0)";
  return `UDP receive buffer: the kernel default (~208 KiB); grant --allow-ffi=${
    libcPath() ?? LIBC_PATHS[0]
  } for a larger one and faster downloads (docs/TRANSFER.md, Receive buffer)`;
}
