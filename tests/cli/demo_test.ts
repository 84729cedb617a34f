/**
 * `deno task demo` is the README's first command: CI runs it exactly as a user would.
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { spawnProcess } from "../_harness/processes.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

Deno.test("deno task demo shares 64 MiB from two peers, downloads it on a third, exits 0", async () => {
  await using demo = spawnProcess({
    name: "demo",
    command: Deno.execPath(),
    args: ["task", "demo", "--timeout", "100"],
    cwd: ROOT,
  });
  const status = await demo.wait(120_000);
  const out = demo.output("stdout");
  assert.equal(status.code, 0, demo.output());
  assert.match(out, /^demo: owners used: seed-[ab] [\d.]+ MiB(, seed-[ab] [\d.]+ MiB)?$/m);
  assert.match(out, /^demo: downloaded 64\.0 MiB in [\d.]+ s = [\d.]+ MiB\/s/m);
  assert.match(out, /^demo: SHA-256 matches: [0-9a-f]{64}$/m);
  assert.match(out, /^demo: OK$/m);
  assert.doesNotMatch(out, /kept /, "the temporary directory is removed");
});
