/** FileListing: the snapshot's refresh interval, entries that left the index, the byte budget. */
import assert from "node:assert/strict";
import { FileIndex, type FileOwner, type Ownership } from "../../lib/tracker/file_index.ts";
import { FileListing, type ListQuery } from "../../lib/tracker/file_listing.ts";
import { toHex } from "../../lib/wire/hex.ts";
import { LISTING_ENTRY_BASE_SIZE, LISTING_HEADER_SIZE } from "../../lib/wire/limits.ts";

const none = { permissions: "none" } as const;

interface Owner extends FileOwner<Owner> {}

function owner(nodeId: string): Owner {
  return { nodeId, rateKey: 0, files: new Map(), names: new Map<string, Ownership<Owner>>() };
}

function id(n: number): Uint8Array {
  return new Uint8Array(32).fill(n);
}

function setup() {
  const index = new FileIndex<Owner>({ rateTauMs: 60_000, random: () => 0.5 });
  const a = owner("a");
  const own = (name: string, n: number, who = a) => index.own(who, name, id(n), toHex(id(n)), n, 0);
  return { index, a, own, listing: new FileListing(index, { refreshMs: 1000 }) };
}

const all: ListQuery = { pattern: "", match: "substring", cursor: 0, maxEntries: 0 };

Deno.test("FileListing rebuilds its snapshot at most once per refresh interval", none, () => {
  const { listing, own } = setup();
  own("a", 1);
  assert.equal(listing.page(all, 1200, 0).total, 1);
  own("b", 2);
  assert.equal(listing.page(all, 1200, 500).total, 1, "not yet: the snapshot is 500 ms old");
  assert.equal(listing.page(all, 1200, 1000).total, 2);
  assert.equal(listing.page({ ...all, pattern: "b" }, 1200, 1000).total, 1);
});

Deno.test("FileListing skips entries that left the index since the snapshot", none, () => {
  const { listing, own, index, a } = setup();
  own("a", 1);
  own("b", 2);
  own("c", 3);
  assert.equal(listing.page(all, 1200, 0).entries.length, 3);
  index.drop(a, a.names.get("b")!);
  const page = listing.page(all, 1200, 10);
  assert.deepEqual(page.entries.map((e) => e.name), ["a", "c"]);
  assert.equal(page.nextCursor, 0);
});

Deno.test("FileListing lists one entry per (name, content), by name then content id", none, () => {
  const { listing, own } = setup();
  const b = owner("b");
  own("same", 9);
  own("same", 3, b);
  own("other", 9, b); // content 9 under a second name
  const page = listing.page(all, 1200, 0);
  assert.deepEqual(page.entries.map((e) => [e.name, e.size, e.owners]), [
    ["other", 9, 2],
    ["same", 3, 1],
    ["same", 9, 2],
  ]);
});

Deno.test("FileListing never exceeds the byte budget and says where to go on", none, () => {
  const { listing, own } = setup();
  for (let i = 1; i <= 5; i++) own(`n${i}`, i);
  const entry = LISTING_ENTRY_BASE_SIZE + 2;
  const budget = LISTING_HEADER_SIZE + 2 * entry;
  const first = listing.page(all, budget, 0);
  assert.equal(first.entries.length, 2);
  assert.equal(first.nextCursor, 2);
  const second = listing.page({ ...all, cursor: 2 }, budget + entry - 1, 0);
  assert.equal(second.entries.length, 2, "one byte short of a third entry");
  assert.equal(second.nextCursor, 4);
});
