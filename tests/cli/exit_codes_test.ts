import assert from "node:assert/strict";
import { EXIT_CODE_HELP, ExitCode, exitCodeFor } from "../../lib/cli/exit_codes.ts";

const pure = { permissions: "none" } as const;

Deno.test("exitCodeFor() maps each reason code to its exit code", pure, () => {
  const expected: Record<string, number> = {
    usage: 2,
    not_found: 3,
    no_owners: 4,
    all_owners_failed: 5,
    manifest_mismatch: 5,
    bad_manifest: 5,
    disk: 6,
    changed: 6,
    exists: 7,
    bad_name: 8,
    tracker: 9,
    tracker_unreachable: 9,
    tracker_error: 9,
    refused: 9,
    missing_file: 10,
    aborted: 130,
    interrupted: 130,
  };
  for (const [reason, code] of Object.entries(expected)) {
    assert.equal(exitCodeFor(reason), code, reason);
  }
});

Deno.test("exitCodeFor() maps unknown reasons and none to failure", pure, () => {
  for (const reason of [undefined, "", "failure", "ok", "toString", "busy"]) {
    assert.equal(exitCodeFor(reason), ExitCode.failure, String(reason));
  }
});

Deno.test("EXIT_CODE_HELP has one row per exit code, in increasing order", pure, () => {
  assert.deepEqual(EXIT_CODE_HELP.map(([code]) => code), Object.values(ExitCode));
  assert.deepEqual(EXIT_CODE_HELP.map(([code]) => code), [
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
    11,
    130,
  ]);
  for (const [, text] of EXIT_CODE_HELP) assert.ok(text.length > 0 && !text.includes("\n"));
});
