/**
 * SwarmRules' super-seeding count: who counts as downloading at once (a farewell with every bit
 * set, a requester gone quiet for ASKER_IDLE_MS, the window); what is owed; resent requests.
 * @module
 */
import assert from "node:assert/strict";
import {
  ASKER_IDLE_MS,
  RESEND_MS,
  SwarmRules,
  type SwarmRulesOptions,
} from "../../lib/peer/core/swarm_rules.ts";
import type { BitfieldMessage } from "../../lib/wire/messages.ts";

const PIECES = 32;

function request(bits: Uint8Array): BitfieldMessage {
  return {
    type: "bitfield",
    txid: 1,
    cookie: 0n,
    contentId: new Uint8Array(32),
    reply: false,
    offer: false,
    pieceCount: PIECES,
    firstPiece: 0,
    bits,
  };
}

const none = () => request(new Uint8Array(PIECES / 8));
const all = () => request(new Uint8Array(PIECES / 8).fill(0xff));
const at = (port: number): Deno.NetAddr => ({ transport: "udp", hostname: "10.0.0.2", port });

function rules(options: Partial<SwarmRulesOptions> = {}): SwarmRules {
  return new SwarmRules({
    pieceCount: PIECES,
    superSeed: true,
    windowMs: 10_000,
    random: () => 0,
    ...options,
  });
}

Deno.test(
  "SwarmRules: a second requester in the window gets an offer",
  { permissions: "none" },
  () => {
    const r = rules();
    assert.equal(r.answer(none(), undefined, at(1), 0).offer, false);
    assert.equal(r.answer(none(), undefined, at(2), 100).offer, true);
  },
);

Deno.test("SwarmRules: a requester that says it has every piece stops counting at once", {
  permissions: "none",
}, () => {
  const r = rules();
  r.answer(none(), undefined, at(1), 0);
  const farewell = r.answer(all(), undefined, at(1), 50);
  assert.equal(farewell.offer, false);
  assert.deepEqual([...farewell.bits], [0xff, 0xff, 0xff, 0xff]);
  assert.equal(r.answer(none(), undefined, at(2), 100).offer, false);
});

Deno.test("SwarmRules: a requester quiet for ASKER_IDLE_MS stops counting; requests keep it", {
  permissions: "none",
}, () => {
  const r = rules();
  r.answer(none(), undefined, at(1), 0);
  // Block requests (choked or served) keep requester 1 downloading
  r.noteActive(at(1), ASKER_IDLE_MS);
  assert.equal(r.answer(none(), undefined, at(2), ASKER_IDLE_MS + 100).offer, true);
  // Then silence: 1 no longer counts, though it asked within the 10 s window
  assert.equal(r.answer(none(), undefined, at(3), 2 * ASKER_IDLE_MS + 50).offer, true); // 2 and 3
  assert.equal(r.answer(none(), undefined, at(3), 3 * ASKER_IDLE_MS + 300).offer, false);
});

Deno.test("SwarmRules.owes(): an offered piece started and not yet sent in full", {
  permissions: "none",
}, () => {
  const ps = 65_536;
  const r = rules({ size: PIECES * ps, pieceSize: ps });
  r.answer(none(), undefined, at(1), 0);
  const offer = r.answer(none(), undefined, at(2), 10);
  assert.ok(offer.offer);
  const offered = [...Array(PIECES).keys()].filter((i) =>
    (offer.bits[i >> 3]! & (0x80 >> (i & 7))) !== 0
  );
  assert.ok(offered.length > 0);
  const p = offered[0]!;
  assert.equal(r.owes(at(2), 20), false, "offered, not started: nothing owed");
  r.noteRequest([{ offset: p * ps, length: ps / 2 }], ps, at(2), 30);
  assert.ok(r.owes(at(2), 40), "half sent: the rest is owed");
  assert.equal(r.owes(at(1), 40), false, "to the requester it was offered to only");
  assert.equal(r.owes(at(2), 40 + ASKER_IDLE_MS + 1), false, "a quiet requester is owed nothing");
  r.noteRequest([{ offset: p * ps, length: ps / 2 }], ps, at(2), 50);
  r.noteRequest([{ offset: p * ps + ps / 2, length: ps / 2 }], ps, at(2), 60);
  assert.equal(r.owes(at(2), 70), false, "sent in full");
});

Deno.test("SwarmRules: a resent BITFIELD request gets the same offer, not new pieces", {
  permissions: "none",
}, () => {
  let x = 0;
  const r = rules({ random: () => (x = (x + 0.37) % 1) }); // a different start for every offer
  const pieces = (bits: Uint8Array) =>
    [...Array(PIECES).keys()].filter((i) => (bits[i >> 3]! & (0x80 >> (i & 7))) !== 0);
  r.answer(none(), undefined, at(1), 0);
  const first = pieces(r.answer(none(), undefined, at(2), 10).bits);
  assert.equal(first.length, 2);
  // The same bits again within RESEND_MS: the reply is still on its way, same pieces
  assert.deepEqual(pieces(r.answer(none(), undefined, at(2), 10 + RESEND_MS).bits), first);
  // The same bits later: a new ask, new pieces (those offered least)
  const later = pieces(r.answer(none(), undefined, at(2), 20 + 2 * RESEND_MS).bits);
  assert.equal(later.length, 2);
  for (const p of later) assert.ok(!first.includes(p), `piece ${p} offered again`);
  // Other bits (it verified a piece meanwhile): a new ask too
  const got = new Uint8Array(PIECES / 8);
  got[first[0]! >> 3]! |= 0x80 >> (first[0]! & 7);
  const after = pieces(r.answer(request(got), undefined, at(2), 30 + 2 * RESEND_MS).bits);
  assert.equal(after.length, 2);
  for (const p of after) assert.ok(!first.includes(p) && !later.includes(p));
  // Another requester with the same bits is no resend
  const other = pieces(r.answer(none(), undefined, at(3), 31 + 2 * RESEND_MS).bits);
  for (const p of other) assert.ok(![...first, ...later, ...after].includes(p));
});
