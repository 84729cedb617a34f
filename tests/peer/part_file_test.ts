import assert from "node:assert/strict";
import {
  contentIdOf,
  encodeManifest,
  type Manifest,
  pieceLength,
} from "../../lib/peer/manifest.ts";
import { toHex } from "../../lib/wire/hex.ts";
import { PartFile, partPaths } from "../../lib/peer/part_file.ts";
import { TransferError } from "../../lib/peer/transfer_error.ts";
import { withTempDir } from "../_harness/temp_dir.ts";
import { waitUntil } from "../_harness/wait.ts";
import { bytesOf, manifestOf, sha256 } from "./_fixtures.ts";

const KiB = 1024;
const PIECE = 16 * KiB;

interface Content {
  data: Uint8Array;
  manifest: Manifest;
  encoded: Uint8Array;
  cid: string;
}

function contentOf(data: Uint8Array, pieceSize = PIECE): Content {
  const manifest = manifestOf(data, pieceSize);
  const encoded = encodeManifest(manifest);
  return { data, manifest, encoded, cid: toHex(contentIdOf(encoded)) };
}

function piece(c: Content, i: number): Uint8Array {
  const at = i * c.manifest.pieceSize;
  return c.data.subarray(at, at + pieceLength(c.manifest, i));
}

/** Opens the part file of `c` as `name`, writes `pieces` and closes it (state saved). */
async function closedWith(
  dir: string,
  name: string,
  c: Content,
  pieces: number[],
): Promise<PartFile> {
  const p = await PartFile.open(dir, name, c.cid, c.manifest);
  for (const i of pieces) p.writePiece(i, piece(c, i));
  await p.close();
  return p;
}

function isTransferError(code: TransferError["code"], pattern?: RegExp) {
  return (e: unknown) =>
    e instanceof TransferError && e.code === code && (!pattern || pattern.test(e.message));
}

Deno.test("PartFile writes pieces, resumes them after close and completes to the final name", async () => {
  await withTempDir("udpswarm-part-", async (dir) => {
    const c = contentOf(bytesOf(5 * PIECE + 123, 1));
    const paths = partPaths(dir, "movie.mkv", c.cid);
    assert.equal(paths.part, `${dir}/movie.mkv.${c.cid.slice(0, 16)}.part`);

    const part = await PartFile.open(dir, "movie.mkv", c.cid, c.manifest, {
      encodedManifest: c.encoded,
    });
    assert.equal((await Deno.stat(paths.part)).size, c.data.byteLength, "sized (sparse) at once");
    assert.equal(part.resumedBytes, 0);
    part.writePiece(0, piece(c, 0));
    part.writePiece(5, piece(c, 5));
    assert.deepEqual([...part.verifiedPieces], [0, 5]);
    assert.equal(part.verifiedBytes, PIECE + 123);
    assert.deepEqual(part.readPiece(5), piece(c, 5));
    await part.close();
    await part.close(); // idempotent
    assert.throws(() => part.writePiece(1, piece(c, 1)), /closed/);

    assert.deepEqual(await PartFile.loadManifest(dir, "movie.mkv", c.cid), c.encoded);
    const again = await PartFile.open(dir, "movie.mkv", c.cid, c.manifest);
    assert.deepEqual([...again.verifiedPieces], [0, 5]);
    assert.equal(again.resumedBytes, PIECE + 123);
    for (const i of [1, 2, 3, 4]) again.writePiece(i, piece(c, i));
    assert.equal(again.isComplete, true);
    const path = await again.complete();
    assert.equal(path, `${dir}/movie.mkv`);
    assert.deepEqual(await Deno.readFile(path), c.data);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["movie.mkv"]);
    await again.close(); // no-op after complete
  });
});

Deno.test("PartFile handles 0-byte and 1-byte files", async () => {
  await withTempDir("udpswarm-part-", async (dir) => {
    for (const size of [0, 1]) {
      const c = contentOf(bytesOf(size, 3));
      const part = await PartFile.open(dir, `f${size}`, c.cid, c.manifest);
      if (size === 1) part.writePiece(0, c.data);
      assert.equal(part.isComplete, true);
      const path = await part.complete();
      assert.deepEqual(await Deno.readFile(path), c.data);
    }
  });
});

Deno.test("PartFile keeps two files with the same name apart", async () => {
  await withTempDir("udpswarm-part-", async (dir) => {
    const a = contentOf(bytesOf(2 * PIECE, 10));
    const b = contentOf(bytesOf(2 * PIECE, 11));
    const pa = await PartFile.open(dir, "same.bin", a.cid, a.manifest);
    const pb = await PartFile.open(dir, "same.bin", b.cid, b.manifest);
    assert.notEqual(pa.paths.part, pb.paths.part);
    pa.writePiece(0, piece(a, 0));
    pb.writePiece(1, piece(b, 1));
    await pa.close();
    await pb.close();
    const ra = await PartFile.open(dir, "same.bin", a.cid, a.manifest);
    const rb = await PartFile.open(dir, "same.bin", b.cid, b.manifest);
    assert.deepEqual([...ra.verifiedPieces], [0]);
    assert.deepEqual([...rb.verifiedPieces], [1]);
    assert.deepEqual(ra.readPiece(0), piece(a, 0));
    ra.writePiece(1, piece(a, 1));
    rb.writePiece(0, piece(b, 0));
    await ra.complete();
    await assert.rejects(rb.complete(), isTransferError("exists", /pass overwrite/));
    assert.ok((await Deno.stat(rb.paths.part)).isFile, "the verified .part is kept");
    assert.deepEqual(await Deno.readFile(`${dir}/same.bin`), a.data);
    // Resuming the refused download with overwrite completes at once from the kept state.
    const rd = await PartFile.open(dir, "same.bin", b.cid, b.manifest, { overwrite: true });
    assert.equal(rd.isComplete, true);
    await rd.complete();
    assert.deepEqual(await Deno.readFile(`${dir}/same.bin`), b.data);
  });
});

Deno.test("PartFile.open() refuses an existing final file unless overwrite", async () => {
  await withTempDir("udpswarm-part-", async (dir) => {
    const c = contentOf(bytesOf(PIECE, 4));
    await Deno.writeTextFile(`${dir}/x.bin`, "mine");
    await assert.rejects(
      PartFile.open(dir, "x.bin", c.cid, c.manifest),
      isTransferError("exists", /x\.bin exists/),
    );
    const part = await PartFile.open(dir, "x.bin", c.cid, c.manifest, { overwrite: true });
    part.writePiece(0, c.data);
    await part.complete();
    assert.deepEqual(await Deno.readFile(`${dir}/x.bin`), c.data);
  });
});

Deno.test("PartFile.open() refuses a state that belongs to another content id", async () => {
  await withTempDir("udpswarm-part-", async (dir) => {
    const a = contentOf(bytesOf(2 * PIECE, 20));
    const b = contentOf(bytesOf(2 * PIECE, 21));
    const pa = await PartFile.open(dir, "n.bin", a.cid, a.manifest);
    pa.writePiece(0, piece(a, 0));
    await pa.close();
    // Plant a's state where b's would be (as a colliding id prefix would).
    await Deno.copyFile(pa.paths.state, partPaths(dir, "n.bin", b.cid).state);
    await assert.rejects(
      PartFile.open(dir, "n.bin", b.cid, b.manifest),
      isTransferError("exists", new RegExp(`belongs to content ${a.cid}`)),
    );
  });
});

Deno.test("PartFile ignores a corrupt state, and reverify recovers pieces from the .part", async () => {
  await withTempDir("udpswarm-part-", async (dir) => {
    const c = contentOf(bytesOf(4 * PIECE, 30));
    const p = await closedWith(dir, "c.bin", c, [0, 1, 3]);
    const state = await Deno.readFile(p.paths.state);
    state[60]! ^= 0xff;
    await Deno.writeFile(p.paths.state, state);
    const fresh = await PartFile.open(dir, "c.bin", c.cid, c.manifest);
    assert.equal(fresh.verifiedPieces.count, 0, "a corrupt state claims nothing");
    await fresh.close();
    await Deno.writeFile(p.paths.state, state);
    const seen: number[] = [];
    const re = await PartFile.open(dir, "c.bin", c.cid, c.manifest, {
      reverify: true,
      onVerifyProgress: (n) => seen.push(n),
    });
    assert.deepEqual([...re.verifiedPieces], [0, 1, 3]);
    assert.equal(seen.at(-1), 4 * PIECE);
    await re.close();
  });
});

Deno.test("PartFile.open() hashes every claimed piece again: flipped bytes are fetched again", async () => {
  await withTempDir("udpswarm-part-", async (dir) => {
    const c = contentOf(bytesOf(3 * PIECE, 31));
    const p = await closedWith(dir, "d.bin", c, [0, 1, 2]);
    // 64 flipped bytes inside verified piece 1, between two runs
    const f = await Deno.open(p.paths.part, { read: true, write: true });
    const bytes = new Uint8Array(64);
    await f.seek(PIECE + 5, Deno.SeekMode.Start);
    await f.read(bytes);
    await f.seek(PIECE + 5, Deno.SeekMode.Start);
    await f.write(bytes.map((b) => b ^ 0xff));
    f.close();
    const seen: number[] = [];
    const re = await PartFile.open(dir, "d.bin", c.cid, c.manifest, {
      onVerifyProgress: (n) => seen.push(n),
    });
    assert.deepEqual([...re.verifiedPieces], [0, 2], "the flipped piece no longer counts");
    assert.deepEqual(re.resumeCheck, { checked: 3, failed: 1, bytes: 3 * PIECE });
    assert.equal(re.resumedBytes, 2 * PIECE);
    assert.equal(seen.at(-1), 3 * PIECE, "progress of the check");
    re.writePiece(1, piece(c, 1));
    assert.deepEqual(await Deno.readFile(await re.complete()), c.data, "exact after a refetch");
  });
});

Deno.test("PartFile.open() trusts no forged state and no zeroed region", async () => {
  await withTempDir("udpswarm-part-", async (dir) => {
    const c = contentOf(bytesOf(8 * PIECE, 32));
    const p = await closedWith(dir, "e.bin", c, [0, 1, 2, 3]);
    // A forged state claiming every piece (its checksum has no key: anyone can recompute it)
    const { encodePartState } = await import("../../lib/peer/part_state.ts");
    const { Bitset } = await import("../../lib/peer/core/bitset.ts");
    const all = new Bitset(8);
    for (let i = 0; i < 8; i++) all.set(i);
    const forged = encodePartState({
      contentId: contentIdOf(c.encoded),
      size: c.manifest.size,
      pieceSize: PIECE,
      verified: all,
    });
    await Deno.writeFile(p.paths.state, forged);
    // … and the first 2 pieces zeroed
    const f = await Deno.open(p.paths.part, { write: true });
    await f.write(new Uint8Array(2 * PIECE));
    f.close();
    const re = await PartFile.open(dir, "e.bin", c.cid, c.manifest);
    assert.deepEqual([...re.verifiedPieces], [2, 3], "only what hashes right");
    assert.deepEqual(re.resumeCheck, { checked: 8, failed: 6, bytes: 8 * PIECE });
    assert.equal(re.isComplete, false, "never complete on a claim");
    await re.close();
  });
});

Deno.test("PartFile refuses a .part, state, manifest or temporary file that is a symbolic link", async () => {
  await withTempDir("udpswarm-part-", async (root) => {
    const dir = `${root}/out`;
    const outside = `${root}/outside`;
    await Deno.mkdir(dir);
    const c = contentOf(bytesOf(4 * PIECE, 33));
    const paths = partPaths(dir, "l.bin", c.cid);
    const victim = new Uint8Array(4 * PIECE).fill(0x11);
    for (const which of ["part", "state", "manifest"] as const) {
      await Deno.writeFile(outside, victim);
      await Deno.symlink(outside, paths[which]);
      await assert.rejects(
        PartFile.open(dir, "l.bin", c.cid, c.manifest, { encodedManifest: c.encoded }),
        isTransferError("disk", /symbolic link.*never follows links/),
        which,
      );
      assert.deepEqual(await Deno.readFile(outside), victim, `${which}: nothing written outside`);
      for (const path of Object.values(paths)) await Deno.remove(path).catch(() => {});
    }
    // A link at the state's temporary name is replaced, never written through
    await Deno.symlink(outside, `${paths.state}.tmp`);
    const part = await PartFile.open(dir, "l.bin", c.cid, c.manifest, {
      encodedManifest: c.encoded,
    });
    assert.deepEqual(await Deno.readFile(outside), victim, "state.tmp: nothing written outside");
    for (let i = 0; i < 4; i++) part.writePiece(i, piece(c, i));
    // A .part swapped for a link after it was opened: complete() refuses, the final name is not
    // made a link, nothing outside is written
    await Deno.rename(paths.part, `${root}/moved.part`);
    await Deno.symlink(outside, paths.part);
    await assert.rejects(part.complete(), isTransferError("disk", /no longer the file/));
    await assert.rejects(Deno.lstat(`${dir}/l.bin`), Deno.errors.NotFound);
    assert.deepEqual(await Deno.readFile(outside), victim);
  });
});

Deno.test("PartFile.open() refuses a file larger than the free space, and creates nothing", async () => {
  await withTempDir("udpswarm-part-", async (dir) => {
    // A manifest claiming 1 TiB (piece hashes are never read before the check)
    const size = 2 ** 40;
    const pieceSize = 16 * 1024 * KiB;
    const manifest = { size, pieceSize, pieceHashes: new Uint8Array(32 * (size / pieceSize)) };
    const cid = toHex(contentIdOf(encodeManifest(manifest)));
    await assert.rejects(
      PartFile.open(dir, "huge.bin", cid, manifest),
      isTransferError("disk", /needs 1\.0 TiB .* free; free space or choose another --out/),
    );
    assert.deepEqual([...Deno.readDirSync(dir)], [], "no sparse .part, no state");
  });
});

Deno.test("PartFile forgets claimed pieces past the end of a truncated .part", async () => {
  await withTempDir("udpswarm-part-", async (dir) => {
    const c = contentOf(bytesOf(4 * PIECE, 40));
    const p = await closedWith(dir, "t.bin", c, [0, 1, 2, 3]);
    await Deno.truncate(p.paths.part, 2 * PIECE + 1);
    const r = await PartFile.open(dir, "t.bin", c.cid, c.manifest);
    assert.deepEqual([...r.verifiedPieces], [0, 1]);
    assert.equal((await Deno.stat(r.paths.part)).size, 4 * PIECE, "extended again");
    await r.close();
  });
});

Deno.test("PartFile batches state writes and always writes on close", async () => {
  await withTempDir("udpswarm-part-", async (dir) => {
    const c = contentOf(bytesOf(64 * PIECE, 50));
    const p = await PartFile.open(dir, "b.bin", c.cid, c.manifest, { flushIntervalMs: 0 });
    for (let i = 0; i < 64; i++) p.writePiece(i, piece(c, i));
    assert.equal(p.stateWrites, 0, "no state write per piece");
    await p.flush();
    assert.equal(p.stateWrites, 1);
    await p.flush();
    assert.equal(p.stateWrites, 1, "nothing new, nothing written");
    await p.close();
    assert.equal(p.stateWrites, 1);

    const q = await PartFile.open(dir, "q.bin", c.cid, c.manifest, { flushIntervalMs: 20 });
    for (let i = 0; i < 10; i++) q.writePiece(i, piece(c, i));
    await waitUntil(() => q.stateWrites === 1, 2000, "one timed state write");
    q.writePiece(10, piece(c, 10));
    await q.close();
    assert.equal(q.stateWrites, 2);
    const r = await PartFile.open(dir, "q.bin", c.cid, c.manifest);
    assert.equal(r.verifiedPieces.count, 11);
    await r.close();
  });
});

Deno.test("PartFile refuses a second open of the same download in one process", async () => {
  await withTempDir("udpswarm-part-", async (dir) => {
    const c = contentOf(bytesOf(PIECE, 60));
    const p = await PartFile.open(dir, "o.bin", c.cid, c.manifest);
    await assert.rejects(
      PartFile.open(dir, "o.bin", c.cid, c.manifest),
      isTransferError("exists", /already in use/),
    );
    await p.close();
    const q = await PartFile.open(dir, "o.bin", c.cid, c.manifest);
    await q.close();
    // Two opens racing: exactly one wins.
    const both = await Promise.allSettled([
      PartFile.open(dir, "o.bin", c.cid, c.manifest),
      PartFile.open(dir, "o.bin", c.cid, c.manifest),
    ]);
    const won = both.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    assert.equal(won.length, 1);
    const lost = both.find((r) => r.status === "rejected") as PromiseRejectedResult;
    assert.ok(isTransferError("exists", /already in use/)(lost.reason));
    await won[0]!.close();
    // A failed open releases the reservation.
    await assert.rejects(
      PartFile.open(dir, "o.bin", c.cid, c.manifest, { encodedManifest: new Uint8Array(3) }),
      isTransferError("bad_manifest"),
    );
    await (await PartFile.open(dir, "o.bin", c.cid, c.manifest)).close();
  });
});

Deno.test("PartFile checks names, lengths, the manifest and completeness", async () => {
  await withTempDir("udpswarm-part-", async (dir) => {
    const c = contentOf(bytesOf(2 * PIECE, 70));
    for (const bad of ["../x", "/etc/passwd", "..", "a\u0000b", ""]) {
      await assert.rejects(PartFile.open(dir, bad, c.cid, c.manifest), isTransferError("bad_name"));
    }
    const other = contentOf(bytesOf(10, 71));
    await assert.rejects(
      PartFile.open(dir, "m.bin", c.cid, c.manifest, { encodedManifest: other.encoded }),
      isTransferError("bad_manifest"),
    );
    const p = await PartFile.open(dir, "m.bin", c.cid, c.manifest);
    assert.throws(() => p.writePiece(0, new Uint8Array(PIECE - 1)), RangeError);
    assert.throws(() => p.writePiece(2, new Uint8Array(PIECE)), RangeError);
    p.writePiece(0, piece(c, 0));
    await assert.rejects(p.complete(), /1 of 2 pieces are not verified/);
    await assert.rejects(p.complete("../evil"), isTransferError("bad_name"));
    await p.close();
  });
});

Deno.test("PartFile shortens a long name so every part file name fits 255 bytes", async () => {
  await withTempDir("udpswarm-part-", async (dir) => {
    const c = contentOf(bytesOf(PIECE, 80));
    const name = "é".repeat(127); // 254 bytes
    const p = await PartFile.open(dir, name, c.cid, c.manifest, { encodedManifest: c.encoded });
    p.writePiece(0, c.data);
    await p.close();
    for (const e of Deno.readDirSync(dir)) {
      assert.ok(new TextEncoder().encode(e.name).byteLength <= 255, e.name);
    }
    const r = await PartFile.open(dir, name, c.cid, c.manifest);
    assert.equal(r.isComplete, true);
    assert.equal(await r.complete(), `${dir}/${name}`);
  });
});

Deno.test("PartFile writes and resumes pieces at offsets beyond 4 GiB (sparse)", async () => {
  await withTempDir("udpswarm-part-", async (dir) => {
    const pieceSize = 16 * 1024 * KiB;
    const size = 4 * 2 ** 30 + 2 * pieceSize + 777; // 259 pieces, last one 777 bytes
    const count = Math.ceil(size / pieceSize);
    const hashes = bytesOf(32 * count, 90); // only the pieces written below are real
    const tailPiece = bytesOf(pieceSize, 91);
    const lastPiece = bytesOf(777, 92);
    hashes.set(sha256(tailPiece), 32 * (count - 2));
    hashes.set(sha256(lastPiece), 32 * (count - 1));
    const manifest = { size, pieceSize, pieceHashes: hashes };
    const cid = toHex(contentIdOf(encodeManifest(manifest)));
    const p = await PartFile.open(dir, "huge.iso", cid, manifest);
    p.writePiece(count - 2, tailPiece);
    p.writePiece(count - 1, lastPiece);
    await p.close();
    const st = await Deno.stat(p.paths.part);
    assert.equal(st.size, size);
    const r = await PartFile.open(dir, "huge.iso", cid, manifest, { reverify: true });
    assert.deepEqual([...r.verifiedPieces], [count - 2, count - 1]);
    assert.deepEqual(r.readPiece(count - 1), lastPiece);
    const f = await Deno.open(r.paths.part, { read: true });
    await f.seek(size - 777, Deno.SeekMode.Start);
    const back = new Uint8Array(777);
    assert.equal(await f.read(back), 777);
    f.close();
    assert.deepEqual(back, lastPiece);
    await r.close();
  });
});

Deno.test("PartFile reports a missing directory as not_found", async () => {
  await withTempDir("udpswarm-part-", async (dir) => {
    const c = contentOf(bytesOf(PIECE, 100));
    await assert.rejects(
      PartFile.open(`${dir}/nope`, "x.bin", c.cid, c.manifest),
      isTransferError("not_found", /Cannot create .*x\.bin\..*\.part/),
    );
  });
});

// Disk full and read-only file systems, on a tiny tmpfs. Needs root (mount); skipped otherwise.
const canMount = Deno.uid?.() === 0 &&
  new Deno.Command("mount", { args: ["--version"], stdout: "null", stderr: "null" }).outputSync()
    .success;

async function withTmpfs(sizeKiB: number, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "udpswarm-tmpfs-" });
  const mount = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", `size=${sizeKiB}k`, "tmpfs", dir],
    stderr: "piped",
  }).output();
  if (!mount.success) {
    await Deno.remove(dir);
    throw new Error(`mount tmpfs failed: ${new TextDecoder().decode(mount.stderr)}`);
  }
  try {
    await fn(dir);
  } finally {
    await new Deno.Command("umount", { args: ["-l", dir] }).output();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "PartFile turns a full disk into TransferError(disk) and resumes after space is freed",
  ignore: !canMount,
  async fn() {
    await withTmpfs(1024, async (dir) => {
      const c = contentOf(bytesOf(48 * PIECE, 110)); // 768 KiB
      const p = await PartFile.open(dir, "full.bin", c.cid, c.manifest, { flushIntervalMs: 0 });
      for (let i = 0; i < 8; i++) p.writePiece(i, piece(c, i));
      await p.flush();
      // Fill the rest of the file system.
      const filler = await Deno.open(`${dir}/filler`, { write: true, create: true });
      const chunk = new Uint8Array(64 * KiB);
      try {
        for (;;) await filler.write(chunk);
      } catch (e) {
        assert.ok(e instanceof Error);
      } finally {
        filler.close();
      }
      let err: unknown;
      try {
        for (let i = 8; i < 48; i++) p.writePiece(i, piece(c, i));
      } catch (e) {
        err = e;
      }
      assert.ok(err instanceof TransferError, String(err));
      assert.equal(err.code, "disk");
      assert.match(err.message, /no space left on device/);
      assert.match(err.message, /kept for a resume/);
      await p.close().catch((e) => assert.ok(e instanceof TransferError && e.code === "disk"));
      assert.ok((await Deno.stat(p.paths.part)).isFile, "the .part is kept");

      await Deno.remove(`${dir}/filler`);
      const r = await PartFile.open(dir, "full.bin", c.cid, c.manifest);
      assert.ok(r.verifiedPieces.count >= 8, `resumed ${r.verifiedPieces.count} pieces`);
      for (let i = 0; i < 8; i++) assert.ok(r.verifiedPieces.has(i));
      for (let i = 0; i < 48; i++) if (!r.verifiedPieces.has(i)) r.writePiece(i, piece(c, i));
      const path = await r.complete();
      assert.deepEqual(await Deno.readFile(path), c.data);
    });
  },
});

Deno.test({
  name: "PartFile turns a read-only directory into TransferError(disk)",
  ignore: !canMount,
  async fn() {
    await withTmpfs(256, async (dir) => {
      const remount = await new Deno.Command("mount", {
        args: ["-o", "remount,ro", dir],
      }).output();
      assert.ok(remount.success);
      const c = contentOf(bytesOf(PIECE, 120));
      await assert.rejects(
        PartFile.open(dir, "ro.bin", c.cid, c.manifest),
        isTransferError(
          "disk",
          /read-only file system; check that the directory exists and is writable/,
        ),
      );
    });
  },
});
