/**
 * A disk cache of manifests, so sharing an unchanged file again does not hash it again.
 * Entry layout: docs/STORAGE.md.
 * @module
 */
import { createHash } from "node:crypto";
import { statSync } from "node:fs";
import { join } from "node:path";
import {
  buildManifest,
  type BuildManifestOptions,
  type BuiltManifest,
  contentIdOf,
  decodeManifest,
  defaultPieceSizeFor,
  type FileIdentity,
} from "./manifest.ts";
import { toHex } from "../wire/hex.ts";
import { MAX_MANIFEST_BYTES } from "../wire/limits.ts";
import { diskError } from "./transfer_error.ts";

/** Options for {@link ManifestCache}. */
export interface ManifestCacheOptions {
  /** The function that hashes a file on a miss (instrumentation, tests). @default buildManifest */
  build?: (path: string, options: BuildManifestOptions) => Promise<BuiltManifest>;
  /** Where cache problems are reported (a corrupt entry, an unwritable cache dir). */
  log?: (line: string) => void;
}

/** A manifest from {@link ManifestCache.getOrBuild}. */
export interface CachedManifest extends BuiltManifest {
  /** True when it came from the cache (the file was not read). */
  cached: boolean;
  /** The absolute, symlink-free path the manifest describes. */
  path: string;
}

/** Counters of a {@link ManifestCache}. */
export interface ManifestCacheStats {
  /** Lookups answered from the cache. */
  hits: number;
  /** Lookups that hashed the file. */
  misses: number;
  /** Entries found but unusable (corrupt, or for an older version of the file). */
  stale: number;
  /** Entries that could not be written (the manifest is still returned). */
  writeErrors: number;
}

const ENTRY_MAGIC = 0x55534331; // "USC1"
const MAX_META_BYTES = 64 * 1024;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

interface EntryMeta extends FileIdentity {
  path: string;
  pieceSize: number;
}

/**
 * Manifests cached by (absolute path, piece size), valid while the file's size, mtime, ctime,
 * inode and device are unchanged. One file per (path, piece size) in the cache directory, so a
 * changed file replaces its own entry. Every entry carries a SHA-256 of itself: a corrupt or
 * truncated entry is ignored and rebuilt. Entries are written to a temporary file and renamed,
 * so a reader never sees half an entry. The cache is best-effort: if it cannot be written, the
 * manifest is still returned.
 *
 * Limits of the key: Deno reports mtime in milliseconds and ctime in whole seconds, so a
 * same-size rewrite that also puts the mtime back within the same second is not noticed. Such a
 * file is served with its old manifest and downloaders reject its pieces; share it again after
 * touching it.
 *
 * @example Share the same file twice, hashing it once
 * ```ts
 * import { ManifestCache } from "./manifest_cache.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeFile(`${dir}/f`, new Uint8Array(50_000));
 * const cache = new ManifestCache(`${dir}/.cache`);
 * const a = await cache.getOrBuild(`${dir}/f`);
 * const b = await cache.getOrBuild(`${dir}/f`);
 * console.log(a.cached, b.cached, a.contentIdHex === b.contentIdHex); // false true true
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class ManifestCache {
  /** The cache directory (created on the first write). */
  readonly dir: string;
  /** Hit, miss and error counters. */
  readonly stats: ManifestCacheStats = { hits: 0, misses: 0, stale: 0, writeErrors: 0 };
  readonly #build: (path: string, options: BuildManifestOptions) => Promise<BuiltManifest>;
  readonly #log: (line: string) => void;

  /**
   * Creates a cache over a directory (nothing is read or written until the first lookup).
   *
   * @param dir the cache directory
   * @param options hashing function and log sink
   */
  constructor(dir: string, options: ManifestCacheOptions = {}) {
    this.dir = dir;
    this.#build = options.build ?? buildManifest;
    this.#log = options.log ?? (() => {});
  }

  /**
   * Returns the manifest of `path` from the cache, or hashes the file and caches it.
   *
   * @param path the file (relative paths resolve against the current directory)
   * @param preferred bytes per piece @default defaultPieceSizeFor(the file's size)
   * @param options progress and cancellation of the hashing
   * @returns the manifest, its encoding, content id, and whether it was cached
   * @throws {TransferError} as `buildManifest` does (`not_found`, `disk`, `changed`, `aborted`)
   */
  async getOrBuild(
    path: string,
    preferred?: number,
    options: Omit<BuildManifestOptions, "pieceSize"> = {},
  ): Promise<CachedManifest> {
    let abs: string;
    let now: FileIdentity;
    try {
      abs = await Deno.realPath(path);
      const s = statSync(abs);
      now = { size: s.size, mtimeMs: s.mtimeMs, ctimeMs: s.ctimeMs, ino: s.ino, dev: s.dev };
    } catch (e) {
      throw diskError(`Cannot share ${path}`, e);
    }
    const pieceSize = preferred ?? defaultPieceSizeFor(now.size);
    const entryPath = this.entryPath(abs, pieceSize);
    const hit = await this.#read(entryPath, abs, pieceSize, now);
    if (hit) {
      this.stats.hits++;
      return hit;
    }
    this.stats.misses++;
    const built = await this.#build(abs, { ...options, pieceSize });
    await this.#write(entryPath, abs, pieceSize, built);
    return { ...built, cached: false, path: abs };
  }

  /** The entry file for (absolute path, piece size). */
  entryPath(absPath: string, pieceSize: number): string {
    const key = createHash("sha256").update(`${absPath}\u0000${pieceSize}`).digest("hex");
    return join(this.dir, `${key}.usmc`);
  }

  /**
   * Deletes entries that are corrupt or whose file is gone or changed.
   *
   * @returns the number of entries deleted
   */
  async prune(): Promise<number> {
    let removed = 0;
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(this.dir)];
    } catch {
      return 0;
    }
    for (const e of entries) {
      if (!e.isFile) continue;
      const p = join(this.dir, e.name);
      let keep = false;
      if (e.name.endsWith(".usmc")) {
        const parsed = await readEntry(p);
        if (typeof parsed === "object") {
          try {
            const s = statSync(parsed.meta.path);
            keep = sameFile(parsed.meta, {
              size: s.size,
              mtimeMs: s.mtimeMs,
              ctimeMs: s.ctimeMs,
              ino: s.ino,
              dev: s.dev,
            });
          } catch {
            keep = false;
          }
        }
      }
      if (!keep) {
        await Deno.remove(p).catch(() => {});
        removed++;
      }
    }
    return removed;
  }

  async #read(
    entryPath: string,
    abs: string,
    pieceSize: number,
    now: FileIdentity,
  ): Promise<CachedManifest | undefined> {
    const parsed = await readEntry(entryPath);
    if (parsed === "missing") return undefined;
    if (
      parsed === "corrupt" || parsed.meta.path !== abs || parsed.meta.pieceSize !== pieceSize ||
      !sameFile(parsed.meta, now) || parsed.manifest.size !== now.size ||
      parsed.manifest.pieceSize !== pieceSize
    ) {
      this.stats.stale++;
      if (parsed === "corrupt") this.#log(`manifest cache: ignoring corrupt entry ${entryPath}`);
      return undefined;
    }
    const contentId = contentIdOf(parsed.encoded);
    return {
      manifest: parsed.manifest,
      encoded: parsed.encoded,
      contentId,
      contentIdHex: toHex(contentId),
      file: now,
      cached: true,
      path: abs,
    };
  }

  async #write(entryPath: string, abs: string, pieceSize: number, built: BuiltManifest) {
    const meta: EntryMeta = { path: abs, pieceSize, ...built.file };
    const metaBytes = encoder.encode(JSON.stringify(meta));
    const out = new Uint8Array(8 + metaBytes.byteLength + built.encoded.byteLength + 32);
    const v = new DataView(out.buffer);
    v.setUint32(0, ENTRY_MAGIC);
    v.setUint32(4, metaBytes.byteLength);
    out.set(metaBytes, 8);
    out.set(built.encoded, 8 + metaBytes.byteLength);
    const bodyEnd = out.byteLength - 32;
    out.set(createHash("sha256").update(out.subarray(0, bodyEnd)).digest(), bodyEnd);
    const tmp = `${entryPath}.${crypto.randomUUID().slice(0, 8)}.tmp`;
    try {
      await Deno.mkdir(this.dir, { recursive: true });
      await Deno.writeFile(tmp, out);
      await Deno.rename(tmp, entryPath);
    } catch (e) {
      this.stats.writeErrors++;
      this.#log(`manifest cache: cannot write ${entryPath}: ${e instanceof Error ? e.message : e}`);
      await Deno.remove(tmp).catch(() => {});
    }
  }
}

interface ParsedEntry {
  meta: EntryMeta;
  encoded: Uint8Array;
  manifest: ReturnType<typeof decodeManifest>;
}

/** Reads and checks an entry. Unreadable counts as missing; anything malformed as corrupt. */
async function readEntry(path: string): Promise<ParsedEntry | "missing" | "corrupt"> {
  let bytes: Uint8Array;
  try {
    const st = await Deno.stat(path);
    if (!st.isFile || st.size > MAX_MANIFEST_BYTES + MAX_META_BYTES + 40) return "corrupt";
    bytes = await Deno.readFile(path);
  } catch {
    return "missing";
  }
  if (bytes.byteLength < 8 + 32) return "corrupt";
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (v.getUint32(0) !== ENTRY_MAGIC) return "corrupt";
  const metaLen = v.getUint32(4);
  if (metaLen > MAX_META_BYTES || 8 + metaLen + 32 > bytes.byteLength) return "corrupt";
  const bodyEnd = bytes.byteLength - 32;
  const sum = createHash("sha256").update(bytes.subarray(0, bodyEnd)).digest();
  for (let i = 0; i < 32; i++) if (sum[i] !== bytes[bodyEnd + i]) return "corrupt";
  try {
    const meta = JSON.parse(decoder.decode(bytes.subarray(8, 8 + metaLen))) as EntryMeta;
    if (typeof meta?.path !== "string" || typeof meta.size !== "number") return "corrupt";
    const encoded = bytes.slice(8 + metaLen, bodyEnd);
    return { meta, encoded, manifest: decodeManifest(encoded) };
  } catch {
    return "corrupt";
  }
}

function sameFile(a: FileIdentity, b: FileIdentity): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs &&
    a.ino === b.ino && a.dev === b.dev;
}
