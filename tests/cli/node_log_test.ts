import assert from "node:assert/strict";
import { join } from "node:path";
import { formatLogLine, NodeLog } from "../../lib/cli/node_log.ts";

Deno.test("formatLogLine() prefixes an ISO time and keeps one event on one line", {
  permissions: "none",
}, () => {
  const d = new Date(Date.UTC(2025, 0, 2, 3, 4, 5, 6));
  assert.equal(formatLogLine(d, "own a.bin"), "2025-01-02T03:04:05.006Z own a.bin\n");
  assert.equal(formatLogLine(d, "a\nb"), "2025-01-02T03:04:05.006Z a\\nb\n");
});

Deno.test("NodeLog writes logs/node-<id>.log and appends across runs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "udpswarm-nodelog-" });
  try {
    const logDir = join(dir, "nested", "logs");
    const now = () => new Date(Date.UTC(2025, 0, 1));
    {
      using log = NodeLog.open({ dir: logDir, nodeId: "n7", now });
      assert.equal(log.path, join(logDir, "node-n7.log"));
      log.log("register tracker=127.0.0.1:6969");
    }
    const again = NodeLog.open({ dir: logDir, nodeId: "n7", now });
    again.log("exit");
    again.close();
    again.log("after close is ignored");
    again.close();
    const text = await Deno.readTextFile(join(logDir, "node-n7.log"));
    assert.equal(
      text,
      "2025-01-01T00:00:00.000Z register tracker=127.0.0.1:6969\n" +
        "2025-01-01T00:00:00.000Z exit\n",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
