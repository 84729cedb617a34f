/**
 * Scenario: the output of `peer.ts get` cannot take the file. A disk too small for the file (a
 * small tmpfs, as root) is refused before anything is created, with a clear error and exit 6. A
 * disk that fills up during the download (the transfer held by relays while a filler takes the
 * space) ends with a clear error, exit 6 and the `.part` kept; after space is freed the next run
 * resumes from it. An unwritable output (a read-only mount as root; a missing write grant for
 * anyone) ends with a clear error and a non-zero exit.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type ChildProcess, sha256File } from "../../_harness/processes.ts";

import { relayedSwarm } from "../../_harness/relay_pool.ts";
import { withTimeout } from "../../_harness/wait.ts";
import { jsonEvents, MiB, report, spawnGet, startScenario, WORKER } from "./_scenario.ts";

const SIZE = 16 * MiB;
const TMPFS_SIZE = "6m";

function run(cmd: string, args: string[]): { ok: boolean; text: string } {
  try {
    const r = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
    const d = new TextDecoder();
    return { ok: r.success, text: (d.decode(r.stdout) + d.decode(r.stderr)).trim() };
  } catch (e) {
    return { ok: false, text: String(e) };
  }
}

/** Why tmpfs mounts cannot be used here, or undefined when they can. */
function whyNoMount(): string | undefined {
  if (Deno.build.os !== "linux") return `not Linux (${Deno.build.os})`;
  if (Deno.uid() !== 0) return `not root (uid ${Deno.uid()}): cannot mount a small tmpfs`;
  const probe = Deno.makeTempDirSync({ prefix: "udpswarm-mountprobe-" });
  try {
    const m = run("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", probe]);
    if (!m.ok) return `mount -t tmpfs failed: ${m.text}`;
    run("umount", [probe]);
    return undefined;
  } finally {
    Deno.removeSync(probe, { recursive: true });
  }
}

const NO_MOUNT = whyNoMount();
if (NO_MOUNT) console.error(`[faults] disk_full: tmpfs cases skipped: ${NO_MOUNT}`);

/** Mounts a tmpfs with `options` at `dir/name` for the duration of `fn`, then unmounts it. */
async function withMount(
  dir: string,
  name: string,
  options: string,
  fn: (mnt: string) => Promise<void>,
): Promise<void> {
  const mnt = join(dir, name);
  await Deno.mkdir(mnt);
  const m = run("mount", ["-t", "tmpfs", "-o", options, "tmpfs", mnt]);
  assert.ok(m.ok, m.text);
  try {
    await fn(mnt);
  } finally {
    const u = run("umount", [mnt]);
    if (!u.ok) run("umount", ["-l", mnt]);
  }
}

/** A tracker and one owner of a 16 MiB file, for the duration of `fn`. */
/** What {@link withSwarm} gives a test: the directory, the tracker address and the shared file. */
interface SwarmContext {
  dir: string;
  tracker: string;
  file: { name: string; sha256: string };
}

async function withSwarm(fn: (ctx: SwarmContext) => Promise<void>): Promise<void> {
  await using s = await startScenario({
    prefix: "udpswarm-diskfull-",
    dirs: ["src"],
    file: { in: "src", name: "big.bin", size: SIZE, seed: 23 },
    owners: ["owner"],
  });
  await fn({ dir: s.dir.path, tracker: s.address, file: s.file });
}

/**
 * Waits for a `peer.ts get` child that must fail on the disk: exit 6 and an `error` event of
 * code `disk`.
 *
 * @returns its JSON events and that error event
 */
async function diskError(
  child: ChildProcess,
): Promise<{ events: Record<string, unknown>[]; error: Record<string, unknown> }> {
  const status = await child.wait(60_000);
  const events = jsonEvents(child);
  const error = events.find((e) => e.event === "error");
  assert.equal(status.code, 6, `exit code 6 (disk): ${child.output()}`);
  assert.ok(error, child.output());
  assert.equal(error.code, "disk");
  return { events, error };
}

/**
 * A test on a tmpfs mounted at `dir/NAME` with `options`, with the swarm of {@link withSwarm};
 * ignored where tmpfs cannot be mounted.
 */
function tmpfsTest(
  name: string,
  mount: string,
  options: string,
  fn: (ctx: SwarmContext & { mnt: string }) => Promise<void>,
): void {
  Deno.test({
    name,
    ignore: NO_MOUNT !== undefined,
    fn: () => withSwarm((ctx) => withMount(ctx.dir, mount, options, (mnt) => fn({ ...ctx, mnt }))),
  });
}

function get(
  dir: string,
  out: string,
  tracker: string,
  id: string,
  query: string,
  permissions?: string[],
) {
  return spawnGet({ dir, out, tracker, id, query, ...(permissions ? { permissions } : {}) });
}

tmpfsTest(
  "peer.ts get refuses a file larger than the free space at once and creates nothing",
  "small",
  `size=${TMPFS_SIZE}`,
  async ({ dir, tracker, file, mnt }) => {
    await using child = get(dir, mnt, tracker, "small-1", file.name);
    const { events, error } = await diskError(child);
    assert.match(String(error.message), /needs 16\.0 MiB more on disk .* free; free space/);
    assert.ok(!events.some((e) => e.event === "done"));
    assert.deepEqual([...Deno.readDirSync(mnt)], [], "no sparse .part, no state, no file");

    // With room, the same download goes through.
    const grow = run("mount", ["-o", "remount,size=64m", mnt]);
    assert.ok(grow.ok, grow.text);
    await using again = get(dir, mnt, tracker, "small-2", file.name);
    assert.equal((await again.wait(60_000)).code, 0, again.output());
    assert.equal(await sha256File(join(mnt, file.name)), file.sha256, "the bytes are exact");
    report("disk_full", { tmpfs: TMPFS_SIZE, sizeMiB: SIZE / MiB, refused: error.message });
  },
);

/** Writes `path` until the file system is full. */
async function fill(path: string): Promise<number> {
  const f = await Deno.open(path, { write: true, create: true });
  const chunk = new Uint8Array(256 * 1024);
  let n = 0;
  try {
    for (;;) n += await f.write(chunk);
  } catch {
    return n;
  } finally {
    f.close();
  }
}

tmpfsTest(
  "peer.ts get on a disk that fills up exits 6 with a clear error, keeps the .part, resumes",
  "fills",
  "size=24m",
  async ({ dir, tracker, file, mnt }) => {
    let first;
    {
      // The transfer holds still after 4 MiB (relays in front of the owner) while a filler
      // takes every free byte; then it goes on into a full disk.
      await using relays = relayedSwarm({
        tracker: {
          transport: "udp",
          hostname: "127.0.0.1",
          port: Number(tracker.split(":")[1]),
        },
        seed: 5,
        pauseAfter: 4 * MiB,
      });
      const { pool } = relays;
      await using child = get(dir, mnt, relays.tracker, "full-1", file.name);
      await withTimeout(relays.held, 60_000, "the relay to reach its budget");
      pool.pause();
      const filled = await fill(join(mnt, "filler"));
      assert.ok(filled > 0, "the filler took the free space");
      pool.resume();
      const { events, error } = await diskError(child);
      assert.match(String(error.message), /no space left on device/i);
      assert.match(String(error.message), /\.part/, "the message says what is kept");
      assert.ok(!events.some((e) => e.event === "done"));
      first = error.message;
    }
    const names = [...Deno.readDirSync(mnt)].map((e) => e.name);
    assert.ok(names.some((n) => n.endsWith(".part")), `the .part is kept: ${names}`);
    assert.ok(!names.includes(file.name), "nothing under the final name");

    // Free the space and run again: it resumes from the saved pieces.
    await Deno.remove(join(mnt, "filler"));
    await using again = get(dir, mnt, tracker, "full-2", file.name);
    const status = await again.wait(60_000);
    assert.equal(status.code, 0, again.output());
    const done = jsonEvents(again).find((e) => e.event === "done")!;
    assert.equal(await sha256File(join(mnt, file.name)), file.sha256, "the bytes are exact");
    assert.ok((done.resumedBytes as number) > 0, `resumed ${done.resumedBytes} bytes`);
    report("disk_full", {
      tmpfs: "24m, filled during the transfer",
      sizeMiB: SIZE / MiB,
      exitCode: 6,
      error: first,
      resumedBytesAfterSpaceFreed: done.resumedBytes,
      receivedBytes: done.receivedBytes,
    });
  },
);

tmpfsTest(
  "peer.ts get into a read-only mount exits non-zero with a clear error",
  "ro",
  "size=64m,ro",
  async ({ dir, tracker, file, mnt }) => {
    await using child = get(dir, mnt, tracker, "ro", file.name);
    const { error } = await diskError(child);
    assert.match(String(error.message), /read-only/i);
    report("disk_full", { readOnlyMount: error.message, exitCode: 6 });
  },
);

Deno.test("peer.ts get without a write grant for --out exits non-zero with a clear error", () =>
  withSwarm(async ({ dir, tracker, file }) => {
    const out = join(dir, "not-granted");
    await Deno.mkdir(out);
    await using child = get(dir, out, tracker, "nogrant", file.name, [
      "--allow-net=127.0.0.1",
      `--allow-read=${dir},${WORKER}`,
      `--allow-write=${join(dir, "logs")}`,
    ]);
    const { error } = await diskError(child);
    assert.ok(String(error.message).includes(out), `the message names the path: ${error.message}`);
    report("disk_full", { noWriteGrant: error.message, exitCode: 6 });
  }));
