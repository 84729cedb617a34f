/**
 * Real processes on one Redis: a private redis-server, two `tracker.ts --store redis://…`
 * processes on two ports, a `peer.ts share --tracker A,B` registered through A, and `peer.ts get`
 * through B (exact bytes). Then A is killed with SIGKILL: the sharing peer fails over to B
 * (registers there and announces its file again), and after longer than the eviction time a new
 * `get` through B still finds it. Skipped where redis-server is missing.
 *
 * Nothing races a transfer: each `get` runs to its end before anything else happens, and the
 * failover is awaited on the owner's log line.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sha256File } from "../_harness/processes.ts";
import { REDIS_SKIP_REASON, startRedis } from "../_harness/redis_server.ts";
import { delay, waitUntil } from "../_harness/wait.ts";
import { makeFile, scenarioDir, spawnGet, spawnOwner } from "../faults/scenarios/_scenario.ts";
import { spawnRedisTracker } from "./_redis_trackers.ts";

/** Heartbeat interval of both trackers, ms (eviction after 1.5 T). */
const T_MS = 2000;

/** Runs `peer.ts get CONTENT_ID` through `tracker` to its end; returns the saved file's hash. */
async function getThrough(
  options: { dir: string; out: string; tracker: string; id: string; query: string; name: string },
): Promise<string> {
  await Deno.mkdir(options.out, { recursive: true });
  await using child = spawnGet(options);
  const status = await child.wait(60_000);
  assert.equal(status.code, 0, `${options.id} failed:\n${child.output()}`);
  return await sha256File(join(options.out, options.name));
}

Deno.test({
  name:
    "tracker.ts --store redis: share through A, get through B; A killed: the owner fails over to B and is still found",
  ignore: REDIS_SKIP_REASON !== undefined,
  fn: async () => {
    await using redis = await startRedis();
    await using dir = await scenarioDir("udpswarm-redisfailover-", ["src", "owner", "get"]);
    const file = await makeFile(dir.sub.src, "clip.bin", 300_000, 41);
    const a = await spawnRedisTracker(join(dir.path, "tracker-a"), redis.url, T_MS);
    await using _a = a.child;
    const b = await spawnRedisTracker(join(dir.path, "tracker-b"), redis.url, T_MS);
    await using _b = b.child;

    const owner = await spawnOwner({
      dir: dir.sub.owner,
      tracker: `${a.address},${b.address}`,
      id: "owner",
      files: [file.path],
      read: [dir.sub.src],
    });
    await using _owner = owner.child;
    const [contentId] = owner.contentIds;

    // Shared through A, found and downloaded through B: one swarm in Redis.
    const first = await getThrough({
      dir: dir.sub.get,
      out: join(dir.sub.get, "first"),
      tracker: b.address,
      id: "getter1",
      query: contentId!,
      name: file.name,
    });
    assert.equal(first, file.sha256);

    // A dies without a word; the owner notices at its next heartbeat and moves to B.
    a.child.kill("SIGKILL");
    await a.child.status;
    const ownerLog = join(dir.sub.owner, "logs", "node-owner.log");
    const read = () => {
      try {
        return Deno.readTextFileSync(ownerLog);
      } catch {
        return "";
      }
    };
    await waitUntil(
      () => /registered again with tracker 127\.0\.0\.1:\d+; announcing 1 file/.test(read()),
      6 * T_MS + 10_000,
      "the owner registered again at B",
      { intervalMs: 50, describe: () => read().split("\n").slice(-8).join("\n") },
    );
    const log = read();
    assert.match(
      log,
      new RegExp(`tracker ${a.address} did not answer .*: failing over to ${b.address}`),
    );
    // Longer than the eviction time: only heartbeats to B keep the owner in the swarm now.
    await delay(2 * T_MS);

    const second = await getThrough({
      dir: dir.sub.get,
      out: join(dir.sub.get, "second"),
      tracker: b.address,
      id: "getter2",
      query: contentId!,
      name: file.name,
    });
    assert.equal(second, file.sha256);
  },
});
