/**
 * LIST through the Dispatcher: the session-cookie check, pattern kinds, the sort order,
 * pagination with a cursor, the byte budget of a LISTING, refusals sized for unproven sources,
 * the rate limit, and the log event. The pattern matcher and the snapshot have their own tests
 * (name_pattern_test.ts, file_listing_test.ts).
 * @module
 */
import assert from "node:assert/strict";
import { encodeMessage } from "../../lib/wire/codec.ts";
import { toHex } from "../../lib/wire/hex.ts";
import { SAFE_DATAGRAM } from "../../lib/wire/limits.ts";
import {
  ErrorCode,
  type ListingMessage,
  type ListMatch,
  type Message,
} from "../../lib/wire/messages.ts";
import { bigints, cid, Harness, src } from "./_registry_harness.ts";

const none = { permissions: "none" } as const;

function list(
  h: Harness,
  nodeId: string,
  pattern: string,
  match: ListMatch = "substring",
  cursor = 0,
  maxEntries = 0,
): ListingMessage {
  const r = h.request(nodeId, { type: "list", pattern, match, cursor, maxEntries });
  if (r?.type !== "listing") {
    throw new Error(`expected a LISTING, got ${JSON.stringify(r, bigints)}`);
  }
  assert.ok(h.lastReplySize <= SAFE_DATAGRAM, `LISTING of ${h.lastReplySize} bytes`);
  return r;
}

/** Every entry of a listing, page by page; the number of pages. */
function listAll(
  h: Harness,
  nodeId: string,
  { pattern, match = "substring", maxEntries = 0 }: {
    pattern: string;
    match?: ListMatch;
    maxEntries?: number;
  },
): { names: string[]; pages: number; totals: number[] } {
  const names: string[] = [];
  const totals: number[] = [];
  let cursor = 0, pages = 0;
  do {
    const page = list(h, nodeId, pattern, match, cursor, maxEntries);
    pages++;
    totals.push(page.total);
    names.push(...page.entries.map((e) => e.name));
    cursor = page.nextCursor;
  } while (cursor !== 0 && pages < 1000);
  return { names, pages, totals };
}

Deno.test("Dispatcher answers LIST with the matching files, sorted by name", none, () => {
  const h = Harness.withPeer("a");
  h.register("b", src(2));
  h.own("a", "Movie.MKV", cid(1), 700);
  h.own("a", "notes.txt", cid(2), 5);
  h.own("b", "movie.mkv", cid(3), 800);
  h.own("b", "Movie.MKV", cid(1), 700); // a second owner of the same content
  const all = list(h, "a", "");
  assert.deepEqual(all.entries.map((e) => [e.name, e.size, e.owners]), [
    ["Movie.MKV", 700, 2],
    ["movie.mkv", 800, 1],
    ["notes.txt", 5, 1],
  ]);
  assert.equal(toHex(all.entries[0]!.contentId), toHex(cid(1)));
  assert.equal(all.total, 3);
  assert.equal(all.nextCursor, 0, "one page holds them all");
  assert.deepEqual(list(h, "a", "MOVIE").entries.map((e) => e.name), ["Movie.MKV", "movie.mkv"]);
  assert.deepEqual(list(h, "a", "*.txt", "glob").entries.map((e) => e.name), ["notes.txt"]);
  assert.deepEqual(list(h, "a", "m?vie.*", "glob").entries.map((e) => e.size), [700, 800]);
  assert.deepEqual(list(h, "a", "movie.mkv", "exact").entries.map((e) => e.size), [800]);
  assert.deepEqual(list(h, "a", "*.iso", "glob"), {
    type: "listing",
    txid: h.txid - 1,
    total: 0,
    nextCursor: 0,
    entries: [],
  });
  assert.equal(h.reg.counters.lists, 6);
});

Deno.test("Dispatcher lists every content announced under one name, by content id", none, () => {
  const h = Harness.withPeer("honest");
  h.own("honest", "f16.bin", cid(9), 1000);
  for (let i = 0; i < 2; i++) {
    h.register(`fake${i}`, src(10 + i));
    h.own(`fake${i}`, "f16.bin", cid(1), 666);
  }
  const need = h.need("honest", "f16.bin");
  assert.ok(need?.type === "owners" && need.alternatives === 1, "NEED reports an alternative");
  const r = list(h, "honest", "f16.bin", "exact");
  assert.deepEqual(
    r.entries.map((e) => [toHex(e.contentId), e.size, e.owners]),
    [[toHex(cid(1)), 666, 2], [toHex(cid(9)), 1000, 1]],
  );
  // Exact listings read the live index: a content announced a moment ago is there at once.
  h.register("late", src(20));
  h.own("late", "f16.bin", cid(5), 5);
  assert.equal(list(h, "honest", "f16.bin", "exact").total, 3);
});

Deno.test(
  "Dispatcher pages a long listing with a cursor, each page within 1,200 bytes",
  none,
  () => {
    const h = Harness.withPeer("a", undefined, {
      limits: { maxFilesPerPeer: 2000, burst: 10_000 },
    });
    const expected: string[] = [];
    for (let i = 0; i < 300; i++) {
      const name = `file-${String(i).padStart(4, "0")}-${"x".repeat(i % 200)}.bin`;
      h.own("a", name, cid(i + 1), i);
      expected.push(name);
    }
    h.advance(1000); // past the snapshot's refresh interval
    const { names, pages, totals } = listAll(h, "a", { pattern: "file-" });
    assert.deepEqual(names, expected.sort());
    assert.ok(pages > 20, `${pages} pages`);
    assert.ok(totals.every((t) => t === 300));
    // maxEntries caps a page (long names fill a page before that).
    assert.equal(list(h, "a", "", "substring", 0, 7).entries.length, 7);
    const small = listAll(h, "a", { pattern: "", maxEntries: 7 });
    assert.deepEqual(small.names, names);
    assert.ok(small.pages >= Math.ceil(300 / 7) && small.pages > pages);
    // A cursor past the end is an empty last page.
    assert.deepEqual(list(h, "a", "", "substring", 5000).entries, []);
  },
);

Deno.test("Dispatcher fits at least one entry with a 255-byte name in a LISTING", none, () => {
  const h = Harness.withPeer("a");
  for (let i = 0; i < 10; i++) h.own("a", String(i) + "é".repeat(127), cid(i + 1));
  const { names, pages } = listAll(h, "a", { pattern: "" });
  assert.equal(names.length, 10);
  assert.equal(pages, 4, "three 300-byte entries per page");
});

Deno.test(
  "Dispatcher refuses LIST from an unproven source with an ERROR no larger than the LIST",
  none,
  () => {
    const h = Harness.withPeer("a", "secret-plans.pdf");
    const cookie = h.cookies.get("a")!;
    const tries: [string, bigint, number][] = [
      ["a", 0n, 1], // no cookie
      ["a", 12345n, 1], // a wrong cookie from the right address
      ["a", cookie, 2], // the right cookie from another port (spoofed source)
      ["nobody", cookie, 1], // an unknown node id
    ];
    for (const [nodeId, c, port] of tries) {
      const msg: Message = {
        type: "list",
        txid: 77,
        cookie: c,
        nodeId,
        cursor: 0,
        maxEntries: 0,
        match: "substring",
        pattern: "",
      };
      const r = h.send(msg, src(port));
      assert.equal(r?.type, "error", `${nodeId} ${c} from port ${port}`);
      assert.ok(
        h.lastReplySize <= h.lastRequestSize,
        `ERROR of ${h.lastReplySize} bytes to a LIST of ${h.lastRequestSize}`,
      );
    }
    const challenge = h.send({ type: "register", txid: 1, cookie: 0n, nodeId: "a" }, src(1));
    assert.ok(challenge?.type === "registered");
    const r = h.request("a", {
      type: "list",
      pattern: "",
      match: "glob",
      cursor: 0,
      maxEntries: 0,
    });
    assert.equal(r?.type, "listing", "the session cookie still works");
    const withChallenge = h.send({
      type: "list",
      txid: 2,
      cookie: challenge.cookie,
      nodeId: "a",
      cursor: 0,
      maxEntries: 0,
      match: "substring",
      pattern: "",
    }, src(1));
    assert.ok(withChallenge?.type === "error" && withChallenge.code === ErrorCode.bad_cookie);
    assert.equal(h.reg.counters.lists, 1);
  },
);

Deno.test("Dispatcher rate-limits LIST like every request", none, () => {
  const h = new Harness({ limits: { requestsPerSecond: 10, burst: 5 } });
  h.register("a", src(1)); // 2 tokens
  h.own("a", "f", cid(1)); // 1 token
  let listings = 0, errors = 0, silent = 0;
  for (let i = 0; i < 20; i++) {
    const bytes = encodeMessage({
      type: "list",
      txid: i,
      cookie: h.cookies.get("a")!,
      nodeId: "a",
      cursor: 0,
      maxEntries: 0,
      match: "substring",
      pattern: "",
    });
    const r = h.raw(bytes, src(1));
    if (r?.type === "listing") listings++;
    else if (r?.type === "error" && r.code === ErrorCode.rate_limited) errors++;
    else if (r === undefined) silent++;
  }
  assert.deepEqual({ listings, errors, silent }, { listings: 2, errors: 1, silent: 17 });
});

Deno.test("Dispatcher logs each LIST with its pattern and what it returned", none, () => {
  const h = Harness.withPeer("a", "x.iso");
  h.events();
  list(h, "a", '*.iso"\n', "glob");
  list(h, "a", "x", "substring");
  const lists = h.events().filter((e) => e.type === "list");
  assert.deepEqual(lists, [
    {
      type: "list",
      nodeId: "a",
      match: "glob",
      pattern: '*.iso"\n',
      cursor: 0,
      returned: 0,
      total: 0,
    },
    {
      type: "list",
      nodeId: "a",
      match: "substring",
      pattern: "x",
      cursor: 0,
      returned: 1,
      total: 1,
    },
  ]);
});
