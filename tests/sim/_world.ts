/**
 * The set-up the simulator scenarios share: a tracker at 10.0.0.1:6969 and peers on 10.0.1.n
 * (port 7000) over 2 ms links, with helpers to wait for registration, run downloads to the end
 * and check their bytes. Every figure is deterministic for a seed.
 * @module
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { type SimLink, SimNetwork } from "../../lib/sim/sim_network.ts";
import { SimTracker } from "../../lib/sim/sim_tracker.ts";
import {
  type SimContent,
  simContent,
  SimPeer,
  type SimPeerOptions,
} from "../../lib/sim/sim_peer.ts";
import type { SimDownload } from "../../lib/sim/sim_download.ts";
import { Prng } from "../../lib/sim/prng.ts";

/** 2^20 bytes. */
export const MiB = 1024 * 1024;
/** The tracker's address. */
export const TRACKER = { hostname: "10.0.0.1", port: 6969 };
/** Test options for a pure simulation: no permissions at all. */
export const none = { permissions: "none" } as const;

/** `size` bytes from a seeded generator. */
export function randomBytes(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  new Prng(seed).fill(out);
  return out;
}

/** A content named `name` of `size` seeded random bytes. */
export function randomContent(name: string, size: number, seed: number): SimContent {
  return simContent(name, randomBytes(size, seed));
}

/** Asserts that a download ended without error with exactly the bytes of `content`. */
export function assertExact(d: SimDownload, content: SimContent): void {
  assert.equal(d.error, undefined);
  assert.equal(d.mismatchedPieces, 0);
  assert.equal(d.file?.byteLength, content.bytes.byteLength);
  assert.ok(Buffer.compare(d.file!, content.bytes) === 0, "the exact bytes");
}

/** A simulated network with a tracker and the peers added to it. */
export class SimWorld {
  /** The network and its virtual clock. */
  readonly net: SimNetwork;
  /** The tracker (replaceable, to simulate a restart). */
  tracker: SimTracker;
  /** Every peer added, in order. */
  readonly peers: SimPeer[] = [];

  /**
   * @param seed the network's seed
   * @param link faults and delays of every link (2 ms latency unless given)
   */
  constructor(seed: number, link: Partial<SimLink> = {}) {
    this.net = new SimNetwork({ seed, link: { latencyMs: 2, ...link } });
    this.net.addHost(TRACKER.hostname);
    this.tracker = new SimTracker(this.net, TRACKER, { intervalMs: 2000 });
  }

  /** A peer on host 10.0.1.n; `upload` in bytes per ms (unlimited if not given). */
  peer(n: number, upload?: number, options: Partial<SimPeerOptions> = {}): SimPeer {
    const hostname = `10.0.1.${n}`;
    this.net.addHost(hostname, upload === undefined ? {} : { upload });
    const p = new SimPeer(this.net, {
      nodeId: `p${n}`,
      addr: { hostname, port: 7000 },
      tracker: TRACKER,
      ...options,
    });
    this.peers.push(p);
    return p;
  }

  /** Runs until every peer is registered and `files` contents are known to the tracker. */
  settle(files: number): void {
    const r = () => this.tracker.core;
    const ok = this.net.run(
      () => r().peerCount === this.peers.length && r().fileCount === files,
      { maxMs: this.net.now + 5000 },
    );
    assert.ok(ok, "peers registered and files announced");
  }

  /** Downloads `query` on `downloader` to the end and checks the bytes are exactly `content`. */
  fetch(downloader: SimPeer, query: string, content: SimContent): SimDownload {
    const d = downloader.download(query);
    this.finish([d]);
    assertExact(d, content);
    return d;
  }

  /** Runs until every download ended (at most `maxMs` of virtual time more). */
  finish(downloads: SimDownload[], maxMs = 600_000): void {
    const ok = this.net.run(() => downloads.every((d) => d.finishedAt !== undefined), {
      maxMs: this.net.now + maxMs,
    });
    assert.ok(ok, "every download ended");
  }
}
