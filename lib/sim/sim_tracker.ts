/**
 * The real tracker core ({@link Dispatcher} and its registry) on the simulated network: a driver like
 * lib/tracker/server.ts, with a {@link SimSocket} and a {@link SimTimer} instead of a UDP socket
 * and `setTimeout`.
 * @module
 */
import { Dispatcher } from "../tracker/dispatch.ts";
import type { RegistryOptions } from "../tracker/registry.ts";
import type { SimAddr, SimNetwork, SimSocket, SimTimer } from "./sim_network.ts";

/** Options for {@link SimTracker}: the registry's, without the clock and randomness. */
export type SimTrackerOptions = Omit<RegistryOptions, "now" | "random" | "randomBytes">;

/** See the module doc. */
export class SimTracker {
  /** The core, for assertions. */
  readonly core: Dispatcher;
  readonly #socket: SimSocket;
  readonly #timer: SimTimer;

  /** Binds the tracker at `addr` on `net`. */
  constructor(net: SimNetwork, addr: SimAddr, options: SimTrackerOptions = {}) {
    this.core = new Dispatcher({
      ...options,
      now: net.now,
      events: options.events ?? false,
      random: () => net.random(),
      randomBytes: (n) => {
        const b = new Uint8Array(n);
        for (let i = 0; i < n; i++) b[i] = Math.floor(net.random() * 256);
        return b;
      },
    });
    this.#timer = net.timer((now) => {
      this.core.handleTimeout(now);
      this.#arm();
    });
    this.#socket = net.bind(addr, (bytes, from, now) => {
      const reply = this.core.handleDatagram(bytes, from, now);
      if (reply !== undefined) this.#socket.send(reply, from);
      this.#arm();
    });
    this.#arm();
  }

  /** The tracker's address. */
  get addr(): SimAddr {
    return this.#socket.addr;
  }

  /** Stops serving (a crash: no goodbye). */
  close(): void {
    this.#socket.close();
    this.#timer.cancel();
  }

  #arm(): void {
    while (this.core.pollEvent() !== undefined) { /* events are not logged in simulations */ }
    const at = this.core.pollTimeout();
    this.#timer.arm(Number.isFinite(at) ? at : undefined);
  }
}
