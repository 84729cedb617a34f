/** FileListing: the snapshot's refresh interval, entries that left the index, the byte budget. */
import assert from "node:assert/strict";
import { MemoryStore } from "../../lib/tracker/store/memory_store.ts";
import { FileListing, type ListingPage, type ListQuery } from "../../lib/tracker/file_listing.ts";
import { toHex } from "../../lib/wire/hex.ts";
import { LISTING_ENTRY_BASE_SIZE, LISTING_HEADER_SIZE } from "../../lib/wire/limits.ts";

const none = { permissions: "none" } as const;

function id(n: number): Uint8Array {
  return new Uint8Array(32).fill(n);
}

/** A memory store whose peers register on first use and share at most 10,000 files each. */
function storeWithOwners() {
  const index = new MemoryStore({ random: () => 0.5 });
  const from = (who: string) => ({ hostname: "127.0.0.1", port: 1000 + who.charCodeAt(0) });
  const own = (name: string, n: number, who = "a") => {
    if (index.peerIndex(who) < 0) index.join(who, from(who), 0, 100);
    index.own(who, from(who), 0, name, toHex(id(n)), n, 10_000);
  };
  const drop = (who: string) => index.exit(who, from(who));
  return { index, own, drop };
}

function setup() {
  const { index, own, drop } = storeWithOwners();
  return { index, own, drop, listing: new FileListing(index, { refreshMs: 1000 }) };
}

function ok(page: ListingPage | "busy"): ListingPage {
  assert.notEqual(page, "busy");
  return page as ListingPage;
}

const all: ListQuery = { pattern: "", match: "substring", cursor: 0, maxEntries: 0 };

Deno.test("FileListing rebuilds its snapshot at most once per refresh interval", none, () => {
  const { listing, own } = setup();
  own("a", 1);
  assert.equal(ok(listing.page(all, 1200, 0)).total, 1);
  own("b", 2);
  assert.equal(ok(listing.page(all, 1200, 500)).total, 1, "not yet: the snapshot is 500 ms old");
  assert.equal(ok(listing.page(all, 1200, 1000)).total, 2);
  assert.equal(ok(listing.page({ ...all, pattern: "b" }, 1200, 1000)).total, 1);
});

Deno.test("FileListing skips entries that left the index since the snapshot", none, () => {
  const { listing, own, drop } = setup();
  own("a", 1);
  own("b", 2, "b");
  own("c", 3);
  assert.equal(ok(listing.page(all, 1200, 0)).entries.length, 3);
  drop("b");
  const page = ok(listing.page(all, 1200, 10));
  assert.deepEqual(page.entries.map((e) => e.name), ["a", "c"]);
  assert.equal(page.nextCursor, 0);
});

Deno.test("FileListing lists one entry per (name, content), by name then content id", none, () => {
  const { listing, own } = setup();
  own("same", 9);
  own("same", 3, "b");
  own("other", 9, "c"); // content 9 under a second name
  const page = ok(listing.page(all, 1200, 0));
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
  const first = ok(listing.page(all, budget, 0));
  assert.equal(first.entries.length, 2);
  assert.equal(first.nextCursor, 2);
  const second = ok(listing.page({ ...all, cursor: 2 }, budget + entry - 1, 0));
  assert.equal(second.entries.length, 2, "one byte short of a third entry");
  assert.equal(second.nextCursor, 4);
});

Deno.test("FileListing refuses new patterns past its scan budget, not cached ones", none, () => {
  const { index, own } = storeWithOwners();
  for (let i = 1; i <= 100; i++) own(`f${i}`, i);
  const listing = new FileListing(index, { scanPerSecond: 250 });
  const q = (pattern: string, now: number) =>
    listing.page({ ...all, pattern, match: "glob" }, 1200, now);
  assert.notEqual(q("f1*", 0), "busy"); // 100 of 250
  assert.notEqual(q("f2*", 0), "busy"); // 200
  assert.equal(q("f3*", 0), "busy", "a third scan of 100 names would pass 250 per second");
  assert.notEqual(q("f1*", 0), "busy", "a cached pattern costs no scan");
  assert.notEqual(q("f3*", 400), "busy", "100 names' worth refilled after 400 ms");
  assert.notEqual(ok(listing.page({ ...all, pattern: "f7", match: "exact" }, 1200, 400)), "busy");
});

Deno.test("FileListing waits longer between rebuilds of a large snapshot", none, () => {
  const { index, own } = storeWithOwners();
  for (let i = 1; i <= 40; i++) own(`n${i}`, i);
  // 100 ms, plus 1 ms per 0.1 entries: 500 ms for 40 entries.
  const listing = new FileListing(index, { refreshMs: 100, rowsPerRefreshMs: 0.1 });
  assert.equal(ok(listing.page(all, 1200, 0)).total, 40);
  own("n41", 41);
  assert.equal(ok(listing.page(all, 1200, 499)).total, 40);
  assert.equal(ok(listing.page(all, 1200, 500)).total, 41);
});
