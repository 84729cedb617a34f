/**
 * UploadSlots: how many requesters an uploader serves at once and which (tit-for-tat, turns, the
 * optimistic slot). Pure: virtual time, injected randomness and credit.
 * @module
 */
import assert from "node:assert/strict";
import { UploadSlots } from "../../lib/peer/core/upload_slots.ts";
import { Prng } from "../../lib/sim/prng.ts";

const none = { permissions: "none" } as const;

Deno.test("UploadSlots.admit() serves everybody while requesters fit the slots", none, () => {
  const slots = new UploadSlots({ slots: 4 });
  for (let t = 0; t < 5_000; t += 10) {
    for (let i = 0; i < 5; i++) assert.ok(slots.admit(`h${i}|1`, `h${i}`, t), `h${i} at ${t}`);
  }
  assert.equal(slots.stats.choked, 0);
});

Deno.test("UploadSlots.admit() chokes beyond the slots and frees an idle holder's", none, () => {
  const slots = new UploadSlots({ slots: 1, idleMs: 600 });
  assert.ok(slots.admit("a|1", "a", 0));
  assert.ok(slots.admit("b|1", "b", 0)); // the optimistic slot
  assert.equal(slots.admit("c|1", "c", 10), false);
  assert.ok(slots.admit("a|1", "a", 500));
  assert.ok(slots.admit("c|1", "c", 700), "b asked nothing for 700 ms: c takes its slot");
  assert.equal(slots.holders, 2);
});

Deno.test("UploadSlots: turns rotate a seed's slots over every waiting requester", none, () => {
  const prng = new Prng(3);
  const slots = new UploadSlots({ slots: 2, random: () => prng.next() });
  const served = new Map<string, number>();
  // 12 requesters ask every 50 ms for 10 s; each admitted request is 64 KiB
  for (let t = 0; t < 10_000; t += 50) {
    for (let i = 0; i < 12; i++) {
      const key = `h${i}|1`;
      if (slots.admit(key, `h${i}`, t + i)) {
        slots.noteServed(key, 65_536);
        served.set(key, (served.get(key) ?? 0) + 65_536);
      }
    }
  }
  assert.equal(served.size, 12, "every requester had a turn");
  const bytes = [...served.values()];
  // within 4×: the optimistic slot stays 3 s with whoever it picked
  assert.ok(
    Math.min(...bytes) >= Math.max(...bytes) / 4,
    `shares within 4×: ${bytes.map((b) => b >> 16).join(" ")}`,
  );
});

Deno.test(
  "UploadSlots: a host that gives us bytes is served more than a free-rider, who still gets turns",
  none,
  () => {
    const prng = new Prng(7);
    const given = new Map<string, number>();
    const slots = new UploadSlots({
      slots: 4,
      random: () => prng.next(),
      creditOf: (host) => given.get(host) ?? 0,
    });
    const served = new Map<string, number>();
    // h0..h4 upload to us steadily; h5..h9 never do (free-riders)
    for (let t = 0; t < 20_000; t += 50) {
      for (let i = 0; i < 5; i++) given.set(`h${i}`, (given.get(`h${i}`) ?? 0) + 30_000);
      for (let i = 0; i < 10; i++) {
        const key = `h${i}|1`;
        if (slots.admit(key, `h${i}`, t + i)) {
          slots.noteServed(key, 65_536);
          served.set(`h${i}`, (served.get(`h${i}`) ?? 0) + 65_536);
        }
      }
    }
    const contributors = [0, 1, 2, 3, 4].map((i) => served.get(`h${i}`) ?? 0);
    const riders = [5, 6, 7, 8, 9].map((i) => served.get(`h${i}`) ?? 0);
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    assert.ok(
      sum(contributors) > 1.5 * sum(riders),
      `contributors ${sum(contributors) >> 20} MiB, free-riders ${sum(riders) >> 20} MiB`,
    );
    for (const r of riders) assert.ok(r > 0, "a free-rider is not starved: it gets turns");
  },
);

Deno.test(
  "UploadSlots: a newcomer is served within a few rechokes while long-time requesters hold the slots",
  none,
  () => {
    const prng = new Prng(11);
    const given = new Map<string, number>();
    const slots = new UploadSlots({
      slots: 2,
      random: () => prng.next(),
      creditOf: (host) => given.get(host) ?? 0,
    });
    let firstServed: number | undefined;
    for (let t = 0; t < 20_000 && firstServed === undefined; t += 50) {
      // Four peers with credit ask all the time; the newcomer arrives at 5 s
      for (let i = 0; i < 4; i++) {
        given.set(`h${i}`, (given.get(`h${i}`) ?? 0) + 50_000);
        if (slots.admit(`h${i}|1`, `h${i}`, t)) slots.noteServed(`h${i}|1`, 65_536);
      }
      if (t >= 5_000 && slots.admit("new|1", "new", t + 1)) firstServed = t;
    }
    assert.ok(firstServed !== undefined, "the newcomer was served");
    assert.ok(firstServed - 5_000 <= 3_000, `served ${firstServed - 5_000} ms after it arrived`);
  },
);

Deno.test(
  "UploadSlots.offer() is true only for a requester that holds or takes a slot",
  none,
  () => {
    const slots = new UploadSlots({ slots: 1, idleMs: 600 });
    assert.ok(slots.offer("a|1", "a", 0), "a free regular slot: a takes it");
    assert.ok(slots.offer("b|1", "b", 0), "the optimistic slot: b takes it");
    assert.equal(slots.offer("c|1", "c", 10), false, "no slot for c: no offer");
    assert.equal(slots.stats.offersRefused, 1);
    assert.equal(slots.stats.choked, 0, "a refused offer is not a choke");
    assert.ok(slots.admit("a|1", "a", 20), "a's block request is served in its slot");
    assert.ok(slots.offer("a|1", "a", 30), "a holder gets its next offer");
  },
);

Deno.test(
  "UploadSlots: a free regular slot waits for a requester that gave us bytes, not a free-rider",
  none,
  () => {
    const given = new Map<string, number>([["g1", 1_000_000], ["g2", 500_000]]);
    const slots = new UploadSlots({
      slots: 1,
      idleMs: 600,
      holdIdleMs: 200,
      creditOf: (host) => given.get(host) ?? 0,
      random: () => 0.1,
    });
    assert.ok(slots.admit("g1|1", "g1", 0), "g1 takes the regular slot");
    assert.ok(slots.admit("b|1", "b", 0), "b takes the optimistic slot");
    assert.equal(slots.admit("g2|1", "g2", 5), false, "g2 is choked");
    // The rechoke at 250 ms keeps g1 (more credit) and b; g2 waits, retrying
    for (let t = 250; t <= 300; t += 50) {
      assert.ok(slots.admit("g1|1", "g1", t));
      assert.ok(slots.admit("b|1", "b", t));
    }
    assert.equal(slots.admit("g2|1", "g2", 300), false, "g2 is still choked");
    assert.ok(slots.admit("b|1", "b", 500));
    // g1 stopped asking at 300 ms: its slot is free at 520 ms, and the free-rider asks first
    assert.equal(slots.admit("free|1", "free", 520), false, "kept for g2, who gave us bytes");
    assert.ok(slots.admit("g2|1", "g2", 540), "g2 takes it on its retry");
  },
);

/**
 * One regular slot and the optimistic one, held by a and b; c waits and the rechoke at 500 ms
 * chooses it. Returns whether a's request at `t` is still served.
 */
function holderAfterTurn(
  t: number,
  request: { endsPiece: boolean; pieceSize?: number; owed?: boolean; served?: number },
): boolean {
  const slots = new UploadSlots({ slots: 1, idleMs: 600, random: () => 0.5 });
  assert.ok(slots.admit("a|1", "a", 0, false, request.pieceSize ?? 0, request.owed ?? false));
  assert.ok(slots.admit("b|1", "b", 0));
  if (request.served) slots.noteServed("a|1", request.served);
  for (let s = 10; s < t; s += 100) {
    slots.admit("c|1", "c", s);
    slots.admit("b|1", "b", s);
    if (slots.admit("a|1", "a", s, false, request.pieceSize ?? 0, request.owed ?? false)) {
      slots.noteServed("a|1", 10_000); // a is served most lately: the turn goes to c
    }
  }
  return slots.admit("a|1", "a", t, request.endsPiece, request.pieceSize ?? 0, request.owed);
}

Deno.test(
  "UploadSlots: a holder mid-piece keeps its slot for 4 turns, then only while the piece took under 2 pieces' bytes",
  none,
  () => {
    assert.ok(holderAfterTurn(1_500, { endsPiece: false }), "mid-piece within 4 × turnMs");
    assert.equal(holderAfterTurn(2_010, { endsPiece: false }), false, "past 4 turns: choked");
    const ps = 262_144;
    assert.ok(
      holderAfterTurn(2_010, { endsPiece: false, pieceSize: ps, served: ps }),
      "a slow piece (one piece's bytes so far) keeps the slot past 4 turns",
    );
    assert.equal(
      holderAfterTurn(2_010, { endsPiece: false, pieceSize: ps, served: 2 * ps }),
      false,
      "a request stream that never ends a piece is cut after 2 pieces' bytes",
    );
  },
);

Deno.test(
  "UploadSlots: a holder the seed owes the rest of an offered piece keeps its slot",
  none,
  () => {
    assert.equal(holderAfterTurn(2_010, { endsPiece: true }), false, "between pieces: choked");
    assert.ok(holderAfterTurn(2_010, { endsPiece: true, owed: true }), "owed a piece: kept");
  },
);
