/**
 * File contents for the simulated owners, and manifests built from them: an in-memory array, or
 * bytes computed from their offset so a file of several GiB needs no memory.
 * @module
 */
import { createHash } from "node:crypto";
import type { EngineManifest } from "../../../lib/peer/core/download_engine.ts";

/** Bytes an owner can serve. */
export interface ContentSource {
  readonly size: number;
  /** The `length` bytes at `offset`; the caller must not keep or modify the result. */
  read(offset: number, length: number): Uint8Array;
}

/** A file held in memory. */
export class ArraySource implements ContentSource {
  readonly bytes: Uint8Array;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  get size(): number {
    return this.bytes.byteLength;
  }

  read(offset: number, length: number): Uint8Array {
    return this.bytes.subarray(offset, offset + length);
  }
}

/** The byte a {@link GeneratedSource} holds at `offset`: a hash of the offset, exact beyond 2^32. */
export function generatedByte(offset: number): number {
  const lo = offset >>> 0;
  const hi = Math.floor(offset / 2 ** 32);
  let h = Math.imul(lo ^ Math.imul(hi + 1, 0x9e3779b9), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) & 0xff;
}

/** A file of any size whose bytes are computed from their offset ({@link generatedByte}). */
export class GeneratedSource implements ContentSource {
  readonly size: number;

  constructor(size: number) {
    this.size = size;
  }

  read(offset: number, length: number): Uint8Array {
    const out = new Uint8Array(Math.max(0, Math.min(length, this.size - offset)));
    for (let i = 0; i < out.length; i++) out[i] = generatedByte(offset + i);
    return out;
  }
}

/** `size` bytes of seeded pseudo-random data (xorshift32; deterministic per seed). */
export function randomBytes(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = (seed | 0) || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x >>> 24;
  }
  return out;
}

/**
 * A manifest for `source` cut into `pieceSize` pieces. Only the pieces in `hashed` get their
 * real SHA-256 (all by default); the others get zeros, which is enough when the download resumes
 * them as already verified.
 */
export function buildManifest(
  source: ContentSource,
  pieceSize: number,
  hashed?: Iterable<number>,
): EngineManifest {
  const count = Math.ceil(source.size / pieceSize);
  const pieceHashes = new Uint8Array(count * 32);
  const which = hashed ?? Array.from({ length: count }, (_, i) => i);
  for (const p of which) {
    const offset = p * pieceSize;
    const bytes = source.read(offset, Math.min(pieceSize, source.size - offset));
    pieceHashes.set(createHash("sha256").update(bytes).digest(), p * 32);
  }
  return { size: source.size, pieceSize, pieceHashes };
}
