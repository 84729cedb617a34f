/**
 * The UDP socket driver shared by tracker and peer: one `Deno.DatagramConn`, a receive loop into
 * one reused buffer, one handler, fire-and-forget sends with counters. No protocol logic.
 * @module
 */
import type { PeerAddress } from "../wire/address.ts";
import { fromNetAddr } from "./host_port.ts";
import { MAX_DATAGRAM } from "../wire/limits.ts";
import { FastUdp } from "./fast_udp.ts";

/** Datagrams the fast path reads per Deno receive before the loop yields to the event loop. */
const FAST_DRAIN = 64;

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
  #closed = false;
  #loop: Promise<void>;
  #fast: FastUdp | undefined;
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
   * Sends and receives through libc over FFI where it can (fast_udp.ts): sends the kernel takes
   * at once, and datagrams already waiting after each Deno receive. Needs FFI access to libc.
   *
   * @returns true when the fast path is on
   */
  useFastPath(): boolean {
    this.#fast ??= FastUdp.open(this.localAddr);
    return this.#fast !== undefined;
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

  async #receiveLoop(): Promise<void> {
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
      if (this.#fast !== undefined) this.#drain(this.#fast);
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
