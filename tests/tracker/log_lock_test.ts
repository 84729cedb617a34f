/**
 * Two trackers started in one log directory never write into the same file: the first holds
 * `tracker.log` (an exclusive lock), the second writes `tracker-<port>.log`.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startTracker } from "../../lib/tracker/server.ts";
import { tempDir } from "../_harness/processes.ts";

Deno.test("startTracker() logs to tracker-<port>.log when tracker.log is held", async () => {
  await using tmp = await tempDir("udpswarm-loglock-");
  const first = await startTracker({ port: 0, logDir: tmp.path });
  const second = await startTracker({ port: 0, logDir: tmp.path });
  try {
    assert.equal(first.logPath, join(tmp.path, "tracker.log"));
    assert.equal(second.logPath, join(tmp.path, `tracker-${second.localAddr.port}.log`));
  } finally {
    await second.close();
    await first.close();
  }
  const one = await Deno.readTextFile(join(tmp.path, "tracker.log"));
  const two = await Deno.readTextFile(second.logPath!);
  assert.match(one, new RegExp(`tracker started on 127\\.0\\.0\\.1:${first.localAddr.port}:`));
  assert.doesNotMatch(one, new RegExp(`:${second.localAddr.port}:`));
  assert.match(two, new RegExp(`tracker started on 127\\.0\\.0\\.1:${second.localAddr.port}:`));

  // Once the first has stopped, the next tracker takes tracker.log again.
  const third = await startTracker({ port: 0, logDir: tmp.path });
  assert.equal(third.logPath, join(tmp.path, "tracker.log"));
  await third.close();
});
