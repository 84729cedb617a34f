/**
 * The blocks of one admitted BLOCK_REQUEST, as `UploadRules` plans them and the uploader
 * walks them: the rule that cuts byte ranges into datagram-sized blocks, without allocating.
 * @module
 */
import type { BlockRequestMessage, ByteRange } from "../../wire/messages.ts";
import type { Manifest } from "../manifest.ts";

const NO_ADDR: Deno.NetAddr = { transport: "udp", hostname: "", port: 0 };

/** What {@link BlockPlan.begin} walks. */
export interface BlockPlanStart {
  /** The admitted request: its txid, block size and ranges. */
  request: BlockRequestMessage;
  /** The requester. */
  to: Deno.NetAddr;
  /** The content id in lowercase hex. */
  contentIdHex: string;
  /** The content's manifest: its size and piece size bound every block. */
  manifest: Manifest;
}

/**
 * The BLOCK_DATA datagrams of one admitted BLOCK_REQUEST, walked with {@link next}: each step
 * names one block (`offset`, `length`) of content `contentIdHex`, for `txid`, to `to`. Blocks
 * are `blockSize` bytes and never cross a range's end, a piece boundary or the end of the file.
 *
 * One plan object is reused for every request (so it is only valid until the next call into
 * its `UploadRules`); the walk allocates nothing. Blocks count as sent when the walk moves
 * past them; `UploadRules.handleShortRead` ends a walk without counting the current one.
 *
 * @example Two ranges of a 40 000-byte file in 32 KiB pieces, 16 KiB blocks
 * ```ts
 * import assert from "node:assert/strict";
 * import { BlockPlan } from "./block_plan.ts";
 *
 * const plan = new BlockPlan((p) => assert.equal(p.bytes, 30_000));
 * plan.begin({
 *   request: {
 *     type: "block_request", txid: 1, cookie: 1n, contentId: new Uint8Array(32), blockSize: 16_384,
 *     ranges: [{ offset: 30_000, length: 10_000 }, { offset: 0, length: 20_000 }],
 *   },
 *   to: { transport: "udp", hostname: "192.0.2.1", port: 7 },
 *   contentIdHex: "00",
 *   manifest: { size: 40_000, pieceSize: 32_768, pieceHashes: new Uint8Array(64) },
 * });
 * const blocks: number[][] = [];
 * while (plan.next()) blocks.push([plan.offset, plan.length]);
 * // cut at the piece boundary (32 768) and at the block size
 * assert.deepEqual(blocks, [[30_000, 2_768], [32_768, 7_232], [0, 16_384], [16_384, 3_616]]);
 * ```
 */
export class BlockPlan {
  /** The request's transaction id (echoed in every BLOCK_DATA). */
  txid = 0;
  /** The requester. */
  to: Deno.NetAddr = NO_ADDR;
  /** The content the blocks come from (lowercase hex). */
  contentIdHex = "";
  /** The current block's file offset (valid after {@link next} returned true). */
  offset = 0;
  /** The current block's length in bytes (0 before the first block). */
  length = 0;
  /** File bytes of the blocks walked past so far. */
  bytes = 0;
  /** Blocks walked past so far. */
  blocks = 0;
  #ranges: readonly ByteRange[] = [];
  #range = 0;
  #pos = 0;
  #end = 0;
  #size = 0;
  #pieceSize = 1;
  #blockSize = 1;
  #active = false;
  readonly #onEnd: (plan: BlockPlan) => void;

  /**
   * Creates an idle plan, reused request after request.
   *
   * @param onEnd called once when a walk ends (done, short read or cancelled)
   */
  constructor(onEnd: (plan: BlockPlan) => void) {
    this.#onEnd = onEnd;
  }

  /**
   * Where the current block's byte range ends (exclusive, within the file): the blocks up to it
   * follow each other, so an uploader may read them in one go.
   */
  get rangeEnd(): number {
    return this.#end;
  }

  /** Whether a walk is under way. */
  get active(): boolean {
    return this.#active;
  }

  /**
   * Moves to the next block.
   *
   * @returns true with `offset`/`length` set, or false when every block was walked (or the
   *   plan was ended)
   */
  next(): boolean {
    if (!this.#active) return false;
    if (this.length > 0) {
      this.bytes += this.length;
      this.blocks++;
      this.length = 0;
    }
    while (this.#pos >= this.#end) {
      const r = this.#ranges[this.#range++];
      if (r === undefined) {
        this.end();
        return false;
      }
      this.#pos = r.offset;
      this.#end = Math.min(r.offset + r.length, this.#size);
    }
    const off = this.#pos;
    const pieceEnd = (Math.floor(off / this.#pieceSize) + 1) * this.#pieceSize;
    const stop = Math.min(off + this.#blockSize, this.#end, pieceEnd);
    this.offset = off;
    this.length = stop - off;
    this.#pos = stop;
    return true;
  }

  /**
   * Starts a walk (called by `UploadRules` for a request it admitted).
   *
   * @param start the request, its source, the content id and the manifest
   */
  begin(start: BlockPlanStart): void {
    const { request: msg, manifest } = start;
    this.txid = msg.txid;
    this.to = start.to;
    this.contentIdHex = start.contentIdHex;
    this.offset = 0;
    this.length = 0;
    this.bytes = 0;
    this.blocks = 0;
    this.#ranges = msg.ranges;
    this.#range = 0;
    this.#pos = 0;
    this.#end = 0;
    this.#size = manifest.size;
    this.#pieceSize = manifest.pieceSize;
    this.#blockSize = msg.blockSize;
    this.#active = true;
  }

  /** Ends the walk without counting the current block (no-op when not active). */
  end(): void {
    if (!this.#active) return;
    this.#active = false;
    this.length = 0;
    this.#ranges = [];
    this.#onEnd(this);
  }
}
