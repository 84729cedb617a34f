/**
 * The end-of-run table (after aria2c's "Download Results") and the line for a file that was
 * already there: never a made-up rate.
 * @module
 */
import assert from "node:assert/strict";
import type { DownloadResult } from "../../lib/peer/api.ts";
import { resultFixture } from "./_fake_peer.ts";
import { formatResult, formatSummary, rateOf, resultJson } from "../../lib/cli/result_format.ts";

const none = { permissions: "none" } as const;

const result: DownloadResult = {
  ...resultFixture("a.iso"),
  path: "downloads/a.iso",
  elapsedMs: 2000,
  owners: [{ nodeId: "s1", bytes: 32 * 1024 * 1024 }, { nodeId: "s2", bytes: 32 * 1024 * 1024 }],
};

Deno.test("formatSummary() is a table of status, size, time, rate, owners and path", none, () => {
  const had = { ...result, path: "downloads/b.iso", alreadyHad: true, owners: [], elapsedMs: 3 };
  assert.equal(
    formatSummary([
      { file: "a.iso", status: "OK", result },
      { file: "b.iso", status: "HAD", result: had },
      { file: "c.iso", status: "ERR" },
    ]),
    [
      "Download results:",
      "stat | size     | time   | rate       | owners | path",
      "OK   | 64.0 MiB | 2.00 s | 32.0 MiB/s | s1,s2  | downloads/a.iso",
      "HAD  | 64.0 MiB | -      | -          | -      | downloads/b.iso",
      "ERR  | -        | -      | -          | -      | c.iso",
      "Status: OK verified and saved, HAD already here, ERR failed, STOP interrupted",
    ].join("\n"),
  );
  assert.equal(formatSummary([]), "");
});

Deno.test("a file already here has no rate and no 'from nobody'", none, () => {
  const had = { ...result, alreadyHad: true, owners: [], elapsedMs: 1, receivedBytes: 0 };
  assert.equal(rateOf(had), 0);
  assert.equal(formatResult(had), "64.0 MiB, already here: nothing downloaded");
  assert.equal(resultJson(had).alreadyHad, true);
  assert.doesNotMatch(formatResult(had), /MiB\/s|nobody/);
});
