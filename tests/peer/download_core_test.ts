/**
 * {@link DownloadCore} on a virtual clock against scripted owners: every datagram the core sends
 * is decoded and answered (PROBE_ACK, MANIFEST_DATA, BLOCK_DATA, ERROR) after 1 ms, and the
 * driver's jobs (tracker, disk) are answered at once. No sockets, no timers, no disk.
 */
import { blockDataTxid } from "../../lib/wire/block_data.ts";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { DownloadCore } from "../../lib/peer/core/download_core.ts";
import type {
  DownloadCoreEvent,
  DownloadCoreOptions,
} from "../../lib/peer/core/download_core_event.ts";
import type { DownloadProgress, DownloadResult } from "../../lib/peer/api.ts";
import { encodeManifest } from "../../lib/peer/manifest.ts";
import { TransferError } from "../../lib/peer/transfer_error.ts";
import { addressKey } from "../../lib/net/host_port.ts";
import { decodeMessage, encodeMessage } from "../../lib/wire/codec.ts";
import { ErrorCode, type Message, type OwnersMessage } from "../../lib/wire/messages.ts";

const PIECE = 16 * 1024;
const SIZE = 10 * PIECE + 1234;
const DATA = Uint8Array.from({ length: SIZE }, (_, i) => (i * 7 + (i >> 9)) & 0xff);
const HASHES = new Uint8Array(32 * Math.ceil(SIZE / PIECE));
for (let p = 0; p * PIECE < SIZE; p++) {
  HASHES.set(
    createHash("sha256").update(DATA.subarray(p * PIECE, (p + 1) * PIECE)).digest(),
    32 * p,
  );
}
const MANIFEST = encodeManifest({ size: SIZE, pieceSize: PIECE, pieceHashes: HASHES });
const CONTENT_ID = new Uint8Array(createHash("sha256").update(MANIFEST).digest());
const TXID = 77;
const LATENCY = 1;
const OPTIONS: DownloadCoreOptions = {
  query: "file.bin",
  txid: TXID,
  nodeId: "me",
  outDir: "/out",
  maxOwners: 4,
  mtu: 0,
  maxBlock: 0,
  verifyInWorker: false,
  dataSockets: false,
};

/** An owner that answers what the core sends it, as an uploader would. */
class Owner {
  port: number;
  /** Answers nothing at all (gone, or never reachable). */
  silent = false;
  /** Answers PROBEs only (stops serving blocks). */
  servesBlocks = true;
  cookie: bigint;
  manifest = MANIFEST;
  /** Answers this many MANIFEST_REQUESTs with ERROR busy first (a rate-limited owner). */
  busyManifests = 0;
  probes = 0;
  blockRequests = 0;
  /** Block sizes its BLOCK_REQUESTs asked for. */
  readonly blockSizes = new Set<number>();
  constructor(readonly nodeId: string, port: number, readonly host = "127.0.0.1") {
    this.port = port;
    this.cookie = BigInt(port) * 1000n + 1n;
  }
  get address(): Deno.NetAddr {
    return { transport: "udp", hostname: this.host, port: this.port };
  }
  entry(): OwnersMessage["owners"][number] {
    return {
      nodeId: this.nodeId,
      address: { family: 4, host: this.host, port: this.port },
      rate: 0,
    };
  }
  answer(msg: Message): Message[] {
    if (this.silent) return [];
    const txid = msg.txid;
    switch (msg.type) {
      case "probe":
        this.probes++;
        return [{ type: "probe_ack", txid, size: msg.size, cookie: this.cookie }];
      case "manifest_request": {
        if (msg.cookie !== this.cookie) return [badCookie(txid)];
        if (this.busyManifests > 0) {
          this.busyManifests--;
          return [{ type: "error", txid, code: ErrorCode.busy, text: "rate limit: retry in 5 ms" }];
        }
        const chunk = msg.maxDatagram - 48;
        const data = this.manifest.subarray(msg.offset, msg.offset + chunk);
        const total = this.manifest.byteLength;
        return [{
          type: "manifest_data",
          txid,
          contentId: CONTENT_ID,
          total,
          offset: msg.offset,
          data,
        }];
      }
      case "block_request": {
        this.blockRequests++;
        this.blockSizes.add(msg.blockSize);
        if (msg.cookie !== this.cookie) return [badCookie(txid)];
        if (!this.servesBlocks) return [];
        const out: Message[] = [];
        for (const r of msg.ranges) {
          for (let off = r.offset; off < r.offset + r.length; off += msg.blockSize) {
            const end = Math.min(off + msg.blockSize, r.offset + r.length);
            out.push({ type: "block_data", txid, offset: off, data: DATA.subarray(off, end) });
          }
        }
        return out;
      }
      default:
        return [];
    }
  }
}

/** An owner whose manifest does not hash to the content id (one bit flipped). */
function liarOwner(): Owner {
  const liar = new Owner("liar", 4001);
  liar.manifest = MANIFEST.slice();
  liar.manifest[40] = liar.manifest[40]! ^ 1;
  return liar;
}

function badCookie(txid: number): Message {
  return { type: "error", txid, code: ErrorCode.bad_cookie, text: "bad cookie" };
}

interface Delivery {
  at: number;
  bytes: Uint8Array;
  from: Deno.NetAddr;
}

/** The core, its scripted owners and tracker, and a virtual clock. */
class World {
  now = 0;
  readonly core: DownloadCore;
  readonly owners: Owner[];
  readonly logs: string[] = [];
  readonly logTimes: number[] = [];
  readonly needs: number[] = [];
  readonly progress: DownloadProgress[] = [];
  readonly file = new Uint8Array(SIZE);
  readonly inbox: Delivery[] = [];
  result: DownloadResult | undefined;
  error: unknown;
  /** The tracker's answer to every NEED after the first. */
  listed: () => Owner[];
  /** Called on every step, to script changes in time. */
  onStep: (w: World) => void = () => {};
  /** Deliver the datagrams due at one time as one burst (startBatch … endBatch), as a driver does. */
  batch = false;
  /** Called after each datagram of a burst, before its end. */
  inBatch: (w: World, d: Delivery) => void = () => {};
  /** Block requests sent. */
  blockRequests = 0;
  /**
   * The part's piece allocator (a part written with O_DIRECT): pieces then come as `verify_piece`
   * and are answered one loop step later, as a direct write finishing.
   */
  pieceBuffer: ((size: number) => Uint8Array) | undefined;
  /** Pieces waiting for their verdict: the buffer and a copy of its bytes when handed over. */
  readonly held = new Map<number, { data: Uint8Array; copy: Uint8Array }>();
  /** Pieces the core told the driver to record. */
  readonly marked: number[] = [];

  constructor(owners: Owner[], options: Partial<DownloadCoreOptions> = {}) {
    this.owners = owners;
    this.listed = () => owners;
    this.core = new DownloadCore({ ...OPTIONS, ...options });
  }

  /** Runs `then` once, at the first step where `when` holds. */
  once(when: () => boolean, then: () => void): void {
    const before = this.onStep;
    let fired = false;
    this.onStep = (w) => {
      before(w);
      if (!fired && when()) {
        fired = true;
        then();
      }
    };
  }

  log(fragment: string): string | undefined {
    return this.logs.find((l) => l.includes(fragment));
  }

  /** Runs until the download ends or the virtual clock passes `until`. */
  run(until = 60_000): void {
    if (this.now === 0) this.core.start(0);
    for (;;) {
      for (const [index, { data, copy }] of [...this.held]) {
        this.held.delete(index);
        // Nothing wrote into a buffer while its piece waited for the disk
        assert.deepEqual(data, copy, `piece ${index}'s buffer changed before its verdict`);
        this.file.set(data, index * PIECE);
        this.core.handlePieceVerdict({ index, ok: true, buffer: data }, this.now);
      }
      this.#drain();
      if (this.core.finished) return;
      this.onStep(this);
      const timeout = this.core.pollTimeout() ?? Infinity;
      const next = Math.min(timeout, this.inbox[0]?.at ?? Infinity);
      if (next === Infinity || next > until) return;
      this.now = Math.max(this.now, next);
      if (this.batch && this.inbox.length > 0 && this.inbox[0]!.at <= this.now) {
        this.core.startBatch();
        while (this.inbox.length > 0 && this.inbox[0]!.at <= this.now) {
          const d = this.inbox.shift()!;
          this.core.handleDatagram(d.bytes, d.from, this.now);
          this.inBatch(this, d);
        }
        this.core.endBatch(this.now);
      } else if (this.inbox.length > 0 && this.inbox[0]!.at <= this.now) {
        const d = this.inbox.shift()!;
        this.core.handleDatagram(d.bytes, d.from, this.now);
      } else {
        this.core.handleTimeout(this.now);
      }
    }
  }

  #drain(): void {
    const core = this.core;
    for (let ev = core.pollEvent(); ev; ev = core.pollEvent()) this.#act(ev);
    for (let t = core.pollTransmit(); t; t = core.pollTransmit()) {
      const owner = this.owners.find((o) => addressKey(o.address) === addressKey(t.to));
      if (!owner) continue;
      const msg = decodeMessage(t.bytes);
      if (msg.type === "block_request") this.blockRequests++;
      for (const reply of owner.answer(msg)) {
        this.inbox.push({
          at: this.now + LATENCY,
          bytes: encodeMessage(reply),
          from: owner.address,
        });
      }
    }
  }

  #act(ev: DownloadCoreEvent): void {
    const core = this.core, now = this.now;
    switch (ev.kind) {
      case "need": {
        this.needs.push(now);
        const owners = this.needs.length === 1 ? this.owners : this.listed();
        const reply: OwnersMessage = {
          type: "owners",
          txid: 1,
          contentId: CONTENT_ID,
          name: "file.bin",
          size: SIZE,
          alternatives: 0,
          owners: owners.map((o) => o.entry()),
        };
        return core.handleNeedReply(reply, now);
      }
      case "check_target":
        assert.equal(ev.path, "/out/file.bin");
        return core.handleTargetChecked({ sharedPath: undefined, exists: false }, now);
      case "load_resume_manifest":
        return core.handleManifestLoaded(undefined, now);
      case "open_part":
        assert.deepEqual(ev.encodedManifest, MANIFEST);
        return core.handlePartOpened(
          { verifiedPieces: [], newPieceBuffer: this.pieceBuffer },
          now,
        );
      case "write_piece":
        return this.file.set(ev.data, ev.index * PIECE);
      case "complete_file":
        return core.handleFileCompleted("/out/file.bin", now);
      case "log":
        this.logTimes.push(now);
        return void this.logs.push(ev.line);
      case "progress":
        return void this.progress.push(ev.progress);
      case "done":
        this.result = ev.result;
        return;
      case "failed":
        this.error = ev.error;
        return;
      case "verify_piece":
        if (!this.pieceBuffer) throw new Error("unexpected verify_piece without verifyInWorker");
        return void this.held.set(ev.index, { data: ev.data, copy: ev.data.slice() });
      case "mark_verified":
        if (!this.pieceBuffer) throw new Error("unexpected mark_verified without verifyInWorker");
        return void this.marked.push(ev.index);
    }
  }
}

function assertComplete(w: World): DownloadResult {
  assert.equal(w.error, undefined, `failed: ${w.error}\n${w.logs.join("\n")}`);
  const r = w.result;
  assert.ok(r, `not finished at ${w.now} ms:\n${w.logs.join("\n")}`);
  assert.equal(r.size, SIZE);
  assert.equal(r.path, "/out/file.bin");
  assert.ok(w.file.every((b, i) => b === DATA[i]), "the written bytes are the file");
  assert.equal(r.owners.reduce((n, o) => n + o.bytes, 0), SIZE);
  return r;
}

function assertFailed(w: World, code: string, message: string | RegExp): TransferError {
  assert.equal(w.result, undefined);
  assert.ok(w.error instanceof TransferError, `expected a TransferError, got ${w.error}`);
  assert.equal(w.error.code, code);
  if (typeof message === "string") assert.equal(w.error.message, message);
  else assert.match(w.error.message, message);
  return w.error;
}

Deno.test({
  name: "DownloadCore asks owners on other hosts for datagrams of at most 8,952 bytes unless " +
    "--mtu or maxBlock says otherwise; loopback owners for 32 KiB",
  permissions: "none",
  fn() {
    const run = (host: string, options: Partial<DownloadCoreOptions> = {}) => {
      const alice = new Owner("alice", 4001, host);
      const w = new World([alice], options);
      w.run();
      const r = assertComplete(w);
      assert.equal(r.receivedBytes, SIZE);
      return { w, sizes: [...alice.blockSizes] };
    };
    const remote = run("192.0.2.7");
    assert.ok(remote.w.log("path to alice carries 8952-byte datagrams"), remote.w.logs.join("\n"));
    assert.ok(remote.sizes.every((b) => b + 16 <= 8952), `block sizes ${remote.sizes}`);
    const local = run("127.0.0.1");
    assert.ok(local.w.log("path to alice carries 32784-byte datagrams"));
    assert.ok(Math.max(...local.sizes) > 8952, `block sizes ${local.sizes}`);
    // The user's --mtu and maxBlock are kept as they were
    const mtu = run("192.0.2.7", { mtu: 32784 });
    assert.ok(mtu.w.log("path to alice carries 32784-byte datagrams"));
    const maxBlock = run("192.0.2.7", { maxBlock: 16384 });
    assert.ok(maxBlock.w.log("path to alice carries 32784-byte datagrams"));
    assert.deepEqual(maxBlock.sizes, [16384]);
  },
});

Deno.test({
  name: "DownloadCore downloads from two owners: probe, manifest, blocks, final progress",
  permissions: "none",
  fn() {
    const w = new World([new Owner("alice", 4001), new Owner("bob", 4002)]);
    w.run();
    const r = assertComplete(w);
    assert.deepEqual(r.owners.map((o) => o.nodeId).sort(), ["alice", "bob"]);
    assert.equal(r.elapsedMs, w.now);
    assert.match(w.logs[0]!, /^need file\.bin: content [0-9a-f]{16}… 165074 bytes, 2 owner\(s\)$/);
    assert.ok(w.log("path to alice carries 32784-byte datagrams"));
    assert.match(w.logs.at(-1)!, /^completed file\.bin: 165074 bytes in \d+ ms/);
    const last = w.progress.at(-1)!;
    assert.equal(last.verifiedBytes, SIZE);
    assert.equal(w.core.progress, last);
    assert.equal(w.core.pollTimeout(), undefined, "no timer once done");
  },
});

Deno.test({
  name: "DownloadCore reports progress every 250 ms of virtual time",
  permissions: "none",
  fn() {
    const alice = new Owner("alice", 4001);
    const w = new World([alice], { mtu: 1500 }); // 1452-byte blocks: many round trips
    let paused = false;
    w.onStep = () => {
      // stall the owner for a second once, so the transfer spans several ticks
      if (!paused && w.now > 5) {
        paused = true;
        alice.silent = true;
      }
      if (paused && w.now >= 1000) alice.silent = false;
    };
    w.run();
    assertComplete(w);
    const ticks = w.progress.slice(0, -1);
    assert.ok(ticks.length >= 4, `${ticks.length} ticks`);
    assert.deepEqual(ticks.slice(0, 4).map((p) => p.name), Array(4).fill("file.bin"));
  },
});

Deno.test({
  name: "DownloadCore probes 65507-byte datagrams only when maxBlock asks for more than 32 KiB",
  permissions: "none",
  fn() {
    const big = new World([new Owner("alice", 4001)], { maxBlock: 65536 });
    big.run();
    assertComplete(big);
    assert.ok(big.log("path to alice carries 65507-byte datagrams"), big.logs.join("\n"));
    const capped = new World([new Owner("alice", 4001)], { maxBlock: 65536, mtu: 9000 });
    capped.run();
    assertComplete(capped);
    assert.ok(capped.log("path to alice carries 9000-byte datagrams"), "mtu still caps it");
  },
});

Deno.test({
  name: "DownloadCore leaves out an owner that never answers a PROBE and downloads from the other",
  permissions: "none",
  fn() {
    const ghost = new Owner("ghost", 4001);
    ghost.silent = true;
    const w = new World([ghost, new Owner("bob", 4002)]);
    w.run();
    const r = assertComplete(w);
    assert.deepEqual(r.owners.map((o) => o.nodeId), ["bob"]);
    assert.ok(w.log("path to bob carries 32784-byte datagrams"), "the MTU is probed to bob");
    // the probe phase waits out the ghost's first PROBE, timed by bob's measured round trip
    // (a few ms here), not the blind 250 ms and not all six PROBEs (4.75 s)
    assert.ok(r.elapsedMs < 50, `${r.elapsedMs} ms`);
  },
});

Deno.test({
  name: "DownloadCore asks a busy owner for the manifest again instead of giving it up",
  permissions: "none",
  fn() {
    // The only owner (a seed in a crowd) refuses the first manifest requests for its rate limit
    const seed = new Owner("seed", 4001);
    seed.busyManifests = 3;
    const w = new World([seed]);
    w.run();
    const r = assertComplete(w);
    assert.deepEqual(r.owners.map((o) => o.nodeId), ["seed"]);
    assert.equal(seed.busyManifests, 0);
    assert.ok(r.elapsedMs < 1000, `${r.elapsedMs} ms`);
  },
});

Deno.test({
  name: "DownloadCore fails with all_owners_failed when no owner answers a PROBE",
  permissions: "none",
  fn() {
    const ghost = new Owner("ghost", 4001);
    ghost.silent = true;
    const w = new World([ghost]);
    w.run();
    assertFailed(
      w,
      "all_owners_failed",
      "Cannot download file.bin: no owner answered a PROBE (1 tried)",
    );
    assert.equal(ghost.probes, 0, "silent: it counted nothing");
  },
});

Deno.test({
  name: "DownloadCore renews a refused address cookie and carries on",
  permissions: "none",
  fn() {
    const alice = new Owner("alice", 4001);
    const w = new World([alice], { mtu: 1500 });
    let rotated = false;
    w.once(() => alice.blockRequests >= 3, () => {
      rotated = true;
      alice.cookie += 1n; // its key rotated: the old cookie is refused from now on
    });
    w.run();
    assertComplete(w);
    assert.ok(rotated);
    assert.ok(w.log("owner alice refused our address cookie; probing it for a new one"));
    assert.ok(alice.probes >= 3, `${alice.probes} PROBEs: MTU rounds, then the renewal`);
  },
});

Deno.test({
  name: "DownloadCore blames an owner whose manifest does not match and takes the other's",
  permissions: "none",
  fn() {
    const liar = liarOwner();
    const w = new World([liar, new Owner("bob", 4002)]);
    w.run();
    assertComplete(w);
    assert.ok(w.log("owner liar sent a manifest that does not match the content id"));
  },
});

Deno.test({
  name: "DownloadCore fails with bad_manifest when every owner's manifest is wrong",
  permissions: "none",
  fn() {
    const liar = liarOwner();
    const w = new World([liar]);
    w.run();
    assertFailed(
      w,
      "bad_manifest",
      "Cannot download file.bin: every owner sent a manifest that does not match the content id",
    );
  },
});

Deno.test({
  name: "DownloadCore re-asks the tracker every second with no live owner, then gives up after 8 s",
  permissions: "none",
  fn() {
    const alice = new Owner("alice", 4001);
    const w = new World([alice], { mtu: 1500 });
    w.listed = () => []; // the tracker knows nobody else
    w.once(() => alice.blockRequests >= 3, () => alice.silent = true); // gone midway
    w.run();
    const dropped = w.logs.findIndex((l) => l.startsWith("dropped owner alice"));
    assert.ok(dropped >= 0, w.logs.join("\n"));
    const droppedAt = w.logTimes[dropped]!;
    assertFailed(
      w,
      "all_owners_failed",
      /^Cannot finish file\.bin: every owner failed or left; \d+\/11 pieces are kept in the \.part file for a resume$/,
    );
    assert.equal(w.now, droppedAt + 8000, "gives up 8 s after the last owner went");
    const reNeeds = w.needs.slice(1);
    // one a second from the drop on, the last in the step that gives up
    assert.deepEqual(reNeeds, Array.from({ length: 9 }, (_, i) => droppedAt + 1000 * i));
  },
});

Deno.test({
  name: "DownloadCore reaches an owner that moved to a new address, with a new cookie",
  permissions: "none",
  fn() {
    const alice = new Owner("alice", 4001);
    const w = new World([alice], { mtu: 1500 });
    // it stops, and once dropped comes back on another port with another cookie
    w.once(() => alice.blockRequests >= 3, () => alice.silent = true);
    w.once(() => w.log("dropped owner alice") !== undefined, () => {
      alice.silent = false;
      alice.port = 4999;
      alice.cookie = 999n;
    });
    w.run();
    assertComplete(w);
    assert.ok(w.log("owner alice moved to 127.0.0.1:4999"), w.logs.join("\n"));
  },
});

Deno.test({
  name: "DownloadCore cancel() fails at once with aborted, and nothing is sent after",
  permissions: "none",
  fn() {
    const alice = new Owner("alice", 4001);
    const w = new World([alice], { mtu: 1500 });
    w.run(3);
    assert.equal(w.result, undefined);
    w.core.cancel("bye");
    assert.equal(w.core.pollTransmit(), undefined);
    assert.equal(w.core.pollTimeout(), undefined);
    w.run();
    assertFailed(w, "aborted", 'Download of "file.bin" stopped: bye');
    w.core.handleTimeout(10_000);
    assert.equal(w.core.pollEvent(), undefined, "a finished core ignores what comes later");
  },
});

Deno.test({
  name: "DownloadCore fails the first NEED as not_found or no_owners with the tracker's words",
  permissions: "none",
  fn() {
    for (
      const [error, code, message] of [
        [{ code: ErrorCode.not_found }, "not_found", 'Cannot download "x": no peer shares it'],
        [
          new Error("timed out"),
          "no_owners",
          'Cannot download "x": the tracker did not answer (timed out)',
        ],
      ] as const
    ) {
      const core = new DownloadCore({ ...OPTIONS, query: "x" });
      core.start(0);
      assert.equal(core.pollEvent()?.kind, "need");
      core.handleNeedFailed(error, 1);
      const ev = core.pollEvent();
      assert.ok(ev?.kind === "failed" && ev.error instanceof TransferError);
      assert.equal(ev.error.code, code);
      assert.equal(ev.error.message, message);
    }
  },
});

Deno.test({
  name: "DownloadCore refuses a name that the tracker maps to more than one content",
  permissions: "none",
  fn() {
    const core = new DownloadCore(OPTIONS);
    core.start(0);
    const need = core.pollEvent();
    assert.deepEqual(need, {
      kind: "need",
      want: { kind: "name", name: "file.bin" },
      maxOwners: 4,
    });
    core.handleNeedReply({
      type: "owners",
      txid: 1,
      contentId: CONTENT_ID,
      name: "file.bin",
      size: SIZE,
      alternatives: 1,
      owners: [new Owner("attacker", 4001).entry()],
    }, 1);
    const events = [];
    for (let e = core.pollEvent(); e; e = core.pollEvent()) events.push(e);
    assert.deepEqual(events.map((e) => e.kind), ["failed"], "no target check, no probe, no disk");
    const failed = events[0] as Extract<DownloadCoreEvent, { kind: "failed" }>;
    assert.ok(failed.error instanceof TransferError);
    assert.equal(failed.error.code, "ambiguous");
    assert.equal(
      failed.error.message,
      'Cannot download "file.bin": 2 different contents share this name; choose one by content id',
    );
    assert.equal(core.pollTransmit(), undefined);
  },
});

Deno.test({
  name: "DownloadCore fails with size_mismatch when the manifest's size is not the expected one",
  permissions: "none",
  fn() {
    const w = new World([new Owner("alice", 4001)], { expectedSize: SIZE + 1 });
    w.run();
    assertFailed(w, "size_mismatch", /is 165074 bytes, the link says 165075/);
    assert.ok(w.file.every((b) => b === 0), "nothing written");
  },
});

Deno.test({
  name:
    "DownloadCore takes a burst of blocks between startBatch and endBatch: no requests or disk work until its end, the same bytes, fewer requests",
  permissions: "none",
  fn() {
    const one = new World([new Owner("alice", 4001)], { mtu: 1500 });
    one.run();
    assertComplete(one);
    const w = new World([new Owner("alice", 4001)], { mtu: 1500 });
    w.batch = true;
    let blocks = 0, quietInside = true;
    w.inBatch = (world, d) => {
      if (blockDataTxid(d.bytes) < 0) return; // not a block
      blocks++;
      // Nothing to send and no piece to write while the burst lasts
      if (world.core.pollTransmit() !== undefined || world.core.pollEvent() !== undefined) {
        quietInside = false;
      }
    };
    w.run();
    const r = assertComplete(w);
    assert.ok(blocks > 100, `${blocks} blocks taken inside bursts`);
    assert.ok(quietInside, "no transmit or event before endBatch");
    assert.equal(r.retransmits, 0);
    assert.ok(
      w.blockRequests < one.blockRequests,
      `${w.blockRequests} requests in bursts, ${one.blockRequests} one block at a time`,
    );
    // endBatch without startBatch does nothing
    w.core.endBatch(w.now);
  },
});

Deno.test({
  name:
    "DownloadCore.expectedSlot(): no slot while a piece waits to be written, even after a pump inside a burst reused its buffer",
  permissions: "none",
  fn() {
    // One block per piece (every block completes a piece, whose buffer the next piece may
    // take), and 1452-byte blocks (slots inside the bursts)
    const offered: number[] = [];
    for (const options of [{}, { mtu: 1500 }]) {
      const w = new World([new Owner("alice", 4001)], options);
      w.batch = true;
      const ack = encodeMessage({ type: "probe_ack", txid: TXID, size: 1200, cookie: 4001001n });
      let slots = 0;
      w.inBatch = (world, d) => {
        if (blockDataTxid(d.bytes) < 0) return;
        // A message other than BLOCK_DATA inside the burst pumps at once (new requests, maybe a
        // new piece in the buffer of the one just verified, whose write waits for the burst's end)
        world.core.handleDatagram(ack, d.from, world.now);
        // What the kernel does with a datagram that is not the block expected: overwrite the slot
        const slot = world.core.expectedSlot("alice");
        if (slot === undefined) return;
        slots++;
        slot.fill(0xee);
      };
      w.run();
      assertComplete(w);
      assert.deepEqual(w.file, DATA, "every piece written as verified");
      offered.push(slots);
    }
    assert.ok(offered[1]! > 10, `${offered[1]} slots offered inside bursts`);
  },
});

Deno.test({
  name:
    "DownloadCore with a part written directly (newPieceBuffer): pieces in the part's buffers come as verify_piece, each buffer untouched until its verdict, recorded after it",
  permissions: "none",
  fn() {
    const w = new World([new Owner("alice", 4001), new Owner("bob", 4002)], { maxBlock: 4096 });
    const allocated = new Set<ArrayBufferLike>();
    w.pieceBuffer = (size) => {
      const b = new Uint8Array(size + 100).subarray(100);
      allocated.add(b.buffer);
      return b;
    };
    const handed: ArrayBufferLike[] = [];
    w.batch = true;
    w.once(() => w.held.size > 0, () => {
      for (const { data } of w.held.values()) handed.push(data.buffer);
    });
    w.run();
    assertComplete(w);
    assert.ok(handed.length > 0 && handed.every((b) => allocated.has(b)), "the part's buffers");
    assert.deepEqual([...w.marked].sort((a, b) => a - b), Array.from({ length: 11 }, (_, i) => i));
  },
});
