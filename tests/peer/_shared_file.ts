/**
 * A file to share in the uploader tests: random bytes (a fixed seed, so the content id is the
 * same each time), its manifest and content id, in a temporary directory the caller removes.
 * @module
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { Message } from "../../lib/wire/messages.ts";
import { contentIdOf, encodeManifest } from "../../lib/peer/manifest.ts";
import { Prng } from "../../lib/sim/prng.ts";
import type { Uploader } from "../../lib/peer/uploader.ts";
import { errorsOf, type UploadRequest } from "./_upload_requests.ts";

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

/**
 * Shares `file` with `up`, cuts the file to `truncateTo` bytes when given, answers every request
 * as coming from `from` with the cookie `up` hands out, then closes `up` and removes the file's
 * directory (also when a step throws).
 *
 * @param up the uploader under test
 * @param file what {@link sharedFile} made
 * @param requests the requests, in order (their cookie is replaced)
 * @param from their source
 * @param truncateTo the file's size after sharing, to make reads come back short
 */
export async function serveAndClose(
  up: Uploader,
  file: Awaited<ReturnType<typeof sharedFile>>,
  requests: UploadRequest[],
  from: Deno.NetAddr,
  truncateTo?: number,
): Promise<void> {
  try {
    up.share({ path: file.path, manifest: file.manifest, encoded: file.encoded });
    if (truncateTo !== undefined) await Deno.truncate(file.path, truncateTo);
    for (const r of requests) up.handleRequest({ ...r, cookie: up.cookieFor(from, 0) }, from, 0);
  } finally {
    up.close();
    await Deno.remove(file.dir, { recursive: true });
  }
}

/**
 * Checks that every reply is a BLOCK_DATA whose bytes are the file's at its offset.
 *
 * @param wire the decoded replies
 * @param data the shared file's bytes
 */
export function assertBlocksOf(wire: Message[], data: Uint8Array): void {
  assert.equal(errorsOf(wire.map((msg) => ({ msg }))).length, 0);
  for (const m of wire) {
    assert.equal(m.type, "block_data");
    if (m.type === "block_data") {
      assert.deepEqual(m.data, data.subarray(m.offset, m.offset + m.data.byteLength));
    }
  }
}

/**
 * The content id {@link sharedFile} gives for these arguments (it depends on the bytes, which
 * the seed fixes), for building requests before the file is shared.
 *
 * @returns the id, as the request builders take it
 */
export async function contentOf(
  size: number,
  pieceSize: number,
  seed: number,
): Promise<{ contentId: Uint8Array }> {
  const probe = await sharedFile(size, pieceSize, seed);
  await Deno.remove(probe.dir, { recursive: true });
  return { contentId: probe.contentId };
}
