/**
 * Scenario: the output of `peer.ts get` cannot take the file. A full disk (a small tmpfs, as root)
 * ends with a clear error, a non-zero exit and the `.part` kept; after space is freed the next run
 * resumes from it. An unwritable output (a read-only mount as root; a missing write grant for
 * anyone) ends with a clear error and a non-zero exit.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startTracker } from "../../../lib/tracker/server.ts";
import { sha256File } from "../../_harness/processes.ts";
import {
  jsonEvents,
  makeFile,
  MiB,
  report,
  scenarioDir,
  spawnGet,
  startOwners,
  trackerAddress,
  WORKER,
} from "./_scenario.ts";

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

/** A tracker and one owner of a 16 MiB file, for the duration of `fn`. */
async function withSwarm(
  fn: (ctx: { dir: string; tracker: string; file: { name: string; sha256: string } }) => Promise<
    void
  >,
): Promise<void> {
  await using dir = await scenarioDir("udpswarm-diskfull-", ["src"]);
  const file = await makeFile(dir.sub.src, "big.bin", SIZE, 23);
  await using tracker = await startTracker({ port: 0, intervalMs: 2000 });
  const [owner] = await startOwners({
    dir: dir.sub.src,
    tracker: trackerAddress(tracker),
    ids: ["owner"],
    files: [file.name],
    cacheRoot: dir.path,
  });
  try {
    await fn({ dir: dir.path, tracker: trackerAddress(tracker), file });
  } finally {
    await owner?.close();
  }
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

Deno.test({
  name: "peer.ts get on a full disk exits non-zero with a clear error, keeps the .part, resumes",
  ignore: NO_MOUNT !== undefined,
  fn: () =>
    withSwarm(async ({ dir, tracker, file }) => {
      const mnt = join(dir, "small");
      await Deno.mkdir(mnt);
      const m = run("mount", ["-t", "tmpfs", "-o", `size=${TMPFS_SIZE}`, "tmpfs", mnt]);
      assert.ok(m.ok, m.text);
      try {
        let first;
        {
          await using child = get(dir, mnt, tracker, "full-1", file.name);
          const status = await child.wait(60_000);
          const events = jsonEvents(child);
          const error = events.find((e) => e.event === "error");
          assert.equal(status.code, 6, `exit code 6 (disk): ${child.output()}`);
          assert.ok(error, child.output());
          assert.equal(error.code, "disk");
          assert.match(String(error.message), /no space left on device/i);
          assert.match(String(error.message), /\.part/, "the message says what is kept");
          assert.ok(!events.some((e) => e.event === "done"));
          first = error.message;
        }
        const names = [...Deno.readDirSync(mnt)].map((e) => e.name);
        assert.ok(names.some((n) => n.endsWith(".part")), `the .part is kept: ${names}`);
        assert.ok(!names.includes(file.name), "nothing under the final name");

        // Free space (grow the tmpfs) and run again: it resumes from the saved pieces.
        const grow = run("mount", ["-o", "remount,size=64m", mnt]);
        assert.ok(grow.ok, grow.text);
        await using again = get(dir, mnt, tracker, "full-2", file.name);
        const status = await again.wait(60_000);
        assert.equal(status.code, 0, again.output());
        const done = jsonEvents(again).find((e) => e.event === "done")!;
        assert.equal(await sha256File(join(mnt, file.name)), file.sha256, "the bytes are exact");
        assert.ok((done.resumedBytes as number) > 0, `resumed ${done.resumedBytes} bytes`);
        report("disk_full", {
          tmpfs: TMPFS_SIZE,
          sizeMiB: SIZE / MiB,
          exitCode: 6,
          error: first,
          resumedBytesAfterSpaceFreed: done.resumedBytes,
          receivedBytes: done.receivedBytes,
        });
      } finally {
        const u = run("umount", [mnt]);
        if (!u.ok) run("umount", ["-l", mnt]);
      }
    }),
});

Deno.test({
  name: "peer.ts get into a read-only mount exits non-zero with a clear error",
  ignore: NO_MOUNT !== undefined,
  fn: () =>
    withSwarm(async ({ dir, tracker, file }) => {
      const mnt = join(dir, "ro");
      await Deno.mkdir(mnt);
      const m = run("mount", ["-t", "tmpfs", "-o", "size=1m,ro", "tmpfs", mnt]);
      assert.ok(m.ok, m.text);
      try {
        await using child = get(dir, mnt, tracker, "ro", file.name);
        const status = await child.wait(60_000);
        const error = jsonEvents(child).find((e) => e.event === "error");
        assert.equal(status.code, 6, child.output());
        assert.ok(error && error.code === "disk", child.output());
        assert.match(String(error.message), /read-only/i);
        report("disk_full", { readOnlyMount: error.message, exitCode: status.code });
      } finally {
        const u = run("umount", [mnt]);
        if (!u.ok) run("umount", ["-l", mnt]);
      }
    }),
});

Deno.test("peer.ts get without a write grant for --out exits non-zero with a clear error", () =>
  withSwarm(async ({ dir, tracker, file }) => {
    const out = join(dir, "not-granted");
    await Deno.mkdir(out);
    await using child = get(dir, out, tracker, "nogrant", file.name, [
      "--allow-net=127.0.0.1",
      `--allow-read=${dir},${WORKER}`,
      `--allow-write=${join(dir, "logs")}`,
    ]);
    const status = await child.wait(60_000);
    const error = jsonEvents(child).find((e) => e.event === "error");
    assert.equal(status.code, 6, child.output());
    assert.ok(error && error.code === "disk", child.output());
    assert.ok(String(error.message).includes(out), `the message names the path: ${error.message}`);
    report("disk_full", { noWriteGrant: error.message, exitCode: status.code });
  }));
