/**
 * Ctrl-C on `share`: {@link SignalGate} on a virtual clock, then a real `peer.ts share` that
 * gets SIGINT twice in a row (as a terminal's Ctrl-C under `deno task` delivers it): it exits
 * 0, the tracker records its EXIT, and the node log is complete.
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { SignalGate } from "../../lib/cli/signal_gate.ts";
import { randomFile, spawnDeno, tempDir } from "../_harness/processes.ts";
import { spawnTrackerProcess } from "./_tracker_process.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const WAIT = 30_000;

Deno.test("SignalGate counts repeats within the window as one, and a later signal exits", {
  permissions: "none",
}, () => {
  let now = 0;
  const gate = new SignalGate({ windowMs: 1000, now: () => now });
  assert.equal(gate.deliver(), "stop");
  now = 5;
  assert.equal(gate.deliver(), "repeat");
  now = 999;
  assert.equal(gate.deliver(), "repeat");
  now = 1000;
  assert.equal(gate.deliver(), "exit now");
});

Deno.test("peer.ts share: two SIGINTs in a row exit 0 after the tracker acknowledged EXIT", async () => {
  await using tmp = await tempDir("udpswarm-sigint-");
  const logs = join(tmp.path, "logs");
  await Deno.mkdir(logs);
  await randomFile(join(tmp.path, "a.bin"), 100_000, 3);
  const { child: tracker, address } = await spawnTrackerProcess(logs);
  await using _tracker = tracker;
  await using share = spawnDeno({
    name: "share",
    entrypoint: join(ROOT, "peer.ts"),
    permissions: ["--allow-net=127.0.0.1", "--allow-read", `--allow-write=${tmp.path}`],
    args: [
      "share",
      join(tmp.path, "a.bin"),
      "--id",
      "sig1",
      "--tracker",
      address,
      "--log-dir",
      logs,
      "--out",
      tmp.path,
    ],
  });
  await share.waitForLine(/^serving 1 file as sig1/, WAIT);
  share.kill("SIGINT");
  share.kill("SIGINT");
  const status = await share.wait(WAIT);
  assert.equal(status.code, 0, share.output());
  assert.match(share.output("stderr"), /stopping on SIGINT: leaving the swarm/);
  assert.equal((await tracker.close()).code, 0);
  assert.match(await Deno.readTextFile(join(logs, "tracker.log")), /\bexit sig1\b/);
  const nodeLog = await Deno.readTextFile(join(logs, "node-sig1.log"));
  assert.match(nodeLog, /signal SIGINT\n/);
  assert.match(nodeLog, /exit: told the tracker\n/);
  assert.match(nodeLog, / exit\n$/, "the log ends with the exit line");
});
