/** collectFileList(): pages to the end, deduplicates, stops at the limit and on a stuck cursor. */
import assert from "node:assert/strict";
import { collectFileList, listMatchFor } from "../../lib/peer/file_list.ts";
import type { ListingEntry, ListingMessage } from "../../lib/wire/messages.ts";

const none = { permissions: "none" } as const;

function entry(name: string, id = 1): ListingEntry {
  return { contentId: new Uint8Array(32).fill(id), size: 1, owners: 1, name };
}

function pages(...list: [number, ListingEntry[]][]): (cursor: number) => Promise<ListingMessage> {
  const byCursor = new Map<number, ListingMessage>();
  let cursor = 0;
  for (const [next, entries] of list) {
    byCursor.set(cursor, { type: "listing", txid: 1, total: 9, nextCursor: next, entries });
    cursor = next;
  }
  return (c) => Promise.resolve(byCursor.get(c)!);
}

Deno.test(
  "collectFileList() follows the cursor and keeps an entry seen twice once",
  none,
  async () => {
    const r = await collectFileList(
      pages([2, [entry("a"), entry("b")]], [0, [entry("b"), entry("c")]]),
    );
    assert.deepEqual(r.files.map((f) => f.name), ["a", "b", "c"]);
    assert.equal(r.complete, true);
    assert.equal(r.files[0]!.contentId, "01".repeat(32));
  },
);

Deno.test(
  "collectFileList() stops at the limit and says the list is incomplete",
  none,
  async () => {
    const r = await collectFileList(pages([2, [entry("a"), entry("b")]], [0, [entry("c")]]), 2);
    assert.deepEqual(r.files.map((f) => f.name), ["a", "b"]);
    assert.equal(r.complete, false);
    assert.equal(r.total, 9);
  },
);

Deno.test("collectFileList() stops when a tracker's cursor does not move on", none, async () => {
  let calls = 0;
  const r = await collectFileList((_cursor) => {
    calls++;
    return Promise.resolve({ type: "listing", txid: 1, total: 5, nextCursor: 3, entries: [] });
  });
  assert.equal(calls, 2, "page 0, then page 3 pointing at itself");
  assert.equal(r.complete, false);
});

Deno.test("listMatchFor() reads * and ? as a glob", none, () => {
  assert.equal(listMatchFor("*.iso"), "glob");
  assert.equal(listMatchFor("a?c"), "glob");
  assert.equal(listMatchFor("iso"), "substring");
});
