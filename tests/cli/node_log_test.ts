import assert from "node:assert/strict";
import { join } from "node:path";
import { NodeLog } from "../../lib/cli/node_log.ts";

Deno.test("NodeLog writes logs/node-<id>.log and appends across runs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "udpswarm-nodelog-" });
  try {
    const logDir = join(dir, "nested", "logs");
    const now = () => new Date(Date.UTC(2025, 0, 1));
    {
      using log = NodeLog.open({ dir: logDir, nodeId: "n7", now });
      assert.equal(log.path, join(logDir, "node-n7.log"));
      log.log("register tracker=127.0.0.1:6969");
      log.log("a\nb\r\nc"); // one event stays one line
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
        "2025-01-01T00:00:00.000Z a\\nb\\nc\n" +
        "2025-01-01T00:00:00.000Z exit\n",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
