/**
 * The real tracker core ({@link Dispatcher}: the tracker's rules on the memory store) on the simulated network: a driver like
 * lib/tracker/server.ts, with a {@link SimSocket} and a {@link SimTimer} instead of a UDP socket
 * and `setTimeout`.
 * @module
 */
import { Dispatcher } from "../tracker/dispatch.ts";
import type { RegistryOptions } from "../tracker/dispatch.ts";
import type { SimAddr, SimNetwork, SimSocket, SimTimer } from "./sim_network.ts";

/** Options for {@link SimTracker}: the registry's, without the clock and randomness. */
export type SimTrackerOptions = Omit<RegistryOptions, "now" | "random" | "randomBytes">;

/**
 * The real tracker core on a {@link SimNetwork} (see the module doc).
 *
 * @example A tracker and two peers move a file in virtual time
 * ```ts
 * import assert from "node:assert/strict";
 * import { SimNetwork, SimPeer, simContent, SimTracker } from "@udpswarm/udpswarm";
 *
 * const net = new SimNetwork({ seed: 1, link: { latencyMs: 2 } });
 * for (const host of ["10.0.0.1", "10.0.1.1", "10.0.1.2"]) net.addHost(host);
 * const tracker = new SimTracker(net, { hostname: "10.0.0.1", port: 6969 });
 * const peer = (n: number) =>
 *   new SimPeer(net, { nodeId: `p${n}`, addr: { hostname: `10.0.1.${n}`, port: 7000 }, tracker: tracker.addr });
 * const content = simContent("hello.bin", new Uint8Array(100_000).fill(7), 32 * 1024);
 * peer(1).share(content);
 * const getter = peer(2);
 * net.run(() => tracker.core.fileCount === 1, { maxMs: 5_000 });
 * const download = getter.download("hello.bin");
 * assert.ok(net.run(() => download.finishedAt !== undefined, { maxMs: 60_000 }));
 * assert.deepEqual(download.file, content.bytes);
 * ```
 */
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
