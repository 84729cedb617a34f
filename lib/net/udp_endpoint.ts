/**
 * The UDP socket driver shared by tracker and peer: one `Deno.DatagramConn`, a receive loop into
 * one reused buffer, one handler, fire-and-forget sends with counters. No protocol logic.
 * @module
 */
import type { PeerAddress } from "../wire/address.ts";
import { fromNetAddr } from "./host_port.ts";
import { MAX_DATAGRAM } from "../wire/limits.ts";
import { FastUdp } from "./fast_udp.ts";
import { BatchUdp } from "./batch_udp.ts";
import { type FileIdentity, FileSend } from "./file_send.ts";

/** Datagrams the fast path reads per Deno receive before the loop yields to the event loop. */
const FAST_DRAIN = 64;
/**
 * The largest datagram (as the Deno receive that woke the loop saw it) after which the waiting
 * ones are read with `recvmmsg`: path-MTU-sized traffic, where the per-call cost dominates.
 */
const BATCH_MAX_DATAGRAM = 4096;

/** Options for {@link UdpEndpoint.useFastPath}. */
export interface FastPathOptions {
  /**
   * Read waiting datagrams with `recvmmsg` (batch_udp.ts) instead of one `recvfrom` each.
   * @default true
   */
  batch?: boolean;
  /**
   * Turn UDP GRO on (batch_udp.ts): several datagrams of one sender in one read, split again
   * here; the receive loop then waits with `poll` on a blocking thread instead of Deno's
   * receive. Off by default: each wait costs a thread hop, which made lossy single-owner
   * downloads (small windows, a request per block) 7× slower (docs/TRANSFER.md).
   * @default false
   */
  gro?: boolean;
  /**
   * Offer zero-copy block sends from a file (`sendfile` into a corked datagram, file_send.ts):
   * {@link UdpEndpoint.trySendFile}.
   * @default true
   */
  fileSend?: boolean;
}

/** Options for {@link UdpEndpoint.open}. */
export interface UdpEndpointOptions {
  /** Local address to bind. @default "127.0.0.1" */
  hostname?: string;
  /** Local port; 0 picks a free one. @default 0 */
  port?: number;
}

/**
 * Called for every received datagram. `bytes` is a view into a reused receive buffer:
 * it is only valid until the handler returns, so copy what you keep.
 */
export type DatagramHandler = (bytes: Uint8Array, from: Deno.NetAddr) => void;

/**
 * A thin UDP driver over `Deno.listenDatagram`: one receive loop that hands every datagram to
 * one handler, and fire-and-forget sends. Protocol logic lives elsewhere.
 */
export class UdpEndpoint implements AsyncDisposable {
  readonly #conn: Deno.DatagramConn;
  readonly #buffer = new Uint8Array(MAX_DATAGRAM + 1);
  #handler: DatagramHandler = () => {};
  #batchEnd: (() => void) | undefined;
  #closed = false;
  #loop: Promise<void>;
  #fast: FastUdp | undefined;
  #batch: BatchUdp | undefined;
  #files: FileSend | undefined;
  readonly #deliver = (bytes: Uint8Array, from: Deno.NetAddr): void =>
    this.#deliverOne(bytes, from);
  /** Datagrams received. */
  received = 0;
  /** Datagrams sent. */
  sent = 0;
  /** Sends that failed (ENOBUFS, unreachable, …). */
  sendErrors = 0;
  /** Handler exceptions (a bug or hostile input that slipped past the codec). */
  handlerErrors = 0;
  /** Last handler exception, for logging. */
  lastHandlerError: unknown = undefined;

  private constructor(conn: Deno.DatagramConn) {
    this.#conn = conn;
    this.#loop = this.#receiveLoop();
  }

  /** Whether sends of consecutive equal-size datagrams go out as one GSO call. */
  get gso(): boolean {
    return this.#batch?.gso ?? false;
  }

  /** Reads that were GRO groups of several datagrams, split here. */
  get groGroups(): number {
    return this.#batch?.groGroups ?? 0;
  }

  /** Whether UDP GRO is on (datagrams read in groups and split here). */
  get gro(): boolean {
    return this.#batch?.gro ?? false;
  }

  /** Binds a UDP socket and starts receiving. */
  static open(options: UdpEndpointOptions = {}): UdpEndpoint {
    if (typeof Deno.listenDatagram !== "function") {
      throw new TypeError(
        'Cannot open a UDP socket: Deno.listenDatagram is unstable; run with --unstable-net or add "unstable": ["net"] to deno.json',
      );
    }
    const conn = Deno.listenDatagram({
      transport: "udp",
      hostname: options.hostname ?? "127.0.0.1",
      port: options.port ?? 0,
    });
    return new UdpEndpoint(conn);
  }

  /** The bound local address. */
  get localAddr(): Deno.NetAddr {
    return this.#conn.addr as Deno.NetAddr;
  }

  /** The bound local address as a wire address. */
  get address(): PeerAddress {
    return fromNetAddr(this.localAddr);
  }

  /** Sets the one handler that receives every datagram. */
  onDatagram(handler: DatagramHandler): void {
    this.#handler = handler;
  }

  /**
   * Sets a function called after each burst of datagrams handed to the handler at once (the one
   * Deno's receive returned and those the fast path read after it, up to 64), before the loop
   * waits again: work that can wait for the end of a burst is done once per burst.
   */
  onBatchEnd(fn: () => void): void {
    this.#batchEnd = fn;
  }

  /**
   * Sends and receives through libc over FFI where it can (fast_udp.ts): sends the kernel takes
   * at once, and datagrams already waiting after each Deno receive. Needs FFI access to libc.
   *
   * With `batch` (the default) waiting datagrams are read with `recvmmsg` and GSO sends
   * ({@link trySendSegments}) are offered; with `gro` (opt-in) the kernel may hand a
   * sender's datagrams in groups, split here (batch_udp.ts); GRO only when called right after
   * {@link open}, before the receive loop's first read.
   *
   * @param options which batched calls to use
   * @returns true when the fast path is on
   */
  useFastPath(options: FastPathOptions = {}): boolean {
    this.#fast ??= FastUdp.open(this.localAddr);
    if (this.#fast !== undefined && options.fileSend !== false) {
      this.#files ??= FileSend.open(this.#fast.fd);
    }
    if (this.#fast === undefined || this.#batch !== undefined || options.batch === false) {
      return this.#fast !== undefined;
    }
    this.#batch = BatchUdp.open(this.#fast.fd);
    if (options.gro === true && !this.#denoReceiving) this.#batch?.enableGro();
    return true;
  }

  /**
   * Sends `bytes`, consecutive datagrams of `segment` bytes each (the last may be shorter), in
   * one UDP GSO call when the fast path has it; the caller may reuse `bytes` when this returns
   * true.
   *
   * @param bytes the datagrams back to back (at most 65,507 bytes, 64 datagrams)
   * @param segment each datagram's size
   * @param to the destination (IPv4)
   * @returns true when sent; false when not (send each datagram the ordinary way)
   */
  trySendSegments(bytes: Uint8Array, segment: number, to: Deno.NetAddr): boolean {
    if (this.#closed || this.#batch === undefined) return false;
    if (!this.#batch.sendSegments(bytes, segment, to)) return false;
    this.sent += Math.ceil(bytes.byteLength / segment);
    return true;
  }

  /** Whether {@link trySendFile} is on (the fast path with `fileSend`, not given up). */
  get fileSend(): boolean {
    return this.#files?.on ?? false;
  }

  /**
   * Whether {@link trySendFile} can read from descriptor `fd` (an operating-system descriptor of
   * the file `identity` describes).
   *
   * @param fd a node:fs descriptor
   * @param identity its `fstatSync` device and inode
   * @returns true when file sends are on and `fd` is that file's descriptor
   */
  canSendFile(fd: number, identity: FileIdentity): boolean {
    return this.#files !== undefined && this.#files.on && this.#files.isDescriptorOf(fd, identity);
  }

  /**
   * The current size of the file behind a descriptor {@link canSendFile} accepted.
   *
   * @param fd the descriptor
   * @returns its size in bytes, or -1 (unknown, or file sends off)
   */
  fileSize(fd: number): number {
    return this.#files === undefined ? -1 : this.#files.fileSize(fd);
  }

  /**
   * Sends one datagram made of `header` and `length` bytes of file `fd` from `offset`, with the
   * file bytes going from the page cache into the datagram without a copy (file_send.ts). The
   * range must be within the file ({@link fileSize}, checked just before): past its end the
   * kernel sends what there is, a shorter datagram.
   *
   * @param header the first bytes (read before this returns)
   * @param fd a descriptor {@link canSendFile} accepted
   * @param offset file offset of the bytes after the header
   * @param length how many file bytes
   * @param to the destination (IPv4)
   * @returns true when sent; false when nothing was sent (send it the ordinary way)
   */
  trySendFile(
    header: Uint8Array,
    fd: number,
    offset: number,
    length: number,
    to: Deno.NetAddr,
  ): boolean {
    if (this.#closed || this.#files === undefined) return false;
    if (!this.#files.send(header, fd, offset, length, to)) return false;
    this.sent++;
    return true;
  }

  /**
   * Sends now through the fast path ({@link useFastPath}) if the kernel takes the datagram at
   * once; the caller may reuse `bytes` when this returns true.
   *
   * @returns true when sent; false when not (send it with {@link send} or {@link sendAndWait})
   */
  trySendNow(bytes: Uint8Array, to: Deno.NetAddr): boolean {
    if (this.#closed || this.#fast === undefined || !this.#fast.trySend(bytes, to)) return false;
    this.sent++;
    return true;
  }

  /** Sends without waiting; failures are counted, never thrown. */
  send(bytes: Uint8Array, to: Deno.NetAddr): void {
    if (this.#closed) return;
    if (this.#fast !== undefined && this.#fast.trySend(bytes, to)) {
      this.sent++;
      return;
    }
    this.sent++;
    this.#conn.send(bytes, to).catch(() => {
      this.sendErrors++;
    });
  }

  /** Sends and waits until the datagram has been handed to the kernel. */
  async sendAndWait(bytes: Uint8Array, to: Deno.NetAddr): Promise<boolean> {
    if (this.#closed) return false;
    this.sent++;
    try {
      await this.#conn.send(bytes, to);
      return true;
    } catch {
      this.sendErrors++;
      return false;
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Set once Deno's receive has been called: GRO can no longer be turned on. */
  #denoReceiving = false;

  async #receiveLoop(): Promise<void> {
    // Lets a caller turn GRO on right after open, before Deno's receive first reads
    await Promise.resolve();
    if (this.#batch?.gro) return this.#groLoop(this.#batch);
    this.#denoReceiving = true;
    while (!this.#closed) {
      let bytes: Uint8Array, from: Deno.Addr;
      try {
        [bytes, from] = await this.#conn.receive(this.#buffer);
      } catch (e) {
        if (this.#closed) return;
        // ICMP port-unreachable and similar surface as receive errors on some platforms.
        if (
          e instanceof Deno.errors.ConnectionReset || e instanceof Deno.errors.ConnectionRefused
        ) continue;
        if (e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted) return;
        this.handlerErrors++;
        this.lastHandlerError = e;
        continue;
      }
      this.received++;
      try {
        this.#handler(bytes, from as Deno.NetAddr);
      } catch (e) {
        this.handlerErrors++;
        this.lastHandlerError = e;
      }
      // recvmmsg for small datagrams; large ones one by one into the one buffer, which stays
      // in cache (8 slots of 32 KiB blocks measured slower than recvfrom)
      if (this.#batch !== undefined && bytes.byteLength <= BATCH_MAX_DATAGRAM) {
        this.#drainBatch(this.#batch);
      } else if (this.#fast !== undefined) this.#drain(this.#fast);
      this.#endBatch();
    }
  }

  /**
   * The receive loop with GRO on: Deno's receive would read joined datagrams without their
   * segment size, so the loop waits with `poll` on a blocking thread and reads only with
   * `recvmmsg`.
   */
  async #groLoop(batch: BatchUdp): Promise<void> {
    try {
      while (!this.#closed) {
        await batch.waitReadable();
        this.#drainBatch(batch);
        this.#endBatch();
      }
    } finally {
      batch.close();
    }
  }

  #endBatch(): void {
    if (this.#batchEnd === undefined || this.#closed) return;
    try {
      this.#batchEnd();
    } catch (e) {
      this.handlerErrors++;
      this.lastHandlerError = e;
    }
  }

  /** Hands up to {@link FAST_DRAIN} datagrams already waiting to the handler, read in batches. */
  #drainBatch(batch: BatchUdp): void {
    for (let n = 0; n < FAST_DRAIN && !this.#closed;) {
      const got = batch.receive(this.#deliver);
      if (got < 0) return;
      n += Math.max(got, 1);
    }
  }

  #deliverOne(bytes: Uint8Array, from: Deno.NetAddr): void {
    if (this.#closed) return;
    this.received++;
    try {
      this.#handler(bytes, from);
    } catch (e) {
      this.handlerErrors++;
      this.lastHandlerError = e;
    }
  }

  /** Hands the datagrams already waiting to the handler, without a Deno op each. */
  #drain(fast: FastUdp): void {
    const buffer = this.#buffer;
    for (let i = 0; i < FAST_DRAIN && !this.#closed; i++) {
      const n = fast.tryReceive(buffer);
      if (n < 0) return;
      this.received++;
      try {
        this.#handler(buffer.subarray(0, n), fast.lastFrom);
      } catch (e) {
        this.handlerErrors++;
        this.lastHandlerError = e;
      }
    }
  }

  /** Closes the socket and waits for the receive loop to stop. Idempotent. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#batch?.wake();
      try {
        this.#conn.close();
      } catch {
        // already closed
      }
    }
    await this.#loop;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
