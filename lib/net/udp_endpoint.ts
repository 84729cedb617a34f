/**
 * The UDP socket driver shared by tracker and peer: one `Deno.DatagramConn`, a receive loop into
 * one reused buffer, one handler, fire-and-forget sends with counters. No protocol logic.
 * @module
 */
import type { PeerAddress } from "../wire/address.ts";
import { fromNetAddr } from "./host_port.ts";
import { MAX_DATAGRAM } from "../wire/limits.ts";
import { FastUdp, SourceBook } from "./fast_udp.ts";
import { BatchUdp } from "./batch_udp.ts";
import { type FileIdentity, FileSend } from "./file_send.ts";
import { MIN_SLOT_BUFFER, ScatterReceive } from "./scatter_receive.ts";
import { openLp64Libc } from "./socket_buffer.ts";

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
 * Where the fast path's drain reads a datagram's bytes after its first `head` ({@link
 * UdpEndpoint.onScatter}): straight into `slot()` when it offers one, then `deliver` gets the
 * head and the payload as two views; when `deliver` returns false (not the datagram it can
 * take in two parts) the datagram is made contiguous and goes to the ordinary handler.
 */
export interface ScatterTarget {
  /** Bytes of each datagram that go to the receive buffer first (a header). */
  head: number;
  /**
   * Where the next datagram's bytes after `head` should go, or undefined for the receive buffer.
   * The kernel writes any datagram's bytes there: offer only bytes not needed until the next
   * datagram is delivered (a block not yet received). Called once per read.
   */
  slot: () => Uint8Array | undefined;
  /**
   * A datagram that fitted `head` + the slot: `head` is a view of the receive buffer, `body` of
   * the slot (both valid until this returns).
   *
   * @returns true when taken; false to have it handed, contiguous, to the handler instead
   *   (without having acted on it)
   */
  deliver: (head: Uint8Array, body: Uint8Array, from: Deno.NetAddr) => boolean;
}

/**
 * A thin UDP driver over `Deno.listenDatagram`: one receive loop that hands every datagram to
 * one handler, and fire-and-forget sends. Protocol logic lives elsewhere.
 */
export class UdpEndpoint implements AsyncDisposable {
  readonly #conn: Deno.DatagramConn;
  readonly #buffer = new Uint8Array(MAX_DATAGRAM + 1);
  /** One object per source for Deno's receive (fast_udp.ts `SourceBook`). */
  readonly #sources = new SourceBook();
  #handler: DatagramHandler = () => {};
  #batchEnd: (() => void) | undefined;
  #closed = false;
  #loop: Promise<void>;
  #fast: FastUdp | undefined;
  #batch: BatchUdp | undefined;
  #files: FileSend | undefined;
  #scatter: ScatterReceive | undefined;
  #scatterTarget: ScatterTarget | undefined;
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
   * Lets the fast path's drain read the bytes after each datagram's header straight into a slot
   * the caller names ({@link ScatterTarget}), saving the copy of the payload out of the receive
   * buffer. Only datagrams the `recvfrom` drain reads after a large first one (Deno's own receive
   * reads that one; small ones are drained with `recvmmsg`), and only with the fast path on
   * ({@link useFastPath}); otherwise nothing changes.
   *
   * @param target where the payloads go, and who takes them
   * @returns true when reads will be scattered
   */
  onScatter(target: ScatterTarget): boolean {
    const c = openLp64Libc();
    if (this.#fast === undefined || c === null) return false;
    this.#scatter ??= new ScatterReceive(c, this.#fast.fd, this.#buffer, target.head);
    this.#scatterTarget = target;
    return true;
  }

  /** Datagrams whose payload the drain read straight into a {@link ScatterTarget} slot. */
  get scattered(): number {
    return this.#scatter?.placed ?? 0;
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
   * Whether {@link trySendFile} would try a datagram of `bytes` bytes (header included): file
   * sends are on and the route took datagrams that large (file_send.ts `FileSend.fits`).
   *
   * @param bytes the datagram's size
   * @returns false when it should be sent the ordinary way
   */
  fileSendFits(bytes: number): boolean {
    return this.#files !== undefined && this.#files.fits(bytes);
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
        this.#handler(bytes, this.#sources.get(from as Deno.NetAddr));
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
    const target = this.#scatterTarget;
    for (let i = 0; i < FAST_DRAIN && !this.#closed; i++) {
      const slot = target?.slot();
      if (slot !== undefined && slot.buffer.byteLength >= MIN_SLOT_BUFFER) {
        if (!this.#scatterOne(target!, slot)) return;
        continue;
      }
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

  /** Reads one datagram with its payload into `slot`; false when none was waiting. */
  #scatterOne(target: ScatterTarget, slot: Uint8Array): boolean {
    const scatter = this.#scatter!;
    const n = scatter.receive(slot);
    if (n < 0) return false;
    this.received++;
    const from = scatter.lastFrom;
    const head = target.head;
    try {
      if (n > head && n - head <= slot.byteLength) {
        if (target.deliver(this.#buffer.subarray(0, head), slot.subarray(0, n - head), from)) {
          scatter.placed++;
          return true;
        }
      }
      this.#handler(scatter.assemble(slot, n), from);
    } catch (e) {
      this.handlerErrors++;
      this.lastHandlerError = e;
    }
    return true;
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
