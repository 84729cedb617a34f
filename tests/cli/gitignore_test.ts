/**
 * `.gitignore` keeps what `deno task peer` and `deno task tracker` create out of commits.
 * @module
 */
import assert from "node:assert/strict";

Deno.test(".gitignore lists files/, downloads/ and logs/", async () => {
  const lines = (await Deno.readTextFile(new URL("../../.gitignore", import.meta.url)))
    .split("\n").map((l) => l.trim());
  for (const dir of ["files/", "downloads/", "logs/"]) assert.ok(lines.includes(dir), dir);
});
