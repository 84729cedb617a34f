/**
 * SwarmView's renewal of a seed's offers: a used-up offer is renewed after OFFER_GAP_MS, an empty
 * one (no upload slot at the seed yet, in a crowd) after EMPTY_OFFER_GAP_MS.
 * @module
 */
import assert from "node:assert/strict";
import {
  CHECK_MS,
  EMPTY_OFFER_GAP_MS,
  OFFER_GAP_MS,
  SwarmView,
} from "../../lib/peer/core/swarm_view.ts";
import type { DownloadEngine } from "../../lib/peer/core/download_engine.ts";
import type { BitfieldMessage } from "../../lib/wire/messages.ts";

const PIECES = 16;
const contentId = new Uint8Array(32).fill(7);

/** An engine that fetches nothing from the seed: any offer is used up at once. */
const engine = {
  liveOwners: ["seed"],
  swarming: true,
  verified: new Uint8Array(PIECES),
  activePiecesAt: () => 0,
  hasStartable: () => false,
  setAvailability: () => {},
} as unknown as DownloadEngine;

function reply(offered: number[]): BitfieldMessage {
  const bits = new Uint8Array(PIECES / 8);
  for (const p of offered) bits[p >> 3]! |= 0x80 >> (p & 7);
  return {
    type: "bitfield",
    txid: 5,
    cookie: 0n,
    contentId,
    reply: true,
    offer: true,
    pieceCount: PIECES,
    firstPiece: 0,
    bits,
  };
}

/** When the seed is asked again after a reply at `at`: the first poll time with an ask. */
function nextAskAfter(offered: number[]): number {
  const view = new SwarmView({ contentId, pieceCount: PIECES, txid: 5 });
  view.ownerAdded("seed", engine, 0);
  assert.equal(view.pollAsks(0, engine, () => 1n).length, 1);
  const at = 10;
  view.handleBitfield("seed", reply(offered), engine, at);
  for (let t = at; t < at + 10 * EMPTY_OFFER_GAP_MS; t += 1) {
    if (view.pollAsks(t, engine, () => 1n).length > 0) return t - at;
  }
  return Infinity;
}

Deno.test("SwarmView: a used-up offer is renewed after OFFER_GAP_MS, an empty one later", {
  permissions: "none",
}, () => {
  const used = nextAskAfter([3, 4]);
  assert.ok(used >= OFFER_GAP_MS && used <= OFFER_GAP_MS + CHECK_MS, `asked after ${used} ms`);
  const empty = nextAskAfter([]);
  assert.ok(
    empty >= EMPTY_OFFER_GAP_MS && empty <= EMPTY_OFFER_GAP_MS + CHECK_MS,
    `asked after ${empty} ms`,
  );
});
