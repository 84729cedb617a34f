/**
 * A file to share in the uploader tests: random bytes (a fixed seed, so the content id is the
 * same each time), its manifest and content id, in a temporary directory the caller removes.
 * @module
 */
import { createHash } from "node:crypto";
import { contentIdOf, encodeManifest } from "../../lib/peer/manifest.ts";
import { Prng } from "../../lib/sim/prng.ts";

/**
 * Writes a file of `size` random bytes in pieces of `pieceSize` and builds its manifest.
 *
 * @param size the file's size
 * @param pieceSize the manifest's piece size
 * @param seed the bytes' seed
 * @returns the directory, the file's path and bytes, its manifest (decoded and encoded) and id
 */
export async function sharedFile(size: number, pieceSize: number, seed: number) {
  const dir = await Deno.makeTempDir({ prefix: "udpswarm-upload-" });
  const data = new Uint8Array(size);
  new Prng(seed).fill(data);
  const path = `${dir}/f.bin`;
  await Deno.writeFile(path, data);
  const n = Math.ceil(size / pieceSize);
  const pieceHashes = new Uint8Array(32 * n);
  for (let i = 0; i < n; i++) {
    pieceHashes.set(
      createHash("sha256").update(data.subarray(i * pieceSize, (i + 1) * pieceSize)).digest(),
      32 * i,
    );
  }
  const manifest = { size, pieceSize, pieceHashes };
  const encoded = encodeManifest(manifest);
  return { dir, path, data, manifest, encoded, contentId: contentIdOf(encoded) };
}
