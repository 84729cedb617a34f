/**
 * ManifestRepeats: a crowded owner answers a requester's manifest slice at most once per
 * MANIFEST_REPEAT_MS; below the crowd, every request is answered (a lone download on a lossy path
 * re-asks a lost slice after three round trips).
 * @module
 */
import assert from "node:assert/strict";
import {
  MANIFEST_CROWD,
  MANIFEST_CROWD_SERVED,
  MANIFEST_CROWD_WINDOW_MS,
  MANIFEST_REPEAT_MS,
  ManifestRepeats,
} from "../../lib/peer/core/manifest_repeats.ts";

const none = { permissions: "none" } as const;
const host = (i: number) => `10.0.2.${i}|7000`;
/** Asks, and sends the slice when told to (what UploadRules does when the rate limits admit it). */
function ask(r: ManifestRepeats, who: string, content: string, offset: number, now: number) {
  const yes = r.answer(who, content, offset, now);
  if (yes) r.answered(who, content, offset, now);
  return yes;
}

Deno.test("ManifestRepeats: below the crowd every repeat is answered", none, () => {
  const r = new ManifestRepeats();
  for (let i = 0; i < MANIFEST_CROWD; i++) assert.ok(ask(r, host(i), "f", 0, i));
  for (let t = 10; t < 40; t += 3) assert.ok(ask(r, host(0), "f", 0, t), `repeat at ${t} ms`);
  assert.equal(r.crowd, MANIFEST_CROWD);
});

Deno.test("ManifestRepeats: in a crowd a slice goes to a requester once per 100 ms", none, () => {
  const r = new ManifestRepeats();
  for (let i = 0; i <= MANIFEST_CROWD; i++) assert.ok(ask(r, host(i), "f", 0, 0));
  assert.equal(ask(r, host(0), "f", 0, 12), false, "a repeat 12 ms later");
  assert.equal(ask(r, host(0), "f", 0, MANIFEST_REPEAT_MS - 1), false);
  assert.ok(ask(r, host(0), "f", 0, MANIFEST_REPEAT_MS), "after 100 ms");
  // Another slice, another content, another port: not repeats
  assert.ok(ask(r, host(1), "f", 1400, 20));
  assert.ok(ask(r, host(1), "g", 0, 20));
  assert.ok(ask(r, "10.0.2.1|7001", "f", 0, 20));
  // The crowd ends once its requests are a window old: repeats are answered again
  const later = MANIFEST_CROWD_WINDOW_MS + 200;
  assert.ok(ask(r, host(0), "f", 0, later));
  assert.ok(ask(r, host(0), "f", 0, later + 5));
  assert.equal(r.crowd, 1);
});

Deno.test("ManifestRepeats: memory stays bounded under many requesters", none, () => {
  const r = new ManifestRepeats();
  for (let i = 0; i < 10_000; i++) ask(r, `10.${i >> 8}.${i & 255}.1|7000`, "f", 0, 0);
  assert.ok(r.crowd <= 4096);
});

Deno.test(
  "ManifestRepeats: a slice not sent (rate-limited) does not hold the retry back",
  none,
  () => {
    const r = new ManifestRepeats();
    for (let i = 1; i <= MANIFEST_CROWD; i++) ask(r, host(i), "f", 0, 0);
    // In a crowd: requester 0 is told yes, but the rate limiter refuses the answer (not sent)
    assert.ok(r.answer(host(0), "f", 0, 0));
    assert.ok(r.crowd > MANIFEST_CROWD);
    assert.ok(r.answer(host(0), "f", 0, 12), "its retry 12 ms later is answered");
    r.answered(host(0), "f", 0, 12);
    assert.equal(r.answer(host(0), "f", 0, 30), false, "a repeat after an answer sent is held");
  },
);

Deno.test(
  "ManifestRepeats: in a crowd, manifests go to MANIFEST_CROWD_SERVED requesters a second, busy to the rest",
  none,
  () => {
    const r = new ManifestRepeats();
    // Below the crowd nobody is deferred
    for (let i = 0; i < MANIFEST_CROWD; i++) {
      assert.ok(ask(r, host(i), "f", 0, 0));
      assert.equal(r.defer(host(i), 0), false);
    }
    // A crowd, but fewer than MANIFEST_CROWD_SERVED served this second: new requesters are served
    assert.ok(MANIFEST_CROWD_SERVED > MANIFEST_CROWD);
    for (let i = MANIFEST_CROWD; i < MANIFEST_CROWD_SERVED; i++) {
      assert.ok(r.answer(host(i), "f", 0, 1));
      assert.equal(r.defer(host(i), 1), false, `requester ${i} of the crowd`);
      r.answered(host(i), "f", 0, 1);
    }
    assert.ok(r.crowd > MANIFEST_CROWD);
    // The crowd: a new requester is told busy while MANIFEST_CROWD_SERVED were served this second…
    assert.ok(r.answer(host(100), "f", 0, 5));
    assert.equal(r.defer(host(100), 5), true);
    // …a requester already served gets the rest of its manifest
    assert.ok(r.answer(host(3), "f", 1400, 6));
    assert.equal(r.defer(host(3), 6), false);
    // A second later the served ones are forgotten: the next requesters are served
    const later = MANIFEST_CROWD_WINDOW_MS + 10;
    for (let i = 100; i < 100 + MANIFEST_CROWD + 1; i++) r.answer(host(i), "f", 0, later);
    assert.equal(r.defer(host(100), later), false);
    r.answered(host(100), "f", 0, later);
  },
);
