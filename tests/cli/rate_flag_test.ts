/**
 * RATE values (`--max-upload`, `--max-download`, the prompt's `limit`): binary units, plain
 * bytes/s, off; a bad one is a one-line usage error (exit 2), and `limit` sets and shows the
 * peer's caps.
 * @module
 */
import assert from "node:assert/strict";
import { parsePeerArgs, peerHelp, UsageError } from "../../lib/cli/flags.ts";
import { formatCap, parseRate } from "../../lib/cli/rate_flag.ts";
import { parseCommand, runRepl } from "../../lib/cli/repl.ts";
import { createOutput } from "../../lib/cli/output.ts";
import { Capture, FakePeer, ScriptedInput } from "./_fake_peer.ts";

const pure = { permissions: "none" } as const;
const KiB = 1024;
const MiB = 1024 * KiB;

Deno.test(
  "parseRate() reads K, M, G as KiB/s, MiB/s, GiB/s and plain numbers as bytes/s",
  pure,
  () => {
    assert.equal(parseRate("10M"), 10 * MiB);
    assert.equal(parseRate("10m"), 10 * MiB);
    assert.equal(parseRate("512K"), 512 * KiB);
    assert.equal(parseRate("1.5G"), 1.5 * 1024 * MiB);
    assert.equal(parseRate("20MiB/s"), 20 * MiB);
    assert.equal(parseRate("20MiB"), 20 * MiB);
    assert.equal(parseRate("250000"), 250_000);
    assert.equal(parseRate("off"), Infinity);
    assert.equal(parseRate("0"), Infinity);
    assert.equal(parseRate("0M"), Infinity);
    for (const bad of ["", "fast", "10X", "-5M", "1e6", "100", "10 M s", "M"]) {
      assert.throws(() => parseRate(bad), RangeError, bad);
    }
    assert.equal(formatCap(20 * MiB), "20.0 MiB/s");
    assert.equal(formatCap(Infinity), "off");
  },
);

Deno.test(
  "parsePeerArgs() takes --max-upload and --max-download; a bad RATE is a usage error",
  pure,
  () => {
    const o = parsePeerArgs(["get", "a.bin", "--max-download", "20M", "--max-upload", "5M"]);
    assert.equal(o.maxDownload, 20 * MiB);
    assert.equal(o.maxUpload, 5 * MiB);
    assert.equal(parsePeerArgs(["share", "f", "--max-upload=off"]).maxUpload, Infinity);
    for (const flag of ["--max-upload", "--max-download"]) {
      const want = new RegExp(
        `^Cannot parse ${flag}: expected bytes/s or a number with K, M or G .*got "ten"$`,
      );
      assert.throws(
        () => parsePeerArgs([flag, "ten"]),
        (e) => e instanceof UsageError && want.test(e.message),
      );
    }
    assert.match(peerHelp(), /--max-upload RATE/);
    assert.match(peerHelp(), /--max-download RATE/);
    assert.match(peerHelp(), /limit \[upload\|download RATE\]/);
  },
);

Deno.test("parseCommand() reads limit", pure, () => {
  assert.deepEqual(parseCommand("limit"), { kind: "limit" });
  assert.deepEqual(parseCommand("limit upload 5M"), {
    kind: "limit",
    direction: "upload",
    rate: 5 * MiB,
  });
  assert.deepEqual(parseCommand("LIMIT download off"), {
    kind: "limit",
    direction: "download",
    rate: Infinity,
  });
  for (
    const bad of ["limit sideways 5M", "limit upload", "limit upload 5M now", "limit upload x"]
  ) {
    const c = parseCommand(bad);
    assert.equal(c.kind, "invalid", bad);
  }
});

Deno.test(
  "runRepl() limit sets the peer's caps and shows them, in text and JSON",
  pure,
  async () => {
    for (const json of [false, true]) {
      const peer = new FakePeer();
      const cap = new Capture();
      const input = new ScriptedInput();
      const done = runRepl({
        peer,
        input: input.stream,
        out: createOutput({ json, stdout: cap.out, stderr: cap.err }),
        interactive: false,
        writePrompt: cap.out,
        dir: "/nonexistent",
        outDir: "/tmp/out",
        tracker: "127.0.0.1:6969",
        log: () => {},
        stopTimeoutMs: 1000,
      });
      input.line("limit upload 5M");
      input.line("limit download 512K");
      input.line("limit download off");
      input.line("limit upload nope");
      input.end();
      assert.equal(await done, 0);
      assert.deepEqual(peer.rateLimits, { upload: 5 * MiB, download: Infinity });
      if (json) {
        const limits = cap.stdout.trim().split("\n").map((l) => JSON.parse(l)).filter((j) =>
          j.event === "limits"
        );
        assert.deepEqual(limits.map((j) => [j.upload, j.download]), [
          [5 * MiB, null],
          [5 * MiB, 512 * KiB],
          [5 * MiB, null],
        ]);
      } else {
        assert.match(cap.stdout, /limits: upload 5\.00 MiB\/s, download off\n/);
        assert.match(cap.stdout, /limits: upload 5\.00 MiB\/s, download 0\.50 MiB\/s\n/);
        assert.match(cap.stderr, /error: Cannot parse RATE: .*got "nope"/);
      }
    }
  },
);
