/**
 * `startPeer()` on real loopback sockets: a tracker and several peers in this process, real files
 * in temp dirs. Covers the paths the simulation cannot: the UDP driver, the piece writer thread,
 * the part files on disk, resume across peer restarts, and sharing after a download.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startTracker } from "../../lib/tracker/server.ts";
import { startPeer } from "../../lib/peer/peer.ts";
import type {
  DownloadHandle,
  DownloadProgress,
  DownloadResult,
  PeerOptions,
} from "../../lib/peer/api.ts";
import { TransferError } from "../../lib/peer/transfer_error.ts";
import { listDir as list, randomFile, sha256File, tempDir } from "../_harness/processes.ts";
import { waitUntil, withTimeout } from "../_harness/wait.ts";
import { loopbackSwarm } from "../_harness/loopback_swarm.ts";
import { RelayPool } from "../_harness/relay_pool.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

/** Starts a peer against `tracker`; the caller disposes of it. */
function peer(tracker: string, nodeId: string, dir: string, extra: PeerOptions = {}) {
  return startPeer({ tracker, nodeId, dir, outDir: dir, cacheDir: join(dir, ".cache"), ...extra });
}

function trackerAddr(t: { localAddr: Deno.NetAddr }): string {
  return `${t.localAddr.hostname}:${t.localAddr.port}`;
}

async function mkdir(path: string): Promise<string> {
  await Deno.mkdir(path, { recursive: true });
  return path;
}

/** Waits for a download to finish, with a deadline. */
function finish(h: DownloadHandle, ms: number, what: string): Promise<DownloadResult> {
  return withTimeout(h.done, ms, what);
}

/** Waits for a download to fail and returns its TransferError. */
async function failure(h: DownloadHandle, ms: number, what: string): Promise<TransferError> {
  const e = await withTimeout(
    h.done.then(
      (r) => new Error(`${what}: expected a failure, got ${r.path}`),
      (e: unknown) => e,
    ),
    ms,
    what,
  );
  assert.ok(e instanceof TransferError, `${what}: ${e instanceof Error ? e.stack : e}`);
  return e;
}

/**
 * A relay pool in front of the owners whose relays each pause after `budget[nodeId]` bytes (the
 * transfer then holds still at a point the test chose, instead of being raced at a progress
 * figure). `held` resolves when the first of them pauses.
 */
function holdingPool(seed: number, budgets: Record<string, number>) {
  const budget = { ...budgets };
  const first = Promise.withResolvers<string>();
  const pool = new RelayPool({
    seed,
    onRelay: (relay, nodeId) => {
      // Only an owner's first relay: one that comes back on another port is not held again.
      const bytes = budget[nodeId];
      delete budget[nodeId];
      if (bytes !== undefined) void relay.pauseAfter(bytes).then(() => first.resolve(nodeId));
    },
  });
  return { pool, held: (what: string) => withTimeout(first.promise, 30_000, what) };
}

Deno.test("startPeer() downloads 32 MiB from 2 owners and shares it on", async () => {
  await using tmp = await loopbackSwarm("udpswarm-peer-", ["a", "b", "c", "d"]);
  const { address: t } = tmp;
  const [dA, dB, dC, dD] = tmp.dirs;
  const size = 32 * MiB;
  await randomFile(join(dA!, "big.bin"), size, 1);
  await Deno.copyFile(join(dA!, "big.bin"), join(dB!, "big.bin"));
  const want = await sha256File(join(dA!, "big.bin"));

  await using a = await peer(t, "ownerA", dA!);
  await using b = await peer(t, "ownerB", dB!);
  await using c = await peer(t, "downloader", dC!);
  const sa = await a.share("big.bin");
  const sb = await b.share("big.bin");
  assert.equal(sa.contentId, sb.contentId);

  const h = c.download("big.bin");
  assert.deepEqual([...c.downloads.values()], [h]);
  let last: DownloadProgress | undefined;
  h.onProgress((p) => last = p);
  const r = await finish(h, 40_000, "download from 2 owners");
  // Listeners hear about the end, however fast the download was.
  assert.equal(last?.verifiedBytes, size);
  assert.equal(h.progress?.verifiedBytes, size);
  assert.equal(r.path, join(dC!, "big.bin"));
  assert.equal(r.size, size);
  assert.equal(r.contentId, sa.contentId);
  assert.equal(await sha256File(r.path), want);
  const owners = new Map(r.owners.map((o) => [o.nodeId, o.bytes]));
  assert.deepEqual([...owners.keys()].sort(), ["ownerA", "ownerB"]);
  for (const [id, bytes] of owners) assert.ok(bytes > 0, `owner ${id} delivered ${bytes} bytes`);
  assert.equal(r.owners.reduce((s, o) => s + o.bytes, 0), size);
  assert.deepEqual(c.downloadedFiles.get("big.bin")?.slice().sort(), ["ownerA", "ownerB"]);
  assert.deepEqual(await list(dC!), ["big.bin"], "no part files left");
  assert.equal(c.downloads.size, 0);

  // The downloader shares it from now on; a fourth peer fetches it with A and B gone.
  assert.equal(c.files.get(sa.contentId)?.path, r.path);
  assert.ok(c.isInSendMode);
  await a.close();
  await b.close();
  await using d = await peer(t, "fourth", dD!);
  const r2 = await finish(d.download(sa.contentId), 40_000, "download from the downloader");
  assert.deepEqual(r2.owners.map((o) => o.nodeId), ["downloader"]);
  assert.equal(await sha256File(r2.path), want);
});

Deno.test("startPeer() resumes a download stopped midway from its verified pieces", async () => {
  await using tmp = await loopbackSwarm("udpswarm-peer-", ["a", "b", "c"]);
  const { address: t } = tmp;
  const [dA, dB, dC] = tmp.dirs;
  const size = 64 * MiB;
  await randomFile(join(dA!, "film.bin"), size, 2);
  await Deno.copyFile(join(dA!, "film.bin"), join(dB!, "film.bin"));
  const want = await sha256File(join(dA!, "film.bin"));
  await using a = await peer(t, "ownerA", dA!);
  await using b = await peer(t, "ownerB", dB!);
  const { contentId } = await a.share("film.bin");
  await b.share("film.bin");

  // Run 1: each owner's relay holds the transfer after 8 MiB; the peer is closed while held.
  {
    const { pool, held } = holdingPool(11, { ownerA: 8 * MiB, ownerB: 8 * MiB });
    await using _pool = pool;
    const c = await peer(t, "downloader", dC!, { mapOwnerAddress: pool.map });
    const h = c.download("film.bin");
    const stopped = failure(h, 40_000, "first run");
    await held("the first run to reach its budget");
    pool.pause();
    await waitUntil(() => (h.progress?.verifiedBytes ?? 0) > 0, 10_000, "a verified piece");
    await withTimeout(c.close(), 10_000, "closing the first downloader");
    const e = await stopped;
    assert.equal(e.code, "aborted");
    const verified = h.progress?.verifiedBytes ?? 0;
    assert.ok(verified < size, `stopped before the end (${verified} bytes verified)`);
  }
  const leftOver = await list(dC!);
  const base = `film.bin.${contentId.slice(0, 16)}`;
  assert.deepEqual(leftOver, [`${base}.part`, `${base}.part.manifest`, `${base}.part.state`]);

  // Run 2: a new peer with the same outDir picks up the verified pieces.
  await using c2 = await peer(t, "downloader2", dC!);
  const r = await finish(c2.download("film.bin"), 40_000, "second run");
  assert.equal(await sha256File(r.path), want);
  assert.ok(r.resumedBytes > 0, "some bytes were resumed");
  assert.ok(r.resumedBytes < size);
  // What the second run fetched beyond the missing bytes is what it re-asked after losses (a
  // loaded loopback drops datagrams too) plus at most 2 MiB in flight at the end.
  const margin = 2 * MiB + (r.retransmittedBytes ?? 0);
  assert.ok(
    r.receivedBytes <= size - r.resumedBytes + margin,
    `second run received ${r.receivedBytes} bytes, resumed ${r.resumedBytes} of ${size}, ` +
      `re-asked ${r.retransmittedBytes} bytes`,
  );
  assert.ok(r.receivedBytes >= size - r.resumedBytes);
  assert.deepEqual(await list(dC!), ["film.bin"], "part files are gone");
});

Deno.test("startPeer() keeps two different files with the same name apart", async (t) => {
  await using tmp = await loopbackSwarm("udpswarm-peer-", ["a", "b", "c", "d"]);
  const { address: tr } = tmp;
  const [dA, dB, dC, dD] = tmp.dirs;
  await randomFile(join(dA!, "same.bin"), 3 * MiB + 17, 31);
  await randomFile(join(dB!, "same.bin"), 2 * MiB + 5, 32);
  const wantX = await sha256File(join(dA!, "same.bin"));
  const wantY = await sha256File(join(dB!, "same.bin"));
  await using a = await peer(tr, "ownerA", dA!);
  await using b = await peer(tr, "ownerB", dB!);
  const x = await a.share("same.bin");
  const y = await b.share("same.bin");
  assert.notEqual(x.contentId, y.contentId);

  await t.step("by content id, saved under other names", async () => {
    await using c = await peer(tr, "downloader", dC!);
    const [rx, ry] = await Promise.all([
      finish(c.download(x.contentId, { saveAs: "x.bin" }), 20_000, "x by id"),
      finish(c.download(y.contentId, { saveAs: "y.bin" }), 20_000, "y by id"),
    ]);
    assert.equal(rx.path, join(dC!, "x.bin"));
    assert.equal(ry.path, join(dC!, "y.bin"));
    assert.deepEqual(rx.owners.map((o) => o.nodeId), ["ownerA"]);
    assert.deepEqual(ry.owners.map((o) => o.nodeId), ["ownerB"]);
    assert.equal(await sha256File(rx.path), wantX);
    assert.equal(await sha256File(ry.path), wantY);
    assert.deepEqual(await list(dC!), ["x.bin", "y.bin"]);
  });

  await t.step("by content id, both under the shared name: one wins, no mixing", async () => {
    const dE = await mkdir(join(tmp.path, "e"));
    await using e = await peer(tr, "racer", dE);
    const settled = await withTimeout(
      Promise.allSettled([e.download(x.contentId).done, e.download(y.contentId).done]),
      20_000,
      "both downloads",
    );
    const won = settled.filter((s) => s.status === "fulfilled");
    const lost = settled.filter((s) => s.status === "rejected");
    assert.equal(won.length, 1, JSON.stringify(settled.map((s) => s.status)));
    assert.equal(lost.length, 1);
    const reason = lost[0]!.reason;
    assert.ok(reason instanceof TransferError && reason.code === "exists", String(reason));
    const winner = won[0]!.value;
    assert.equal(
      await sha256File(join(dE, "same.bin")),
      winner.contentId === x.contentId ? wantX : wantY,
    );
    // The loser's verified data stays in its own part file, named by its content id.
    const loserId = winner.contentId === x.contentId ? y.contentId : x.contentId;
    const names = await list(dE);
    assert.ok(names.includes("same.bin"));
    for (const n of names.filter((n) => n.includes(".part"))) {
      assert.ok(n.startsWith(`same.bin.${loserId.slice(0, 16)}.part`), n);
    }
  });

  await t.step("by name: ambiguous, never one picked silently", async () => {
    await using d = await peer(tr, "fourth", dD!);
    const e = await failure(d.download("same.bin"), 10_000, "download of an ambiguous name");
    assert.equal(e.code, "ambiguous");
    assert.match(e.message, /2 different contents share this name; choose one by content id/);
    const listed = await d.list("same.bin", { match: "exact" });
    assert.deepEqual(
      listed.files.map((f) => [f.contentId, f.size, f.owners]).sort(),
      [[x.contentId, x.size, 1], [y.contentId, y.size, 1]].sort(),
    );
    assert.deepEqual(await list(dD!), [], "nothing written");
  });

  await t.step("by content id onto an existing file: exists unless overwrite", async () => {
    await using d = await peer(tr, "fifth", dD!);
    const mine = new TextEncoder().encode("my own file, not shared\n");
    await Deno.writeFile(join(dD!, "same.bin"), mine);
    const e = await failure(d.download(x.contentId), 10_000, "download onto an existing file");
    assert.equal(e.code, "exists");
    assert.match(e.message, /overwrite/);
    assert.deepEqual(await Deno.readFile(join(dD!, "same.bin")), mine);
    assert.deepEqual(await list(dD!), ["same.bin"], "nothing left behind");

    const r = await finish(d.download(x.contentId, { overwrite: true }), 20_000, "overwrite");
    assert.equal(r.contentId, x.contentId);
    assert.equal(await sha256File(r.path), wantX);
    assert.deepEqual(await list(dD!), ["same.bin"]);
  });

  await t.step("by content id with the wrong expected size: size_mismatch", async () => {
    const dF = await mkdir(join(tmp.path, "f"));
    await using f = await peer(tr, "sixth", dF);
    const e = await failure(
      f.download(y.contentId, { expectedSize: y.size + 1 }),
      10_000,
      "a link with the wrong size",
    );
    assert.equal(e.code, "size_mismatch");
    assert.match(e.message, /the link says/);
    assert.deepEqual(await list(dF), []);
  });
});

Deno.test("startPeer() download() fails with a clear TransferError", async (t) => {
  await using tmp = await loopbackSwarm("udpswarm-peer-", ["a", "b", "c"]);
  const { address: tr } = tmp;
  const [dA, dB, dC] = tmp.dirs;
  const size = 16 * MiB;
  await randomFile(join(dA!, "f.bin"), size, 41);
  await Deno.copyFile(join(dA!, "f.bin"), join(dB!, "f.bin"));
  const want = await sha256File(join(dA!, "f.bin"));

  await t.step("not_found for a name nobody shares", async () => {
    await using c = await peer(tr, "asker", dC!);
    const e = await failure(c.download("nobody.bin"), 10_000, "unknown name");
    assert.equal(e.code, "not_found");
    assert.match(e.message, /nobody\.bin/);
    const id = "ab".repeat(32);
    const e2 = await failure(c.download(id), 10_000, "unknown content id");
    assert.equal(e2.code, "not_found");
    assert.deepEqual(await list(dC!), []);
  });

  await t.step(
    "bad_name for an unsafe saveAs; nothing written outside the output dir",
    async () => {
      await using a = await peer(tr, "ownerA", dA!);
      const { contentId } = await a.share("f.bin");
      const out = await mkdir(join(tmp.path, "c7", "out"));
      await using c = await peer(tr, "asker", out);
      for (const saveAs of ["../escape.bin", "/tmp/abs.bin", "a/b.bin", "..", ""]) {
        const e = await failure(c.download(contentId, { saveAs }), 10_000, `saveAs ${saveAs}`);
        assert.equal(e.code, "bad_name", `${saveAs}: ${e.code} ${e.message}`);
      }
      assert.deepEqual(await list(join(tmp.path, "c7")), ["out"]);
      assert.deepEqual(await list(out), []);
    },
  );

  await t.step("download() on a closed peer fails at once", async () => {
    const c = await peer(tr, "closed", dC!);
    await c.close();
    const e = await failure(c.download("f.bin"), 10_000, "download on a closed peer");
    assert.ok(e.message.length > 0, `${e.code}: ${e.message}`);
  });

  await t.step("an owner that leaves midway is replaced by the other", async () => {
    const out = await mkdir(join(tmp.path, "c1"));
    await using a = await peer(tr, "ownerA", dA!);
    await using b = await peer(tr, "ownerB", dB!);
    await a.share("f.bin");
    await b.share("f.bin");
    // A leaves after 4 MiB, while B's relay (which pauses after 8 MiB) holds B's share too.
    const { pool } = holdingPool(12, { ownerA: 4 * MiB, ownerB: 8 * MiB });
    await using _pool = pool;
    await using c = await peer(tr, "downloader", out, { mapOwnerAddress: pool.map });
    const h = c.download("f.bin");
    const done = finish(h, 30_000, "download with one owner leaving");
    await waitUntil(
      () => pool.relaysOf("ownerA")[0]?.paused ?? false,
      30_000,
      "owner A to reach its budget",
      { intervalMs: 5 },
    );
    pool.pause();
    assert.ok((h.progress?.verifiedBytes ?? 0) < size, "owner A leaves before the end");
    await withTimeout(a.close(), 10_000, "owner A closing");
    pool.resume();
    const r = await done;
    assert.equal(await sha256File(r.path), want);
    assert.ok(r.owners.some((o) => o.nodeId === "ownerB" && o.bytes > 0));
    assert.equal(r.owners.reduce((s, o) => s + o.bytes, 0), size - r.resumedBytes);
  });

  await t.step(
    "aborted by a signal, already aborted or aborted midway; the part is kept",
    async () => {
      const out = await mkdir(join(tmp.path, "c3"));
      await using a = await peer(tr, "ownerA", dA!);
      const { contentId } = await a.share("f.bin");
      await using c = await peer(tr, "downloader", out);
      const e1 = await failure(
        c.download("f.bin", { signal: AbortSignal.abort() }),
        10_000,
        "download with an aborted signal",
      );
      assert.equal(e1.code, "aborted");
      assert.deepEqual(await list(out), [], "nothing written for an already aborted signal");

      const { pool, held } = holdingPool(14, { ownerA: size / 4 });
      await using _pool = pool;
      await using c2 = await peer(tr, "downloader2", out, { mapOwnerAddress: pool.map });
      const ac = new AbortController();
      const h = c2.download("f.bin", { signal: ac.signal });
      const aborted = failure(h, 30_000, "download aborted midway");
      await held("a quarter of the file to arrive");
      await waitUntil(() => (h.progress?.verifiedBytes ?? 0) > 0, 10_000, "a verified piece");
      const verifiedAtAbort = h.progress!.verifiedBytes;
      ac.abort();
      const e2 = await aborted;
      pool.resume();
      assert.equal(e2.code, "aborted");
      const base = `f.bin.${contentId.slice(0, 16)}`;
      assert.deepEqual(await list(out), [
        `${base}.part`,
        `${base}.part.manifest`,
        `${base}.part.state`,
      ]);
      assert.equal(c2.downloads.size, 0);
      // The same peer picks it up again: the aborted run released its part file.
      const r = await finish(c2.download("f.bin"), 30_000, "download again after the abort");
      assert.ok(r.resumedBytes >= verifiedAtAbort, `resumed ${r.resumedBytes}`);
      assert.equal(await sha256File(r.path), want);
      assert.deepEqual(await list(out), ["f.bin"]);
    },
  );

  await t.step(
    "an owner whose file changed after sharing is dropped; the other serves",
    async () => {
      const dA2 = await mkdir(join(tmp.path, "a2"));
      await Deno.copyFile(join(dA!, "f.bin"), join(dA2, "f.bin"));
      const out = await mkdir(join(tmp.path, "c5"));
      await using a = await peer(tr, "changed", dA2);
      await using b = await peer(tr, "ownerB", dB!);
      await a.share("f.bin");
      await b.share("f.bin");
      await randomFile(join(dA2, "f.bin"), size, 999); // same size, other bytes
      await using c = await peer(tr, "downloader", out);
      const r = await finish(c.download("f.bin"), 30_000, "download with a changed owner");
      assert.equal(await sha256File(r.path), want);
      assert.ok(
        !r.owners.some((o) => o.nodeId === "changed" && o.bytes > 0),
        JSON.stringify(r.owners),
      );
    },
  );

  await t.step("disk or not_found when the output dir is under a regular file", async () => {
    await using a = await peer(tr, "ownerA", dA!);
    await a.share("f.bin");
    await using c = await peer(tr, "asker", dC!);
    await Deno.writeTextFile(join(dC!, "plain"), "a file, not a directory\n");
    const out = join(dC!, "plain", "sub");
    const e = await failure(c.download("f.bin", { outDir: out }), 10_000, "bad outDir");
    assert.ok(e.code === "disk" || e.code === "not_found", `${e.code}: ${e.message}`);
    assert.match(e.message, /plain/);
    // With overwrite the existence check is skipped: the part file is what fails.
    const e2 = await failure(
      c.download("f.bin", { outDir: out, overwrite: true }),
      10_000,
      "bad outDir, overwrite",
    );
    assert.ok(e2.code === "disk" || e2.code === "not_found", `${e2.code}: ${e2.message}`);
    assert.match(e2.message, /plain/);
    // A directory that does not exist is not created.
    const e3 = await failure(
      c.download("f.bin", { outDir: join(dC!, "missing") }),
      10_000,
      "missing outDir",
    );
    assert.equal(e3.code, "not_found", e3.message);
    assert.deepEqual(await list(dC!), ["plain"], "nothing left behind");
  });
});

/**
 * Runs scenarios side by side and reports every failure by name. For scenarios that spend their
 * time waiting on the download's own timers (an owner silent for the stall timeout, then the
 * no-owner grace), so together they take as long as the slowest one.
 */
async function sideBySide(scenarios: Record<string, () => Promise<void>>): Promise<void> {
  const names = Object.keys(scenarios);
  const settled = await Promise.allSettled(names.map((n) => scenarios[n]!()));
  const failed = settled.flatMap((r, i) =>
    r.status === "rejected" ? [{ name: names[i]!, error: r.reason as unknown }] : []
  );
  if (failed.length > 0) {
    throw new AggregateError(
      failed.map((f) => f.error),
      failed.map((f) => `${f.name}: ${f.error instanceof Error ? f.error.stack : f.error}`)
        .join("\n"),
    );
  }
}

Deno.test("startPeer() download() gives up or finds its owners again in bounded time", async () => {
  await using tmp = await loopbackSwarm("udpswarm-peer-", []);
  const { address: tr } = tmp;
  const size = 16 * MiB;
  /** A directory with its own 16 MiB f.bin: each scenario has a content nobody else owns. */
  const owned = async (name: string, seed: number) => {
    const dir = await mkdir(join(tmp.path, name));
    await randomFile(join(dir, "f.bin"), size, seed);
    return { dir, want: await sha256File(join(dir, "f.bin")) };
  };

  await sideBySide({
    "all_owners_failed when the only owner leaves; the part is kept": async () => {
      const out = await mkdir(join(tmp.path, "leave"));
      const { dir } = await owned("leaver", 43);
      await using a = await peer(tr, "leaver", dir);
      const { contentId } = await a.share("f.bin");
      const { pool, held } = holdingPool(13, { leaver: size / 4 });
      await using _pool = pool;
      await using c = await peer(tr, "dl-leave", out, { mapOwnerAddress: pool.map });
      const h = c.download(contentId);
      const failed = failure(h, 40_000, "download whose only owner leaves");
      await held("a quarter of the file to arrive");
      const leftAt = performance.now();
      await a.close();
      pool.resume();
      const e = await failed;
      const took = performance.now() - leftAt;
      assert.equal(e.code, "all_owners_failed", e.message);
      assert.match(e.message, /\.part/);
      // About the stall timeout (5 s) plus the no-owner grace (8 s).
      assert.ok(took < 25_000, `gave up ${took.toFixed(0)} ms after the owner left`);
      const base = `f.bin.${contentId.slice(0, 16)}`;
      assert.deepEqual(await list(out), [
        `${base}.part`,
        `${base}.part.manifest`,
        `${base}.part.state`,
      ]);
    },

    "the only owner's file changed: all_owners_failed, no corrupt file": async () => {
      const { dir: dX } = await owned("changer", 44);
      const out = await mkdir(join(tmp.path, "changed"));
      await using x = await peer(tr, "changer", dX);
      const { contentId } = await x.share("f.bin");
      await randomFile(join(dX, "f.bin"), size, 998); // same size, other bytes
      await using c = await peer(tr, "dl-changed", out);
      const e = await failure(c.download(contentId), 40_000, "download from a changed file");
      assert.equal(e.code, "all_owners_failed", e.message);
      assert.ok(!(await list(out)).includes("f.bin"), "no file under the final name");
    },

    "an owner that restarts on another port is found again": async () => {
      const out = await mkdir(join(tmp.path, "restart"));
      const { dir: dR, want } = await owned("restarter", 45);
      const a = await peer(tr, "restarter", dR);
      let a2: Awaited<ReturnType<typeof peer>> | undefined;
      try {
        const { contentId } = await a.share("f.bin");
        const { pool, held } = holdingPool(15, { restarter: size / 4 });
        await using _pool = pool;
        await using c = await peer(tr, "dl-restart", out, { mapOwnerAddress: pool.map });
        const h = c.download(contentId);
        const done = finish(h, 40_000, "download across an owner restart");
        await held("a quarter of the file to arrive");
        await a.close();
        a2 = await peer(tr, "restarter", dR);
        await a2.share("f.bin");
        pool.resume();
        const r = await done;
        assert.notEqual(a2!.address.port, a.address.port);
        assert.equal(await sha256File(r.path), want);
      } finally {
        await a.close();
        await a2?.close();
      }
    },
  });
});

Deno.test("startPeer() finishes without a tracker and announces the file once it is back", async () => {
  await using tmp = await tempDir("udpswarm-peer-");
  const T = 500; // heartbeat interval, so the peers notice the restarted tracker quickly
  const first = await startTracker({ port: 0, intervalMs: T });
  const port = first.localAddr.port;
  try {
    const tr = trackerAddr(first);
    const [dA, dC, dD] = await Promise.all(["a", "c", "d"].map((n) => mkdir(join(tmp.path, n))));
    const size = 16 * MiB;
    await randomFile(join(dA!, "t.bin"), size, 61);
    const want = await sha256File(join(dA!, "t.bin"));
    const a = await peer(tr, "ownerA", dA!);
    let contentId: string;
    try {
      contentId = (await a.share("t.bin")).contentId;
      const { pool, held } = holdingPool(16, { ownerA: (size * 3) / 4 });
      await using _pool = pool;
      await using c = await peer(tr, "downloader", dC!, { mapOwnerAddress: pool.map });
      const h = c.download("t.bin");
      const done = finish(h, 30_000, "download without a tracker");
      await held("three quarters of the file to arrive");
      await first.close();
      const goneAt = performance.now();
      pool.resume();
      const r = await done;
      const took = performance.now() - goneAt;
      // The result does not wait for the tracker to acknowledge the re-share (OWN gives up
      // after ~8 s); the file is served and listed at once.
      assert.ok(took < 5000, `done ${took.toFixed(0)} ms after the tracker left`);
      assert.equal(await sha256File(r.path), want);
      assert.equal(c.files.get(contentId)?.path, r.path);

      // The tracker comes back on the same port; only the downloader has the file now.
      await a.close();
      await using second = await startTracker({ port, intervalMs: T });
      await waitUntil(() => second.counters.files === 1, 15_000, "the downloader announced it", {
        intervalMs: 50,
        describe: () => `${second.peerCount} peers, ${second.counters.files} files`,
      });
      await using d = await peer(tr, "fourth", dD!);
      const r2 = await finish(d.download(contentId), 20_000, "download from the downloader");
      assert.deepEqual(r2.owners.map((o) => o.nodeId), ["downloader"]);
      assert.equal(await sha256File(r2.path), want);
    } finally {
      await a.close();
    }
  } finally {
    await first.close();
  }
});

Deno.test("startPeer() completes from 2 owners through lossy, reordering, duplicating relays", async (t) => {
  await using tmp = await loopbackSwarm("udpswarm-peer-", ["a", "b"]);
  const { address: tr } = tmp;
  const [dA, dB] = tmp.dirs;
  const size = 16 * MiB;
  await randomFile(join(dA!, "lossy.bin"), size, 51);
  await Deno.copyFile(join(dA!, "lossy.bin"), join(dB!, "lossy.bin"));
  const want = await sha256File(join(dA!, "lossy.bin"));
  await using a = await peer(tr, "ownerA", dA!);
  await using b = await peer(tr, "ownerB", dB!);
  await a.share("lossy.bin");
  await b.share("lossy.bin");
  // Probed (large) datagrams, then 1452-byte ones: ~12 000 datagrams, many more losses.
  for (const [seed, mtu] of [[5, 0], [6, 1500]] as const) {
    await t.step(mtu ? `mtu ${mtu}` : "probed datagram size", async () => {
      const out = await mkdir(join(tmp.path, `c${seed}`));
      await using pool = new RelayPool({ seed, loss: 0.05, reorder: 0.05, duplicate: 0.01 });
      await using c = await peer(tr, `downloader${seed}`, out, { mapOwnerAddress: pool.map, mtu });
      const r = await finish(c.download("lossy.bin"), 40_000, "download through lossy relays");
      assert.equal(await sha256File(r.path), want);
      assert.deepEqual(r.owners.map((o) => o.nodeId).sort(), ["ownerA", "ownerB"]);
      const totals = pool.totals();
      assert.ok(totals.fromTarget.dropped > 0 && totals.toTarget.dropped > 0, "the relays dropped");
      assert.ok(totals.fromTarget.duplicated > 0, "the relays duplicated");
      assert.ok(totals.fromTarget.reordered > 0, "the relays reordered");
      assert.ok(r.retransmits > 0, "losses were recovered by re-requests");
      assert.deepEqual(await list(out), ["lossy.bin"]);
      // Recovery re-requests what was lost, not much more (5 % loss, 1 % duplicates).
      assert.ok(
        r.receivedBytes < 1.3 * size,
        `received ${r.receivedBytes} bytes for ${size}: ${
          JSON.stringify({
            retransmits: r.retransmits,
            retransmittedBytes: r.retransmittedBytes,
            owners: r.owners,
            relays: totals,
          })
        }`,
      );
    });
  }
});

Deno.test("startPeer() transfers edge sizes through real sockets", async (t) => {
  await using tmp = await loopbackSwarm("udpswarm-peer-", ["a", "b", "c"]);
  const { address: tr } = tmp;
  const [dA, dB, dC] = tmp.dirs;
  // Piece size 64 KiB; blocks are at most 32 KiB on loopback, 1420-ish bytes with mtu 1500.
  await using a = await peer(tr, "ownerA", dA!, { pieceSize: 64 * KiB });
  await using b = await peer(tr, "ownerB", dB!, { pieceSize: 64 * KiB });
  const cases: [string, number, PeerOptions][] = [
    ["empty.bin", 0, {}],
    ["one.bin", 1, {}],
    ["odd.bin", 5 * 64 * KiB + 32 * KiB + 1233, {}],
    ["odd-small-datagrams.bin", 3 * 64 * KiB + 1421, { mtu: 1500 }],
    ["under-one-block.bin", 1000, { mtu: 1500 }],
  ];
  for (const [name, size, options] of cases) {
    await t.step(`${size} bytes${options.mtu ? ` with mtu ${options.mtu}` : ""}`, async () => {
      await randomFile(join(dA!, name), size, size + 7);
      await Deno.copyFile(join(dA!, name), join(dB!, name));
      const sa = await a.share(name);
      await b.share(name);
      assert.equal(sa.size, size);
      const out = await mkdir(join(dC!, name + ".d"));
      await using c = await peer(tr, "downloader", out, options);
      const h = c.download(name);
      const r = await finish(h, 15_000, `download of ${size} bytes`);
      assert.equal(h.progress?.verifiedBytes, size, "a final progress event");
      assert.equal(r.size, size);
      assert.equal((await Deno.stat(r.path)).size, size);
      assert.equal(await sha256File(r.path), await sha256File(join(dA!, name)));
      assert.equal(r.owners.reduce((s, o) => s + o.bytes, 0), size);
      assert.deepEqual(await list(out), [name]);
      assert.equal(c.files.get(sa.contentId)?.size, size, "shared on after download");
    });
  }
});
