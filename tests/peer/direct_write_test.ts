/**
 * Direct (`O_DIRECT`) piece writes (lib/peer/direct_write.ts, PartFile.writePieceDirect): in a
 * child process with FFI access to libc only, as a peer has it, against real files; without the
 * grant nothing changes.
 * @module
 */
import assert from "node:assert/strict";
import { inFfiChild, libcPath } from "../net/_ffi_child.ts";
import { DirectWriter } from "../../lib/peer/direct_write.ts";
import { PartFile } from "../../lib/peer/part_file.ts";
import { buildManifest } from "../../lib/peer/manifest.ts";
import { withTempDir } from "../_harness/temp_dir.ts";

const PIECE = 16384;

/** Runs `body` in a child with the libc grant, DirectWriter, PartFile and buildManifest in scope. */
function inChild(dir: string, body: string): Promise<Record<string, unknown>> {
  const lib = (p: string) => JSON.stringify(import.meta.resolve(`../../lib/peer/${p}`));
  const root = new URL("../../", import.meta.url).pathname;
  return inFfiChild(
    `import { DirectWriter } from ${lib("direct_write.ts")};
     import { PartFile } from ${lib("part_file.ts")};
     import { buildManifest } from ${lib("manifest.ts")};
     const dir = ${JSON.stringify(dir)};
     const out = {};
     ${body}
     console.log(JSON.stringify(out));`,
    [`--allow-read=${dir},${root}`, `--allow-write=${dir}`],
  );
}

/** A source file of `size` bytes (byte i is i * 7 mod 251) and its manifest. */
async function source(dir: string, size: number) {
  const bytes = new Uint8Array(size).map((_, i) => (i * 7) % 251);
  await Deno.writeFile(`${dir}/src.bin`, bytes);
  return { bytes, ...(await buildManifest(`${dir}/src.bin`, { pieceSize: PIECE })) };
}

Deno.test("direct writes without an FFI grant: no writer, no aligned buffers, writes stay buffered", async () => {
  await withTempDir("udpswarm-direct-write-", async (dir) => {
    const { manifest, contentIdHex } = await source(dir, 3 * PIECE);
    await Deno.writeFile(`${dir}/f`, new Uint8Array(PIECE));
    const st = await Deno.stat(`${dir}/f`);
    assert.equal(DirectWriter.open(`${dir}/f`, { dev: st.dev, ino: st.ino! }), undefined);
    const part = await PartFile.open(dir, "x.bin", contentIdHex, manifest, {
      directWrites: true,
    });
    assert.equal(part.newPieceBuffer, undefined);
    assert.equal(part.writePieceDirect(0, new Uint8Array(PIECE)), undefined);
    await part.close();
  });
});

Deno.test({
  name:
    "DirectWriter with the libc grant: adjacent pieces gathered into one pwritev, exact bytes; unaligned lengths, views, links, other files and tmpfs refused",
  ignore: Deno.build.os !== "linux" || libcPath === undefined,
  async fn() {
    await withTempDir("udpswarm-direct-write-", async (dir) => {
      await Deno.writeFile(`${dir}/f`, new Uint8Array(8 * PIECE));
      await Deno.symlink(`${dir}/f`, `${dir}/link`);
      await Deno.writeFile(`${dir}/other`, new Uint8Array(PIECE));
      const shm = await Deno.stat("/dev/shm").then((s) => s.isDirectory, () => false);
      const r = await inChild(
        dir,
        `const st = Deno.statSync(dir + "/f");
         const id = { dev: st.dev, ino: st.ino };
         const w = DirectWriter.open(dir + "/f", id, { lingerMs: 60_000 });
         const piece = (v) => { const b = w.alignedBuffer(${PIECE}); b.fill(v); return b; };
         const ps = [w.write(0, piece(1)), w.write(${PIECE}, piece(2)), w.write(${
          2 * PIECE
        }, piece(3)),
           w.write(${5 * PIECE}, piece(4))];
         out.unalignedLength = w.write(${6 * PIECE}, piece(5).subarray(0, 1000)) === undefined;
         out.unalignedView = w.write(${
          6 * PIECE
        }, w.alignedBuffer(${PIECE} + 4096).subarray(1, ${PIECE} + 1)) === undefined;
         out.unalignedOffset = w.write(100, piece(6)) === undefined;
         await w.drain();
         out.results = await Promise.all(ps);
         out.writes = w.writes;
         out.pieces = w.pieces;
         await w.close();
         out.link = DirectWriter.open(dir + "/link", id) === undefined;
         out.other = DirectWriter.open(dir + "/other", id) === undefined;
         if (${shm}) {
           const p = "/dev/shm/udpswarm-direct-" + Deno.pid;
           Deno.writeFileSync(p, new Uint8Array(4096));
           const s = Deno.statSync(p);
           out.tmpfs = DirectWriter.open(p, { dev: s.dev, ino: s.ino }) === undefined;
           Deno.removeSync(p);
         } else out.tmpfs = true;`,
      );
      assert.deepEqual(r, {
        unalignedLength: true,
        unalignedView: true,
        unalignedOffset: true,
        results: [true, true, true, true],
        writes: 2, // pieces 0-2 in one pwritev, piece 5 in another
        pieces: 4,
        link: true,
        other: true,
        tmpfs: true,
      });
      const data = await Deno.readFile(`${dir}/f`);
      const expect = [1, 2, 3, 0, 0, 4, 0, 0];
      for (let i = 0; i < 8; i++) {
        const p = data.subarray(i * PIECE, (i + 1) * PIECE);
        assert.ok(p.every((b) => b === expect[i]), `piece ${i}`);
      }
    });
  },
});

Deno.test({
  name:
    "PartFile direct writes: a piece is claimed only once marked after its write; close waits for the writes in flight; the odd last piece is buffered",
  ignore: Deno.build.os !== "linux" || libcPath === undefined,
  async fn() {
    await withTempDir("udpswarm-direct-write-", async (dir) => {
      const size = 4 * PIECE + 1000;
      const { bytes, manifest, contentIdHex } = await source(dir, size);
      await Deno.mkdir(`${dir}/out`);
      const r = await inChild(
        dir,
        `const { manifest, contentIdHex } = await buildManifest(dir + "/src.bin", { pieceSize: ${PIECE} });
         const src = Deno.readFileSync(dir + "/src.bin");
         const part = await PartFile.open(dir + "/out", "x.bin", contentIdHex, manifest, { directWrites: true });
         const alloc = part.newPieceBuffer;
         out.aligned = alloc !== undefined;
         const piece = (i) => { const b = alloc(${PIECE}); b.set(src.subarray(i * ${PIECE}, (i + 1) * ${PIECE})); return b; };
         // piece 0: written and marked; piece 1: written, never marked (a crash before the
         // verdict); piece 2: still gathering when close is called
         await part.writePieceDirect(0, piece(0));
         part.markVerified(0);
         await part.writePieceDirect(1, piece(1));
         const pending = part.writePieceDirect(2, piece(2));
         const last = src.subarray(${4 * PIECE});
         out.lastDirect = part.writePieceDirect(4, last) !== undefined;
         await part.close();
         await pending;
         out.direct = part.directWrites.pieces;
         const again = await PartFile.open(dir + "/out", "x.bin", contentIdHex, manifest);
         out.claimed = [...again.verifiedPieces];
         await again.close();`,
      );
      assert.deepEqual(r, { aligned: true, lastDirect: false, direct: 3, claimed: [0] });
      // Pieces 1 and 2 are on disk all the same: a re-verifying open finds them
      await Deno.remove(
        (await Array.fromAsync(Deno.readDir(`${dir}/out`))).map((e) => `${dir}/out/${e.name}`)
          .find((p) => p.endsWith(".part.state"))!,
      );
      const part = await PartFile.open(`${dir}/out`, "x.bin", contentIdHex, manifest, {
        reverify: true,
      });
      assert.deepEqual([...part.verifiedPieces], [0, 1, 2]);
      const data = part.readPiece(1);
      assert.deepEqual(data, bytes.subarray(PIECE, 2 * PIECE));
      await part.close();
    });
  },
});
