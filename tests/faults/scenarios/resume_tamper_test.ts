/**
 * Scenario (issue 11, item 4): someone with write access to the download directory tampers with
 * an interrupted download between two runs of `peer.ts get`. The interrupted download is made
 * in-process with `PartFile` (half of the pieces of the owner's file, saved with their state), then:
 *
 * - 64 bytes are flipped inside a verified piece: the next `get` hashes the resumed pieces again,
 *   fetches that piece again and ends with the exact bytes;
 * - the state file is forged to claim every piece (its checksum has no key) and the first pieces
 *   of the `.part` are zeroed: the same, nothing is "verified" that was not hashed;
 * - the `.part` is a symbolic link to a file outside `--out`: `get` exits 6 with a message that
 *   names the link, the outside file is untouched, and nothing appears under the final name.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { buildManifest, contentIdOf, pieceLength } from "../../../lib/peer/manifest.ts";
import { PartFile } from "../../../lib/peer/part_file.ts";
import { encodePartState } from "../../../lib/peer/part_state.ts";
import { Bitset } from "../../../lib/peer/core/bitset.ts";
import type { TestFile } from "./_scenario.ts";
import { sha256File } from "../../_harness/processes.ts";
import { jsonEvents, MiB, report, spawnGet, startScenario } from "./_scenario.ts";

const SIZE = 8 * MiB;

/** Writes the first half of `file`'s pieces into a `.part` in `out` as an interrupted run would. */
async function interrupted(out: string, file: TestFile, contentId: string) {
  const built = await buildManifest(file.path);
  assert.equal(built.contentIdHex, contentId, "the owner's manifest");
  const m = built.manifest;
  const count = m.pieceHashes.byteLength / 32;
  const bytes = await Deno.readFile(file.path);
  const part = await PartFile.open(out, file.name, contentId, m, {
    encodedManifest: built.encoded,
  });
  for (let i = 0; i < count / 2; i++) {
    const at = i * m.pieceSize;
    part.writePiece(i, bytes.subarray(at, at + pieceLength(m, i)));
  }
  await part.close();
  return { part, manifest: m, encoded: built.encoded, count };
}

Deno.test("peer.ts get hashes what it resumes: tampered pieces and a forged state end exact, a linked .part is refused", async (t) => {
  await using s = await startScenario({
    prefix: "udpswarm-tamper-",
    dirs: ["src", "flip", "forge", "link"],
    file: { in: "src", name: "tamper.bin", size: SIZE, seed: 41 },
    owners: ["owner"],
  });
  const { dir, file, owners: [owner] } = s;
  const contentId = owner!.files.values().next().value!.contentId;
  const results: Record<string, unknown> = {};
  const get = async (out: string, id: string) => {
    await using child = spawnGet({
      dir: dir.path,
      out,
      tracker: s.address,
      id,
      query: file.name,
    });
    const status = await child.wait(60_000);
    const log = await Deno.readTextFile(join(dir.path, "logs", `node-${id}.log`)).catch(() => "");
    return { status, events: jsonEvents(child), output: child.output(), log };
  };
  await t.step("64 flipped bytes in a verified piece", async () => {
    const out = dir.sub.flip;
    const { part, manifest } = await interrupted(out, file, contentId);
    const f = await Deno.open(part.paths.part, { read: true, write: true });
    const at = 3 * manifest.pieceSize + 1000;
    const b = new Uint8Array(64);
    await f.seek(at, Deno.SeekMode.Start);
    await f.read(b);
    await f.seek(at, Deno.SeekMode.Start);
    await f.write(b.map((x) => x ^ 0x5a));
    f.close();
    const r = await get(out, "flip");
    assert.equal(r.status.code, 0, r.output);
    assert.equal(await sha256File(join(out, file.name)), file.sha256, "the exact bytes");
    const done = r.events.find((e) => e.event === "done")!;
    assert.match(r.log, /1 of \d+ pieces the state file claimed did not match/);
    results.flipped = { resumedBytes: done.resumedBytes, receivedBytes: done.receivedBytes };
  });

  await t.step("a forged state claiming every piece, the first pieces zeroed", async () => {
    const out = dir.sub.forge;
    const { part, manifest, encoded, count } = await interrupted(out, file, contentId);
    const all = new Bitset(count);
    for (let i = 0; i < count; i++) all.set(i);
    await Deno.writeFile(
      part.paths.state,
      encodePartState({
        contentId: contentIdOf(encoded),
        size: manifest.size,
        pieceSize: manifest.pieceSize,
        verified: all,
      }),
    );
    const f = await Deno.open(part.paths.part, { write: true });
    await f.write(new Uint8Array(2 * manifest.pieceSize));
    f.close();
    const r = await get(out, "forge");
    assert.equal(r.status.code, 0, r.output);
    assert.equal(await sha256File(join(out, file.name)), file.sha256, "the exact bytes");
    const done = r.events.find((e) => e.event === "done")!;
    const claimedWrongly = count - (count / 2 - 2);
    assert.equal(done.resumedBytes, (count / 2 - 2) * manifest.pieceSize, "only hashed pieces");
    assert.ok(
      r.log.includes(`${claimedWrongly} of ${count} pieces the state file claimed did not match`),
      r.log,
    );
    results.forged = {
      claimed: count,
      failedOnHash: claimedWrongly,
      resumedBytes: done.resumedBytes,
      receivedBytes: done.receivedBytes,
    };
  });

  await t.step("a .part that links outside --out", async () => {
    const out = join(dir.sub.link, "out");
    await Deno.mkdir(out);
    const { part } = await interrupted(out, file, contentId);
    const outside = join(dir.sub.link, "outside.bin");
    const victim = new Uint8Array(SIZE).fill(0x33);
    await Deno.writeFile(outside, victim);
    await Deno.remove(part.paths.part);
    await Deno.symlink(outside, part.paths.part);
    const r = await get(out, "link");
    assert.equal(r.status.code, 6, r.output);
    const error = r.events.find((e) => e.event === "error");
    assert.ok(error && error.code === "disk", r.output);
    assert.match(String(error.message), /symbolic link/);
    assert.ok(String(error.message).includes(part.paths.part), "names the link");
    assert.deepEqual(await Deno.readFile(outside), victim, "nothing written outside --out");
    await assert.rejects(Deno.lstat(join(out, file.name)), Deno.errors.NotFound);
    results.linkedPart = { exitCode: r.status.code, error: error.message };
  });
  report("resume_tamper", results);
});
