/**
 * Contents and manifests for the storage tests (manifest, part file, engine): seeded bytes and
 * the manifest that describes them.
 * @module
 */
import { createHash } from "node:crypto";
import type { Manifest } from "../../lib/peer/manifest.ts";

/** SHA-256 of `b`. */
export function sha256(b: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(b).digest());
}

/** `n` deterministic pseudo-random bytes (xorshift32; equal seeds give equal bytes). */
export function bytesOf(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** The manifest of `data` cut into `pieceSize` pieces. */
export function manifestOf(data: Uint8Array, pieceSize: number): Manifest {
  const n = Math.ceil(data.byteLength / pieceSize);
  const hashes = new Uint8Array(32 * n);
  for (let i = 0; i < n; i++) {
    hashes.set(sha256(data.subarray(i * pieceSize, (i + 1) * pieceSize)), 32 * i);
  }
  return { size: data.byteLength, pieceSize, pieceHashes: hashes };
}
