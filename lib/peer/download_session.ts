/**
 * One download, driven: resolves the name through the tracker, probes the path MTU and every
 * owner for its address cookie, fetches and verifies the manifest, then pumps the
 * {@link DownloadEngine} — datagrams and one timer in,
 * block requests and piece writes out. The protocol decisions all live in the sans-I/O cores;
 * this file only moves bytes between them and the socket, the disk and the tracker.
 * @module
 */
import { join } from "node:path";
import { decodeMessage, encodeMessage } from "../wire/codec.ts";
import { blockDataTxid } from "../wire/block_data.ts";
import type { PeerAddress } from "../wire/address.ts";
import { BLOCK_DATA_HEADER_SIZE, SAFE_DATAGRAM } from "../wire/limits.ts";
import {
  ErrorCode,
  type NeedTarget,
  type OwnerEntry,
  type OwnersMessage,
} from "../wire/messages.ts";
import type { DownloadHandle, DownloadOptions, DownloadProgress, DownloadResult } from "./api.ts";
import { BlockLayout, DEFAULT_MAX_BLOCK } from "./core/block_layout.ts";
import { inFlightBudget } from "./core/receive_budget.ts";
import { DownloadEngine } from "./core/download_engine.ts";
import { decodeManifest, fromHex, type Manifest, toHex } from "./manifest.ts";
import { manifestBound, ManifestFetch } from "./core/manifest_fetch.ts";
import { MtuProbe } from "./core/mtu_probe.ts";
import { CookieProbe } from "./core/cookie_probe.ts";
import { addressKey, type UdpEndpoint } from "../net/udp_endpoint.ts";
import { type PieceVerdict, PieceWriter } from "./piece_writer.ts";
import { safeName } from "./safe_name.ts";
import { diskError, TransferError } from "./transfer_error.ts";

/** The on-disk state of a download, as the session needs it. */
export interface PartStore {
  /** Verified pieces already on disk. */
  readonly verifiedPieces: Iterable<number>;
  /** The `.part` file, which the piece writer thread opens too. */
  readonly partPath: string;
  /** Records a piece the piece writer has verified and written. */
  markVerified(index: number): void;
  /** Writes a verified piece at its offset (synchronous: the engine's buffer is reused after). */
  writePiece(index: number, data: Uint8Array): void;
  /** fsyncs, renames to the final name, returns the final path. */
  complete(): Promise<string>;
  /** Saves state and closes; the `.part` stays for a later resume. */
  close(): Promise<void>;
}

/** What a session needs from its peer. */
export interface SessionContext {
  readonly nodeId: string;
  readonly outDir: string;
  readonly maxOwners: number;
  /** Largest UDP payload to use (from --mtu), or 0 to probe up to 32 KiB blocks. */
  readonly mtu: number;
  /** Hash and write pieces on a Worker thread instead of the receive loop. */
  readonly verifyInWorker: boolean;
  /** Cap on data bytes per block (0: as large as the path carries). */
  readonly maxBlock: number;
  need(want: NeedTarget, maxOwners: number): Promise<OwnersMessage>;
  send(bytes: Uint8Array, to: Deno.NetAddr): void;
  /**
   * Opens an extra UDP socket for one owner's block traffic, so every owner's burst has its own
   * kernel receive buffer; undefined to use the peer's main socket for everything.
   */
  openDataSocket?: (() => UdpEndpoint) | undefined;
  log(line: string): void;
  mapOwnerAddress?: ((address: PeerAddress, nodeId: string) => PeerAddress) | undefined;
  /** A stored manifest for this content id from an earlier, interrupted run (resume). */
  loadResumeManifest(
    contentIdHex: string,
    name: string,
    outDir: string,
  ): Promise<Uint8Array | undefined>;
  openPart(args: {
    outDir: string;
    name: string;
    contentIdHex: string;
    manifest: Manifest;
    encodedManifest: Uint8Array;
    overwrite: boolean;
  }): Promise<PartStore>;
  /** Path of a file this peer already shares with that content id, if any. */
  sharedPath(contentIdHex: string): string | undefined;
  /** Called once the file is complete and renamed. */
  completed(result: DownloadResult, manifest: Manifest, encoded: Uint8Array): Promise<void>;
  register(txid: number, session: DownloadSession): void;
  unregister(txid: number): void;
}

let nextTxid = (Math.random() * 0x7fffffff) >>> 0;

/** Re-asks the tracker at most this often when owners run out, ms. */
const RENEED_MS = 1000;
/** With no live owner for this long, the download fails, ms. */
const NO_OWNER_GIVE_UP_MS = 8000;
const PROGRESS_MS = 250;
/** Owners beyond this many share the peer's main socket. */
const MAX_DATA_SOCKETS = 12;

/** See the module doc. */
export class DownloadSession implements DownloadHandle {
  readonly query: string;
  readonly txid: number;
  readonly done: Promise<DownloadResult>;
  readonly #ctx: SessionContext;
  readonly #options: DownloadOptions;
  readonly #listeners = new Set<(p: DownloadProgress) => void>();
  #progress: DownloadProgress | undefined;
  #phase: "resolve" | "probe" | "manifest" | "transfer" | "finished" = "resolve";
  readonly #ownerByAddr = new Map<string, string>();
  readonly #addrByOwner = new Map<string, Deno.NetAddr>();
  #probe: MtuProbe | undefined;
  #probeOwner: string | undefined;
  /** Owners' address cookies: every request to an owner carries its cookie. */
  readonly #cookies: CookieProbe;
  #fetch: ManifestFetch | undefined;
  #engine: DownloadEngine | undefined;
  #part: PartStore | undefined;
  #writer: PieceWriter | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;
  #progressTimer: ReturnType<typeof setInterval> | undefined;
  #phaseDone: PromiseWithResolvers<void> | undefined;
  #failure: unknown;
  #contentId: Uint8Array | undefined;
  #contentIdHex = "";
  #name = "";
  #size = 0;
  #lastNeed = -Infinity;
  #needing = false;
  #noOwnerSince: number | undefined;
  #rateBytes = 0;
  #rateAt = 0;
  #rate = 0;
  /** Per-owner data sockets (block requests out, block data in). */
  readonly #dataSockets = new Map<string, UdpEndpoint>();
  readonly #abort: () => void;

  constructor(ctx: SessionContext, query: string, options: DownloadOptions = {}) {
    this.#ctx = ctx;
    this.query = query;
    this.#options = options;
    this.txid = nextTxid = (nextTxid + 1) >>> 0;
    this.#cookies = new CookieProbe({
      size: ctx.mtu > 0 ? Math.min(SAFE_DATAGRAM, ctx.mtu) : SAFE_DATAGRAM,
    });
    this.#abort = () => {
      const reason = options.signal?.reason;
      this.#fail(
        reason instanceof TransferError
          ? reason
          : new TransferError("aborted", `Download of "${query}" was cancelled`),
      );
    };
    options.signal?.addEventListener("abort", this.#abort, { once: true });
    // A signal that is already aborted never fires "abort": fail now, and #run stops at once.
    if (options.signal?.aborted) this.#abort();
    ctx.register(this.txid, this);
    this.done = this.#run().finally(() => {
      this.#phase = "finished";
      options.signal?.removeEventListener("abort", this.#abort);
      this.#clearTimer();
      clearInterval(this.#progressTimer);
      ctx.unregister(this.txid);
    });
  }

  /** Stops the download; the `.part` file is kept for a resume. */
  cancel(reason = "the peer is shutting down"): void {
    this.#fail(new TransferError("aborted", `Download of "${this.query}" stopped: ${reason}`));
  }

  get progress(): DownloadProgress | undefined {
    return this.#progress;
  }

  onProgress(listener: (p: DownloadProgress) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  // ---- datagrams routed here by the peer (txid matched) ----

  /** BLOCK_DATA fast path: `bytes` is the whole datagram (view into a reused buffer). */
  onBlockData(bytes: Uint8Array, from: Deno.NetAddr): void {
    const engine = this.#engine;
    if (!engine) return;
    const owner = this.#ownerByAddr.get(addressKey(from));
    if (owner === undefined) return;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const offset = view.getUint32(8) * 0x100000000 + view.getUint32(12);
    const now = performance.now();
    engine.handleBlock(owner, offset, bytes.subarray(BLOCK_DATA_HEADER_SIZE), now);
    this.#rateBytes += bytes.byteLength - BLOCK_DATA_HEADER_SIZE;
    this.#pump(now);
  }

  onManifestData(total: number, offset: number, data: Uint8Array, from: Deno.NetAddr): void {
    const owner = this.#ownerByAddr.get(addressKey(from));
    if (owner === undefined || !this.#fetch) return;
    const now = performance.now();
    this.#fetch.handleData(owner, total, offset, data, now);
    this.#pump(now);
  }

  onProbeAck(size: number, cookie: bigint, from: Deno.NetAddr): void {
    const owner = this.#ownerByAddr.get(addressKey(from));
    if (owner === undefined) return;
    const now = performance.now();
    this.#cookies.handleAck(owner, cookie, now);
    if (this.#probe && this.#probeOwner === undefined) this.#probeOwner = owner;
    if (owner === this.#probeOwner && this.#probe) this.#probe.handleAck(size, now);
    this.#pump(now);
  }

  onError(code: number, text: string, from: Deno.NetAddr): void {
    const owner = this.#ownerByAddr.get(addressKey(from));
    if (owner === undefined) return;
    const now = performance.now();
    if (code === ErrorCode.bad_cookie) {
      // Its key rotated (or it restarted): probe it for a new cookie and carry on; the requests
      // it refused are re-sent (block requests: to whoever is free; the owner pauses meanwhile)
      if (this.#cookies.renew(owner, now)) {
        this.#ctx.log(`owner ${owner} refused our address cookie; probing it for a new one`);
        if (this.#phase === "transfer") this.#engine?.pauseOwner(owner, now);
      }
      return this.#pump(now);
    }
    this.#ctx.log(`owner ${owner} answered error ${code}: ${text}`);
    if (this.#phase === "manifest") this.#fetch?.handleError(owner);
    else if (this.#engine) {
      const kind = code === ErrorCode.unknown_content
        ? "unknown_content"
        : code === ErrorCode.out_of_range
        ? "out_of_range"
        : "busy";
      this.#engine.handleError(owner, kind, now);
    }
    this.#pump(now);
  }

  // ---- the run ----

  async #run(): Promise<DownloadResult> {
    if (this.#failure !== undefined) throw this.#failure;
    const started = performance.now();
    const ctx = this.#ctx;
    const idBytes = /^[0-9a-fA-F]{64}$/.test(this.query) ? fromHex(this.query) : null;
    const want: NeedTarget = idBytes
      ? { kind: "content", contentId: idBytes }
      : { kind: "name", name: this.query };
    const reply = await this.#need(want);
    this.#contentId = reply.contentId;
    this.#contentIdHex = toHex(reply.contentId);
    this.#size = reply.size;
    ctx.log(
      `need ${this.query}: content ${
        this.#contentIdHex.slice(0, 16)
      }… ${reply.size} bytes, ${reply.owners.length} owner(s)` +
        (reply.alternatives > 0 ? `, ${reply.alternatives} other content(s) share this name` : ""),
    );
    const name = safeName(this.#options.saveAs ?? reply.name);
    this.#name = name;
    const outDir = this.#options.outDir ?? ctx.outDir;
    const finalPath = join(outDir, name);
    const existing = ctx.sharedPath(this.#contentIdHex);
    if (existing !== undefined) {
      ctx.log(`already have ${name} (${existing}); nothing to download`);
      return this.#result(existing, started, [], 0);
    }
    if (!this.#options.overwrite && (await exists(finalPath))) {
      throw new TransferError(
        "exists",
        `Cannot save ${name}: ${finalPath} exists; pass overwrite to replace it`,
      );
    }
    this.#addOwners(reply.owners);
    if (this.#addrByOwner.size === 0) {
      throw new TransferError(
        "no_owners",
        `Cannot download ${name}: no other peer shares it right now`,
      );
    }
    this.#startProgress();

    // 1. path MTU
    const maxDatagram = await this.#probePath();
    // 2. manifest (from a previous run, or from the owners)
    let encoded = await ctx.loadResumeManifest(this.#contentIdHex, name, outDir);
    if (!encoded) encoded = await this.#fetchManifest(maxDatagram);
    let manifest: Manifest;
    try {
      manifest = decodeManifest(encoded);
    } catch (e) {
      throw new TransferError(
        "bad_manifest",
        `Cannot download ${name}: its manifest is malformed (${String(e)})`,
      );
    }
    if (manifest.size !== reply.size) {
      ctx.log(
        `manifest says ${manifest.size} bytes, tracker said ${reply.size}; trusting the verified manifest`,
      );
      this.#size = manifest.size;
    }
    // 3. the part file and the engine
    const part = await ctx.openPart({
      outDir,
      name,
      contentIdHex: this.#contentIdHex,
      manifest,
      encodedManifest: encoded,
      overwrite: this.#options.overwrite ?? false,
    });
    this.#part = part;
    try {
      const blockSize = BlockLayout.blockSizeFor(
        manifest.pieceSize,
        maxDatagram,
        ctx.maxBlock > 0 ? ctx.maxBlock : DEFAULT_MAX_BLOCK,
      );
      const perSocket = inFlightBudget(blockSize);
      const ownerCount = Math.max(1, this.#addrByOwner.size);
      const engine = new DownloadEngine({
        manifest,
        blockSize,
        maxInFlight: perSocket * (ctx.openDataSocket ? Math.min(MAX_DATA_SOCKETS, ownerCount) : 1),
        maxOwnerInFlight: perSocket,
        verifiedPieces: part.verifiedPieces,
        wantOwners: Math.min(this.#addrByOwner.size, ctx.maxOwners),
        verifyExternally: ctx.verifyInWorker,
        ...(ctx.verifyInWorker
          ? { newPieceBuffer: (size: number) => new Uint8Array(new SharedArrayBuffer(size)) }
          : {}),
      });
      if (ctx.verifyInWorker) {
        this.#writer = new PieceWriter(
          part.partPath,
          manifest.pieceHashes,
          (v) => this.#onVerdict(v),
        );
      }
      this.#engine = engine;
      const now = performance.now();
      for (const owner of this.#addrByOwner.keys()) {
        if (!this.#cookies.has(owner)) continue; // joins when its PROBE_ACK comes
        engine.addOwner(owner, now);
        this.#openDataSocket(owner);
      }
      engine.start(now);
      if (engine.resumedBytes > 0) {
        ctx.log(`resuming ${name}: ${engine.resumedBytes} bytes already verified`);
      }
      for (const owner of engine.liveOwners) {
        const r = engine.ownerRange(owner);
        if (r) ctx.log(`owner ${owner}: pieces ${r[0]}..${r[1]} of ${engine.layout.pieceCount}`);
      }
      this.#phase = "transfer";
      await this.#untilPhaseDone(now);
      await this.#writer?.drain();
      await this.#writer?.close();
      const path = await part.complete();
      this.#emitProgress(); // the final state: listeners hear of it even if the 250 ms tick never came
      this.#part = undefined;
      const owners = [...engine.deliveredByOwner].filter(([, b]) => b > 0).map((
        [nodeId, bytes],
      ) => ({
        nodeId,
        bytes,
      }));
      const result = this.#result(path, started, owners, engine.resumedBytes);
      ctx.log(
        `completed ${name}: ${result.size} bytes in ${result.elapsedMs.toFixed(0)} ms ` +
          `(${(result.size / 1e3 / Math.max(1, result.elapsedMs)).toFixed(1)} MB/s), ` +
          `owners ${owners.map((o) => `${o.nodeId}=${o.bytes}`).join(" ")}, ` +
          `retransmits ${result.retransmits}, bad pieces ${result.badPieces}, resumed ${result.resumedBytes}`,
      );
      await ctx.completed(result, manifest, encoded);
      return result;
    } finally {
      await Promise.all(
        [...this.#dataSockets.values()].map((s) => s.close()),
      );
      this.#dataSockets.clear();
      await this.#writer?.close();
      if (this.#part) await this.#part.close().catch(() => {});
    }
  }

  #result(
    path: string,
    started: number,
    owners: { nodeId: string; bytes: number }[],
    resumed: number,
  ): DownloadResult {
    const s = this.#engine?.stats;
    return {
      path,
      name: this.#name,
      contentId: this.#contentIdHex,
      size: this.#size,
      elapsedMs: performance.now() - started,
      owners,
      resumedBytes: resumed,
      receivedBytes: s?.receivedBytes ?? 0,
      retransmits: s?.retransmits ?? 0,
      badPieces: s?.badPieces ?? 0,
    };
  }

  async #need(want: NeedTarget): Promise<OwnersMessage> {
    try {
      return await this.#ctx.need(want, this.#ctx.maxOwners);
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (code === ErrorCode.not_found || code === "not_found") {
        throw new TransferError("not_found", `Cannot download "${this.query}": no peer shares it`, {
          cause: e,
        });
      }
      throw new TransferError(
        "no_owners",
        `Cannot download "${this.query}": the tracker did not answer (${
          e instanceof Error ? e.message : String(e)
        })`,
        { cause: e },
      );
    }
  }

  /** Adds owners; a known owner at a new address (it restarted) is reached there from now on. */
  #addOwners(owners: OwnerEntry[]): string[] {
    const added: string[] = [];
    for (const o of owners) {
      if (o.nodeId === this.#ctx.nodeId) continue;
      const a = this.#ctx.mapOwnerAddress
        ? this.#ctx.mapOwnerAddress(o.address, o.nodeId)
        : o.address;
      const net: Deno.NetAddr = { transport: "udp", hostname: a.host, port: a.port };
      const old = this.#addrByOwner.get(o.nodeId);
      if (old !== undefined) {
        if (addressKey(old) === addressKey(net)) continue;
        this.#ownerByAddr.delete(addressKey(old));
        this.#cookies.forget(o.nodeId); // another address (a restart): another cookie
        this.#ctx.log(`owner ${o.nodeId} moved to ${net.hostname}:${net.port}`);
      }
      this.#addrByOwner.set(o.nodeId, net);
      this.#ownerByAddr.set(addressKey(net), o.nodeId);
      added.push(o.nodeId);
    }
    return added;
  }

  /**
   * Probes the path MTU to the first owner, and every owner for its address cookie (the MTU
   * probe's ACKs carry the first owner's). Done once the MTU is known, some owner's cookie is,
   * and no owner is still in its first PROBE's timeout: the others join when they answer.
   */
  async #probePath(): Promise<number> {
    const now = performance.now();
    for (const owner of this.#addrByOwner.keys()) this.#cookies.add(owner, now);
    const cap = this.#ctx.mtu > 0 ? this.#ctx.mtu : undefined;
    if (cap === undefined || cap > SAFE_DATAGRAM) {
      // Probed against the first owner that answers its cookie PROBE: a listed owner may be
      // gone (or stopped), and probing it would settle on 1200-byte datagrams for everyone.
      this.#probe = new MtuProbe(cap !== undefined ? { max: cap } : {});
      this.#probeOwner = undefined;
    }
    this.#phase = "probe";
    await this.#untilPhaseDone(now);
    const probe = this.#probe;
    this.#probe = undefined;
    if (!probe) return cap!;
    this.#ctx.log(`path to ${this.#probeOwner} carries ${probe.result}-byte datagrams`);
    return probe.result;
  }

  async #fetchManifest(maxDatagram: number): Promise<Uint8Array> {
    const fetch = new ManifestFetch({
      contentId: this.#contentId!,
      maxDatagram,
      maxBytes: manifestBound(this.#size),
    });
    for (const owner of this.#addrByOwner.keys()) {
      if (this.#cookies.has(owner)) fetch.addOwner(owner);
    }
    this.#fetch = fetch;
    this.#phase = "manifest";
    await this.#untilPhaseDone(performance.now());
    for (const bad of fetch.badOwners) {
      this.#ctx.log(`owner ${bad} sent a manifest that does not match the content id`);
    }
    this.#fetch = undefined;
    return fetch.result!;
  }

  #untilPhaseDone(now: number): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    this.#phaseDone = Promise.withResolvers<void>();
    const p = this.#phaseDone.promise;
    this.#pump(now);
    return p;
  }

  #fail(e: unknown): void {
    if (this.#failure !== undefined) return;
    this.#failure = e;
    this.#clearTimer();
    this.#phaseDone?.reject(e);
  }

  #finishPhase(): void {
    this.#clearTimer();
    const d = this.#phaseDone;
    this.#phaseDone = undefined;
    d?.resolve();
  }

  /** Drains the active core: sends, events, and re-arms the one timer. */
  #pump(now: number): void {
    if (this.#failure !== undefined || !this.#phaseDone) return;
    try {
      switch (this.#phase) {
        case "probe":
          return this.#pumpProbe(now);
        case "manifest":
          return this.#pumpManifest(now);
        case "transfer":
          return this.#pumpTransfer(now);
      }
    } catch (e) {
      this.#fail(e);
    }
  }

  #pumpProbe(now: number): void {
    const probe = this.#probe;
    const to = this.#probeOwner === undefined ? undefined : this.#addrByOwner.get(this.#probeOwner);
    if (probe && to) {
      for (const size of probe.pollTransmit(now)) {
        this.#ctx.send(encodeMessage({ type: "probe", txid: this.txid, size }), to);
      }
    }
    this.#pumpCookies(now);
    const cookies = this.#cookies;
    if ((!probe || probe.done) && cookies.ready > 0 && cookies.waiting === 0) {
      return this.#finishPhase();
    }
    if (cookies.ready === 0 && cookies.probing === 0) {
      return this.#fail(
        new TransferError(
          "all_owners_failed",
          `Cannot download ${this.#name}: no owner answered a PROBE (${this.#addrByOwner.size} tried)`,
        ),
      );
    }
    this.#arm(earliest(probe?.pollTimeout(), cookies.pollTimeout()), (t) => {
      probe?.handleTimeout(t);
      cookies.handleTimeout(t);
    });
  }

  /** Sends due PROBEs for cookies and acts on owners whose cookie arrived or who never answer. */
  #pumpCookies(now: number): void {
    const cookies = this.#cookies;
    if (!cookies.busy) return;
    for (const owner of cookies.pollTransmit(now)) {
      const to = this.#addrByOwner.get(owner);
      if (!to) continue;
      this.#ctx.send(encodeMessage({ type: "probe", txid: this.txid, size: cookies.size }), to);
    }
    for (let ev = cookies.pollEvent(); ev; ev = cookies.pollEvent()) {
      const engine = this.#phase === "transfer" ? this.#engine : undefined;
      if (ev.kind === "ready") {
        if (this.#phase === "manifest") this.#fetch?.addOwner(ev.owner);
        if (!engine) continue;
        if (engine.isPaused(ev.owner)) {
          engine.resumeOwner(ev.owner, now);
        } else if (!engine.isBanned(ev.owner) && engine.addOwner(ev.owner, now)) {
          this.#openDataSocket(ev.owner);
          this.#ctx.log(`added owner ${ev.owner}: its address cookie arrived`);
        }
      } else {
        this.#ctx.log(
          `owner ${ev.owner} answered none of ${ev.attempts} PROBEs${
            ev.renewal ? " for a new address cookie" : ""
          }; not using it`,
        );
        engine?.removeOwner(ev.owner, "did not answer PROBEs for an address cookie", now);
      }
    }
  }

  #pumpManifest(now: number): void {
    const fetch = this.#fetch!;
    this.#pumpCookies(now);
    if (fetch.result) return this.#finishPhase();
    if (fetch.failed && this.#cookies.probing === 0) {
      const bad = fetch.badOwners.length > 0;
      return this.#fail(
        new TransferError(
          bad ? "bad_manifest" : "all_owners_failed",
          bad
            ? `Cannot download ${this.#name}: every owner sent a manifest that does not match the content id`
            : `Cannot download ${this.#name}: no owner answered the manifest request`,
        ),
      );
    }
    for (const t of fetch.pollTransmit(now)) {
      const to = this.#addrByOwner.get(t.owner);
      if (!to) continue;
      this.#ctx.send(
        encodeMessage({
          type: "manifest_request",
          txid: this.txid,
          cookie: this.#cookies.cookie(t.owner) ?? 0n,
          contentId: this.#contentId!,
          offset: t.offset,
          maxDatagram: t.maxDatagram,
        }),
        to,
      );
    }
    const cookies = this.#cookies;
    this.#arm(earliest(fetch.pollTimeout(), cookies.pollTimeout()), (t) => {
      fetch.handleTimeout(t);
      cookies.handleTimeout(t);
    });
  }

  #pumpTransfer(now: number): void {
    const engine = this.#engine!;
    const cookies = this.#cookies;
    if (cookies.busy) this.#pumpCookies(now);
    for (let ev = engine.pollEvent(); ev; ev = engine.pollEvent()) {
      switch (ev.kind) {
        case "piece":
          this.#part!.writePiece(ev.index, ev.data);
          break;
        case "verify":
          this.#writer!.submit(ev.index, ev.offset, ev.data);
          break;
        case "bad_piece":
          this.#ctx.log(
            `piece ${ev.index} failed verification (from ${
              ev.owners.join(", ")
            }); fetching it again`,
          );
          break;
        case "owner_dropped":
          this.#ctx.log(`dropped owner ${ev.owner}: ${ev.reason}`);
          break;
        case "need_owners":
          this.#reNeed(now);
          break;
        case "done":
          return this.#finishPhase();
      }
    }
    for (let t = engine.pollTransmit(now); t; t = engine.pollTransmit(now)) {
      const to = this.#addrByOwner.get(t.owner);
      if (!to) continue;
      const bytes = encodeMessage({
        type: "block_request",
        txid: this.txid,
        cookie: cookies.cookie(t.owner) ?? 0n,
        contentId: this.#contentId!,
        blockSize: engine.layout.blockSize,
        ranges: t.ranges,
      });
      const socket = this.#dataSockets.get(t.owner);
      if (socket) socket.send(bytes, to);
      else this.#ctx.send(bytes, to);
    }
    const live = engine.liveOwnerCount;
    if (live === 0) {
      this.#noOwnerSince ??= now;
      this.#reNeed(now);
      if (now - this.#noOwnerSince >= NO_OWNER_GIVE_UP_MS) {
        return this.#fail(
          new TransferError(
            "all_owners_failed",
            `Cannot finish ${this.#name}: every owner failed or left; ${engine.verifiedCount}/${engine.layout.pieceCount} pieces are kept in the .part file for a resume`,
          ),
        );
      }
    } else {
      this.#noOwnerSince = undefined;
    }
    let deadline = earliest(engine.pollTimeout(), cookies.pollTimeout());
    if (live === 0) deadline = Math.min(deadline ?? Infinity, now + RENEED_MS);
    this.#arm(deadline, (t) => {
      engine.handleTimeout(t);
      cookies.handleTimeout(t);
    });
  }

  #openDataSocket(owner: string): void {
    const open = this.#ctx.openDataSocket;
    if (!open || this.#dataSockets.has(owner) || this.#dataSockets.size >= MAX_DATA_SOCKETS) return;
    this.#dataSockets.set(owner, this.#listen(open()));
  }

  #listen(socket: UdpEndpoint): UdpEndpoint {
    socket.onDatagram((bytes, from) => {
      const txid = blockDataTxid(bytes);
      if (txid >= 0) {
        if (txid === this.txid) this.onBlockData(bytes, from);
        return;
      }
      try {
        const msg = decodeMessage(bytes);
        if (msg.type === "error" && msg.txid === this.txid) this.onError(msg.code, msg.text, from);
      } catch {
        // not ours
      }
    });
    return socket;
  }

  #onVerdict(v: PieceVerdict): void {
    const engine = this.#engine;
    if (!engine || this.#failure !== undefined) return;
    if (v.error) {
      return this.#fail(
        new TransferError(
          "disk",
          `Cannot write ${this.#name}: ${v.error.message} (${v.error.code}); verified pieces are kept in the .part file for a resume`,
        ),
      );
    }
    if (v.ok) this.#part!.markVerified(v.index);
    const now = performance.now();
    engine.handleVerified(v.index, v.ok, now, v.buffer);
    this.#pump(now);
  }

  #reNeed(now: number): void {
    if (this.#needing || now - this.#lastNeed < RENEED_MS || !this.#contentId) return;
    this.#needing = true;
    this.#lastNeed = now;
    this.#ctx.need({ kind: "content", contentId: this.#contentId }, this.#ctx.maxOwners).then(
      (reply) => {
        const engine = this.#engine;
        if (!engine || this.#phase !== "transfer") return;
        const fresh = reply.owners.filter((o) =>
          !engine.isBanned(o.nodeId) && !engine.liveOwners.includes(o.nodeId)
        );
        const now = performance.now();
        for (const o of fresh) {
          this.#addOwners([o]); // new, or a dropped owner that came back on another port
          if (!this.#cookies.has(o.nodeId)) {
            this.#cookies.add(o.nodeId, now); // added to the engine once it answers the PROBE
          } else if (engine.addOwner(o.nodeId, now)) {
            this.#openDataSocket(o.nodeId);
            this.#ctx.log(`added owner ${o.nodeId} from the tracker`);
          }
        }
      },
    ).catch((e) =>
      this.#ctx.log(
        `re-asking the tracker for owners failed: ${e instanceof Error ? e.message : e}`,
      )
    )
      .finally(() => {
        this.#needing = false;
        this.#pump(performance.now());
      });
  }

  #arm(deadline: number | undefined, onFire: (now: number) => void): void {
    if (deadline === undefined) return this.#clearTimer();
    if (this.#timer !== undefined && this.#timerAt <= deadline) return;
    this.#clearTimer();
    this.#timerAt = deadline;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      const now = performance.now();
      try {
        onFire(now);
      } catch (e) {
        return this.#fail(e);
      }
      this.#pump(now);
    }, Math.max(0, deadline - performance.now()));
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  #startProgress(): void {
    this.#rateAt = performance.now();
    this.#progressTimer = setInterval(() => this.#emitProgress(), PROGRESS_MS);
  }

  #emitProgress(): void {
    const now = performance.now();
    const dt = (now - this.#rateAt) / 1000;
    if (dt > 0) {
      const inst = this.#rateBytes / dt;
      this.#rate = this.#rate === 0 ? inst : 0.7 * this.#rate + 0.3 * inst;
      this.#rateBytes = 0;
      this.#rateAt = now;
    }
    const e = this.#engine;
    const p: DownloadProgress = {
      name: this.#name,
      contentId: this.#contentIdHex,
      size: this.#size,
      verifiedBytes: e?.stats.verifiedBytes ?? 0,
      resumedBytes: e?.resumedBytes ?? 0,
      receivedBytes: e?.stats.receivedBytes ?? 0,
      rate: this.#rate,
      owners: e ? e.liveOwners : [...this.#addrByOwner.keys()],
      retransmits: e?.stats.retransmits ?? 0,
      badPieces: e?.stats.badPieces ?? 0,
    };
    this.#progress = p;
    for (const l of this.#listeners) {
      try {
        l(p);
      } catch {
        // a listener's failure is not the download's
      }
    }
  }
}

/** The earlier of two deadlines, either of which may be absent. */
function earliest(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}

/**
 * True when `path` exists. A path that cannot be checked (a component is a regular file, no
 * permission, …) is a {@link TransferError}, not a raw `Deno.errors.*` escaping `done`.
 */
async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw diskError(
      `Cannot save to ${path}`,
      e,
      "check that the output directory exists and is writable",
    );
  }
}
