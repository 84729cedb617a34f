import assert from "node:assert/strict";
import {
  buildManifest,
  type BuildManifestOptions,
  defaultPieceSizeFor,
} from "../../lib/peer/manifest.ts";
import { ManifestCache } from "../../lib/peer/manifest_cache.ts";
import { TransferError } from "../../lib/peer/transfer_error.ts";
import { withTempDir } from "../_harness/temp_dir.ts";

const KiB = 1024;

/** A cache whose hashing is counted, to prove when a file is (not) read. */
function countingCache(dir: string) {
  const hashed: string[] = [];
  const cache = new ManifestCache(`${dir}/.cache`, {
    build: (path: string, options: BuildManifestOptions) => {
      hashed.push(path);
      return buildManifest(path, options);
    },
  });
  return { cache, hashed };
}

function randomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(b.subarray(i, i + 65536));
  return b;
}

Deno.test("ManifestCache.getOrBuild() does not rehash an unchanged file", async () => {
  await withTempDir("udpswarm-cache-", async (dir) => {
    await Deno.writeFile(`${dir}/f.bin`, randomBytes(300 * KiB));
    const { cache, hashed } = countingCache(dir);
    const first = await cache.getOrBuild(`${dir}/f.bin`, 64 * KiB);
    assert.equal(first.cached, false);
    assert.equal(hashed.length, 1);
    const second = await cache.getOrBuild(`${dir}/f.bin`, 64 * KiB);
    assert.equal(second.cached, true);
    assert.equal(hashed.length, 1, "the file was not hashed again");
    assert.equal(second.contentIdHex, first.contentIdHex);
    assert.deepEqual(second.manifest, first.manifest);
    assert.deepEqual(second.encoded, first.encoded);
    assert.equal(second.path, await Deno.realPath(`${dir}/f.bin`));
    // A fresh cache object on the same directory (a restarted peer) hits too.
    const { cache: again, hashed: hashed2 } = countingCache(dir);
    assert.equal((await again.getOrBuild(`${dir}/f.bin`, 64 * KiB)).cached, true);
    assert.equal(hashed2.length, 0);
    assert.deepEqual(cache.stats, { hits: 1, misses: 1, stale: 0, writeErrors: 0 });
    assert.deepEqual(
      [...Deno.readDirSync(`${dir}/.cache`)].filter((e) => e.name.endsWith(".tmp")),
      [],
      "no temporary files left",
    );
  });
});

Deno.test("ManifestCache.getOrBuild() without a piece size uses the file size's default, and hits", async () => {
  await withTempDir("udpswarm-cache-", async (dir) => {
    await Deno.writeFile(`${dir}/f.bin`, randomBytes(300 * KiB));
    const { cache, hashed } = countingCache(dir);
    const first = await cache.getOrBuild(`${dir}/f.bin`);
    assert.equal(first.manifest.pieceSize, defaultPieceSizeFor(300 * KiB));
    assert.equal(first.manifest.pieceSize, 64 * KiB);
    assert.equal((await cache.getOrBuild(`${dir}/f.bin`)).cached, true);
    // The same as asking for that size explicitly (one entry per path and piece size)
    assert.equal((await cache.getOrBuild(`${dir}/f.bin`, 64 * KiB)).cached, true);
    assert.equal(hashed.length, 1);
  });
});

Deno.test("ManifestCache.getOrBuild() rehashes a touched or rewritten file", async () => {
  await withTempDir("udpswarm-cache-", async (dir) => {
    const path = `${dir}/f.bin`;
    const data = randomBytes(100 * KiB);
    await Deno.writeFile(path, data);
    const { cache, hashed } = countingCache(dir);
    const a = await cache.getOrBuild(path, 16 * KiB);

    // touch: same bytes, new mtime
    await Deno.utime(path, new Date(), new Date(Date.now() + 5000));
    const b = await cache.getOrBuild(path, 16 * KiB);
    assert.equal(b.cached, false);
    assert.equal(hashed.length, 2);
    assert.equal(b.contentIdHex, a.contentIdHex, "same bytes, same id");
    assert.equal((await cache.getOrBuild(path, 16 * KiB)).cached, true);

    // same size, different bytes, saved later (an editor's save)
    const st = await Deno.stat(path);
    const other = data.slice();
    other[5000]! ^= 0xff;
    await Deno.writeFile(path, other);
    await Deno.utime(path, st.atime!, new Date(st.mtime!.getTime() + 7000));
    const c = await cache.getOrBuild(path, 16 * KiB);
    assert.equal(c.cached, false);
    assert.equal(hashed.length, 3);
    assert.notEqual(c.contentIdHex, a.contentIdHex);

    // a different piece size is a different entry
    const d = await cache.getOrBuild(path, 32 * KiB);
    assert.equal(d.cached, false);
    assert.equal((await cache.getOrBuild(path, 16 * KiB)).cached, true);
    assert.equal((await cache.getOrBuild(path, 32 * KiB)).cached, true);
    assert.equal(hashed.length, 4);
  });
});

Deno.test("ManifestCache ignores and rebuilds corrupt, truncated or foreign entries", async () => {
  await withTempDir("udpswarm-cache-", async (dir) => {
    const path = `${dir}/f.bin`;
    await Deno.writeFile(path, randomBytes(200 * KiB));
    const lines: string[] = [];
    const hashed: string[] = [];
    const cache = new ManifestCache(`${dir}/.cache`, {
      build: (p, o) => (hashed.push(p), buildManifest(p, o)),
      log: (l) => lines.push(l),
    });
    const good = await cache.getOrBuild(path, 16 * KiB);
    const entry = cache.entryPath(good.path, 16 * KiB);
    const original = await Deno.readFile(entry);
    const damages: [string, Uint8Array][] = [
      [
        "bit flip in a piece hash",
        (() => {
          const b = original.slice();
          b[b.byteLength - 40]! ^= 1;
          return b;
        })(),
      ],
      ["truncated", original.subarray(0, original.byteLength - 7)],
      ["empty", new Uint8Array(0)],
      ["garbage", randomBytes(500)],
      [
        "huge meta length",
        (() => {
          const b = original.slice();
          new DataView(b.buffer).setUint32(4, 0xffffffff);
          return b;
        })(),
      ],
    ];
    for (const [what, bytes] of damages) {
      await Deno.writeFile(entry, bytes);
      const r = await cache.getOrBuild(path, 16 * KiB);
      assert.equal(r.cached, false, what);
      assert.equal(r.contentIdHex, good.contentIdHex, what);
      assert.deepEqual(await Deno.readFile(entry), original, `${what}: entry rewritten`);
      assert.equal((await cache.getOrBuild(path, 16 * KiB)).cached, true, what);
    }
    assert.equal(hashed.length, 1 + damages.length);
    assert.ok(lines.some((l) => l.includes("corrupt entry")), lines.join("\n"));

    // An entry copied from another file's slot is not used for this one.
    await Deno.writeFile(`${dir}/g.bin`, randomBytes(10 * KiB));
    const g = await cache.getOrBuild(`${dir}/g.bin`, 16 * KiB);
    await Deno.copyFile(cache.entryPath(g.path, 16 * KiB), entry);
    const r = await cache.getOrBuild(path, 16 * KiB);
    assert.equal(r.cached, false);
    assert.equal(r.contentIdHex, good.contentIdHex);
  });
});

Deno.test("ManifestCache still returns the manifest when the cache cannot be written", async () => {
  await withTempDir("udpswarm-cache-", async (dir) => {
    await Deno.writeFile(`${dir}/f.bin`, randomBytes(20 * KiB));
    await Deno.writeTextFile(`${dir}/not-a-dir`, "x");
    const lines: string[] = [];
    const cache = new ManifestCache(`${dir}/not-a-dir/cache`, { log: (l) => lines.push(l) });
    const a = await cache.getOrBuild(`${dir}/f.bin`, 16 * KiB);
    assert.equal(a.cached, false);
    assert.equal(a.manifest.size, 20 * KiB);
    assert.equal(cache.stats.writeErrors, 1);
    assert.equal(lines.length, 1);
  });
});

Deno.test("ManifestCache shares one entry between symlinks to a file", async () => {
  await withTempDir("udpswarm-cache-", async (dir) => {
    await Deno.writeFile(`${dir}/real.bin`, randomBytes(20 * KiB));
    await Deno.symlink(`${dir}/real.bin`, `${dir}/link.bin`);
    const { cache, hashed } = countingCache(dir);
    await cache.getOrBuild(`${dir}/real.bin`, 16 * KiB);
    const viaLink = await cache.getOrBuild(`${dir}/link.bin`, 16 * KiB);
    assert.equal(viaLink.cached, true);
    assert.equal(hashed.length, 1);
  });
});

Deno.test("ManifestCache.getOrBuild() reports a missing file as not_found", async () => {
  await withTempDir("udpswarm-cache-", async (dir) => {
    const cache = new ManifestCache(`${dir}/.cache`);
    await assert.rejects(
      cache.getOrBuild(`${dir}/missing.bin`),
      (e: unknown) => e instanceof TransferError && e.code === "not_found",
    );
  });
});

Deno.test("ManifestCache.prune() deletes entries of deleted or changed files only", async () => {
  await withTempDir("udpswarm-cache-", async (dir) => {
    const { cache } = countingCache(dir);
    for (const n of ["a", "b", "c"]) {
      await Deno.writeFile(`${dir}/${n}`, randomBytes(KiB));
      await cache.getOrBuild(`${dir}/${n}`, 16 * KiB);
    }
    await Deno.remove(`${dir}/a`);
    await Deno.writeFile(`${dir}/b`, randomBytes(2 * KiB));
    await Deno.writeTextFile(`${dir}/.cache/junk.usmc`, "junk");
    assert.equal(await cache.prune(), 3);
    assert.equal((await cache.getOrBuild(`${dir}/c`, 16 * KiB)).cached, true);
    assert.equal([...Deno.readDirSync(`${dir}/.cache`)].length, 1);
  });
});
