import assert from "node:assert/strict";
import { join } from "node:path";
import { TraceFile } from "../../lib/cli/trace_file.ts";

Deno.test("TraceFile writes one JSON object per line, buffered until close", async () => {
  const dir = await Deno.makeTempDir({ prefix: "udpswarm-trace-" });
  try {
    const path = join(dir, "t.jsonl");
    const t = TraceFile.open(path);
    t.write({ kind: "owner", t: 1, cwnd: 65536 });
    t.write({ kind: "pto", t: 2.5, owner: "a" });
    t.close();
    t.write({ kind: "late" }); // after close: dropped, no throw
    const lines = (await Deno.readTextFile(path)).trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(lines, [{ kind: "owner", t: 1, cwnd: 65536 }, {
      kind: "pto",
      t: 2.5,
      owner: "a",
    }]);
    assert.equal(t.writeErrors, 0);
    assert.throws(() => TraceFile.open(join(dir, "missing", "t.jsonl")), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
