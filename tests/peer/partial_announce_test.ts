/**
 * PartialAnnounce: when a download that serves its verified pieces announces itself (OWN with
 * progress). Pure rules on a given clock.
 * @module
 */
import assert from "node:assert/strict";
import { PartialAnnounce } from "../../lib/peer/core/partial_announce.ts";

const none = { permissions: "none" } as const;

Deno.test(
  "PartialAnnounce: a download is announced with nothing yet as soon as its part opens",
  none,
  () => {
    const a = new PartialAnnounce({ pieces: 10, everyMs: 2000 });
    assert.deepEqual(a.due(0, 0), { have: 0, pieces: 10 });
    assert.equal(a.due(0, 5000), undefined, "nothing yet is said once");
    // The first piece at once, though the last announcement was just now
    assert.deepEqual(a.due(1, 10), { have: 1, pieces: 10 });
    assert.equal(a.due(2, 500), undefined, "later counts at most every 2 s");
    assert.deepEqual(a.due(3, 2010), { have: 3, pieces: 10 });
    assert.equal(a.due(3, 9000), undefined, "an unchanged count is not sent again");
    assert.equal(a.due(10, 9000), undefined, "a complete download is announced by a plain OWN");
  },
);

Deno.test(
  "PartialAnnounce: with early off, nothing is announced before the first piece",
  none,
  () => {
    const a = new PartialAnnounce({ pieces: 10, everyMs: 2000, early: false });
    assert.equal(a.due(0, 0), undefined);
    assert.deepEqual(a.due(1, 10), { have: 1, pieces: 10 });
    assert.equal(a.due(2, 100), undefined);
    assert.equal(a.announcedAt, 10);
  },
);
