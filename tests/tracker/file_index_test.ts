import assert from "node:assert/strict";
import { FileIndex, type FileOwner, type Ownership } from "../../lib/tracker/file_index.ts";
import { addUpload, ZERO_RATE_KEY } from "../../lib/tracker/upload_rate.ts";
import { cid, prng } from "./_registry_harness.ts";
import { toHex } from "../../lib/wire/hex.ts";

const none = { permissions: "none" } as const;
const TAU = 60_000;

interface P extends FileOwner<P> {}

function peer(nodeId: string): P {
  return { nodeId, rateKey: ZERO_RATE_KEY, files: new Map(), names: new Map() };
}

function own(index: FileIndex<P>, p: P, name: string, n: number, now = 0): string | undefined {
  return index.own(p, name, cid(n), toHex(cid(n)), 1000, now);
}

function ranked(index: FileIndex<P>, n: number, asker: P, k = 16): string[] {
  const out: Ownership<P>[] = [];
  const count = index.select(index.get(toHex(cid(n)))!, k, asker, 0, out);
  return out.slice(0, count).map((o) => o.peer.nodeId);
}

Deno.test("FileIndex.own() renames a re-announced content and replaces a changed one", none, () => {
  const index = new FileIndex<P>({ rateTauMs: TAU, random: prng(1) });
  const a = peer("a");
  assert.equal(own(index, a, "f", 1), undefined);
  assert.equal(own(index, a, "g", 1), undefined, "same content, new name: a rename");
  assert.deepEqual([...a.names.keys()], ["g"]);
  assert.equal(index.size, 1);
  assert.equal(own(index, a, "g", 2), toHex(cid(1)), "same name, new content: replaces");
  assert.equal(index.size, 1, "the old content had no other owner and is forgotten");
  assert.deepEqual([...a.files.keys()], [toHex(cid(2))]);
  index.dropAll(a);
  assert.equal(index.size, 0);
  assert.equal(a.files.size + a.names.size, 0);
});

Deno.test(
  "FileIndex.lookup() picks the name's most-owned content, not counting the asker",
  none,
  () => {
    const index = new FileIndex<P>({ rateTauMs: TAU, random: prng(2) });
    const [a, b, c, q] = ["a", "b", "c", "q"].map(peer) as [P, P, P, P];
    own(index, a, "song", 7);
    own(index, b, "song", 5);
    own(index, c, "song", 5);
    const r = index.lookup("song", true, q);
    assert.equal(r.file?.key, toHex(cid(5)));
    assert.equal(r.alternatives, 1);
    assert.equal(r.known, true);
    // Ties go to the smallest content id; the asker's own announcement does not count.
    assert.equal(index.lookup("song", true, b).file?.key, toHex(cid(5)));
    own(index, q, "song", 7);
    assert.equal(index.lookup("song", true, q).file?.key, toHex(cid(5)));
    assert.equal(index.lookup("song", true, c).file?.key, toHex(cid(7)), "7: a, q; 5: b only");
    // Only the asker shares it: known, but nothing to answer with.
    own(index, q, "solo", 9);
    const solo = index.lookup("solo", true, q);
    assert.deepEqual([solo.file, solo.known], [undefined, true]);
    assert.deepEqual({ ...index.lookup("nope", true, q) }, {
      file: undefined,
      alternatives: 0,
      known: false,
    });
    assert.equal(index.lookup(toHex(cid(9)), false, a).file?.key, toHex(cid(9)));
  },
);

Deno.test("FileIndex.select() ranks by rate, skips the asker and rotates equals", none, () => {
  const index = new FileIndex<P>({ rateTauMs: TAU, random: prng(3) });
  const ps = ["a", "b", "c", "d"].map(peer);
  for (const p of ps) own(index, p, "f", 1);
  index.rerate(ps[2]!, addUpload(ps[2]!.rateKey, 5_000_000, 0, TAU), 0);
  index.rerate(ps[3]!, addUpload(ps[3]!.rateKey, 1_000_000, 0, TAU), 0);
  const q = peer("q");
  assert.deepEqual(
    ranked(index, 1, q).slice(0, 2),
    ["c", "d"],
    "rated owners first, fastest first",
  );
  assert.deepEqual(ranked(index, 1, ps[2]!).slice(0, 1), ["d"], "never the asker");
  // The idle owners a and b take turns behind the rated ones.
  const firsts = [0, 1, 2, 3].map(() => ranked(index, 1, q, 3)[2]);
  assert.deepEqual(new Set(firsts), new Set(["a", "b"]));
  assert.notEqual(firsts[0], firsts[1]);
});

Deno.test(
  "FileIndex.displayBytes() is the name most owners use, cached until names change",
  none,
  () => {
    const index = new FileIndex<P>({ rateTauMs: TAU, random: prng(4) });
    const [a, b, c] = ["a", "b", "c"].map(peer) as [P, P, P];
    own(index, a, "x", 1);
    own(index, b, "y", 1);
    own(index, c, "y", 1);
    const file = index.get(toHex(cid(1)))!;
    assert.equal(new TextDecoder().decode(index.displayBytes(file)), "y");
    assert.equal(index.displayBytes(file), index.displayBytes(file), "cached");
    index.drop(c, c.files.get(file.key)!);
    assert.equal(new TextDecoder().decode(index.displayBytes(file)), "x", "ties: first announced");
  },
);
