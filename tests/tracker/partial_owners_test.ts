/**
 * Partial owners at the tracker: an OWN with progress makes a download in progress an owner;
 * a NEED with NEED_PARTIAL gets them mixed with complete owners (each with its share), and a
 * NEED without the flag never sees them.
 * @module
 */
import assert from "node:assert/strict";
import { NEED_PARTIAL } from "../../lib/wire/messages.ts";
import { cid, Harness, src } from "./_registry_harness.ts";

const none = { permissions: "none" } as const;
const file = cid(1);

function setup(partials: number): Harness {
  const h = new Harness({ maxOwners: 16 });
  h.register("seed", src(1));
  h.own("seed", "f.bin", file, 1000);
  for (let i = 0; i < partials; i++) {
    h.register(`d${i}`, src(10 + i));
    const r = h.request(`d${i}`, {
      type: "own",
      name: "f.bin",
      size: 1000,
      contentId: file,
      progress: { have: 1 + i, pieces: 10 },
    });
    assert.equal(r?.type, "ack");
  }
  h.register("q", src(99));
  return h;
}

Deno.test("Registry NEED without the partial flag lists complete owners only", none, () => {
  const h = setup(3);
  assert.deepEqual(h.ownersOf("q", { kind: "content", contentId: file }), ["seed"]);
  const r = h.need("q", "f.bin");
  assert.ok(r?.type === "owners");
  assert.equal(r.owners[0]!.have, undefined, "no share tail for an old asker");
});

Deno.test("Registry NEED with the partial flag mixes complete and partial owners", none, () => {
  const h = setup(3);
  const r = h.request("q", {
    type: "need",
    want: { kind: "content", contentId: file },
    maxOwners: 8,
    flags: NEED_PARTIAL,
  });
  assert.ok(r?.type === "owners");
  const byId = Object.fromEntries(r.owners.map((o) => [o.nodeId, o.have]));
  assert.deepEqual(byId, { seed: 255, d0: 25, d1: 50, d2: 76 });
});

Deno.test(
  "Registry NEED with the partial flag keeps a complete owner in a short list",
  none,
  () => {
    const h = setup(6);
    // The downloaders upload: they rank above the idle seed by the upload-rate rule
    for (let i = 0; i < 6; i++) h.update(`d${i}`, 1_000_000);
    for (let round = 0; round < 4; round++) {
      const r = h.request("q", {
        type: "need",
        want: { kind: "content", contentId: file },
        maxOwners: 3,
        flags: NEED_PARTIAL,
      });
      assert.ok(r?.type === "owners");
      assert.equal(r.owners.length, 3);
      assert.ok(r.owners.some((o) => o.nodeId === "seed"), "the seed is in every reply");
    }
  },
);

Deno.test(
  "Registry OWN with progress updates a partial owner, and a plain OWN completes it",
  none,
  () => {
    const h = setup(1);
    const own = (progress?: { have: number; pieces: number }) =>
      h.request("d0", {
        type: "own",
        name: "f.bin",
        size: 1000,
        contentId: file,
        ...(progress ? { progress } : {}),
      });
    own({ have: 9, pieces: 10 });
    const need = () =>
      h.request("q", {
        type: "need",
        want: { kind: "content", contentId: file },
        maxOwners: 8,
        flags: NEED_PARTIAL,
      });
    let r = need();
    assert.ok(r?.type === "owners");
    assert.equal(r.owners.find((o) => o.nodeId === "d0")?.have, 228);
    own(); // complete
    assert.deepEqual(
      (h.ownersOf("q", { kind: "content", contentId: file }) as string[]).sort(),
      ["d0", "seed"],
    );
    own({ have: 2, pieces: 10 }); // a late progress report never makes it partial again
    r = need();
    assert.ok(r?.type === "owners");
    assert.equal(r.owners.find((o) => o.nodeId === "d0")?.have, 255);
  },
);

Deno.test(
  "Registry NEED finds a file that only partial owners share, for a partial asker",
  none,
  () => {
    const h = new Harness();
    h.register("d0", src(1));
    h.request("d0", {
      type: "own",
      name: "f.bin",
      size: 1000,
      contentId: file,
      progress: { have: 1, pieces: 10 },
    });
    h.register("q", src(2));
    assert.equal(typeof h.ownersOf("q", "f.bin"), "number", "not found without the flag");
    const r = h.request("q", {
      type: "need",
      want: { kind: "name", name: "f.bin" },
      maxOwners: 4,
      flags: NEED_PARTIAL,
    });
    assert.ok(r?.type === "owners");
    assert.deepEqual(r.owners.map((o) => o.nodeId), ["d0"]);
  },
);
