/**
 * `list`, ambiguous names and links in the CLI, on a scripted peer: `runList`, `runGet` with a
 * name of two contents (exit 11 and the candidates) or a link, and `list` on the command line.
 * (The prompt's `list` and ambiguous `download`: repl_test.ts.)
 * @module
 */
import assert from "node:assert/strict";
import { ExitCode } from "../../lib/cli/exit_codes.ts";
import { parsePeerArgs, peerHelp, UsageError } from "../../lib/cli/flags.ts";
import { formatListedFile, printableName, runList } from "../../lib/cli/list_command.ts";
import { runGet } from "../../lib/cli/one_shot.ts";
import { createOutput } from "../../lib/cli/output.ts";
import { ProgressReporter } from "../../lib/cli/progress.ts";
import type { ListedFile } from "../../lib/peer/file_list.ts";
import { Capture, FakePeer, FakeTransferError } from "./_fake_peer.ts";

const pure = { permissions: "none" } as const;
const A = "a".repeat(64), B = "b".repeat(64);
const candidates: ListedFile[] = [
  { name: "f16.bin", contentId: A, size: 1000, owners: 2 },
  { name: "f16.bin", contentId: B, size: 2000, owners: 1 },
  { name: "other.bin", contentId: B, size: 2000, owners: 1 },
];

function io(json = false) {
  const cap = new Capture();
  return { cap, out: createOutput({ json, stdout: cap.out, stderr: cap.err }) };
}

function get(peer: FakePeer, query: string, json = false) {
  const { cap, out } = io(json);
  const progress = new ProgressReporter({ mode: "quiet", write: () => {}, intervalMs: 0 });
  const log: string[] = [];
  const code = runGet({
    peer,
    query,
    outDir: "/tmp/out",
    out,
    progress,
    log: (l) => void log.push(l),
    signal: new AbortController().signal,
  });
  return { cap, code, log };
}

Deno.test("parsePeerArgs() reads list with and without a pattern", pure, () => {
  assert.deepEqual(parsePeerArgs(["list"]).args, []);
  assert.equal(parsePeerArgs(["list", "*.iso"]).command, "list");
  assert.deepEqual(parsePeerArgs(["list", "*.iso", "--json"]).args, ["*.iso"]);
  assert.throws(() => parsePeerArgs(["list", "a", "b"]), UsageError);
  assert.match(peerHelp(), /peer\.ts list \[PATTERN\]/);
  assert.match(peerHelp(), /\n {3}11 {2}get: several contents share that name/);
});

Deno.test("runList() prints content id, size, owners and name per line", pure, async () => {
  const peer = new FakePeer();
  peer.listed = candidates;
  const { cap, out } = io();
  assert.equal(await runList({ peer, pattern: "bin", out, log: () => {} }), 0);
  assert.deepEqual(cap.lines, [
    `${A}           1000      2  f16.bin`,
    `${B}           2000      1  f16.bin`,
    `${B}           2000      1  other.bin`,
  ]);
  assert.equal(cap.stderr, "3 files\n");
  assert.deepEqual(peer.lists, [{ pattern: "bin", options: {} }]);
});

Deno.test("runList() --json writes a file event per file and a listed event", pure, async () => {
  const peer = new FakePeer();
  peer.listed = candidates.slice(0, 1);
  const { cap, out } = io(true);
  await runList({ peer, pattern: "", out, log: () => {} });
  assert.deepEqual(cap.lines.map((l) => JSON.parse(l)), [
    { event: "file", ...candidates[0], link: `udpswarm:${A}?name=f16.bin&size=1000` },
    { event: "listed", count: 1, total: 1, complete: true },
  ]);
});

Deno.test("runList() escapes names that would forge lines or reorder text", pure, () => {
  assert.equal(printableName("a\nb\u202ec"), "a\\u{a}b\\u{202e}c");
  const line = formatListedFile({ name: "x\r\ny", contentId: A, size: 1, owners: 1 });
  assert.ok(!/[\r\n]/.test(line));
});

Deno.test("runGet() of an ambiguous name exits 11 and lists the candidates", pure, async () => {
  const peer = new FakePeer();
  peer.listed = candidates;
  peer.onDownload = (d) =>
    queueMicrotask(() =>
      d.fail(new FakeTransferError("ambiguous", 'Cannot download "f16.bin": 2 different contents'))
    );
  const { cap, code } = get(peer, "f16.bin");
  assert.equal(await code, ExitCode.ambiguous);
  assert.equal(cap.stdout, "");
  assert.deepEqual(peer.lists, [{ pattern: "f16.bin", options: { match: "exact", limit: 100 } }]);
  assert.equal(
    cap.stderr,
    'error: Cannot download "f16.bin": 2 different contents\n' +
      `  ${A}  1000 B (1000 bytes)  2 owners  udpswarm:${A}?name=f16.bin&size=1000\n` +
      `  ${B}  2.0 KiB (2000 bytes)  1 owner  udpswarm:${B}?name=f16.bin&size=2000\n` +
      "choose one by its content id or link: peer.ts get CONTENT_ID (the content id, not the " +
      "name, is what is verified)\n",
  );
});

Deno.test(
  "runGet() --json of an ambiguous name puts the candidates in the error",
  pure,
  async () => {
    const peer = new FakePeer();
    peer.listed = candidates;
    peer.onDownload = (d) => queueMicrotask(() => d.fail(new FakeTransferError("ambiguous", "x")));
    const { cap, code } = get(peer, "f16.bin", true);
    assert.equal(await code, 11);
    const error = JSON.parse(cap.lines.at(-1)!);
    assert.equal(error.code, "ambiguous");
    assert.equal(error.exitCode, 11);
    assert.deepEqual(error.candidates.map((c: ListedFile) => c.contentId), [A, B]);
  },
);

Deno.test(
  "runGet() of a link downloads its content id under its name with its size",
  pure,
  async () => {
    const peer = new FakePeer();
    peer.onDownload = (d) => queueMicrotask(() => d.finish({ contentId: A, name: "my file" }));
    const { code, cap } = get(peer, `udpswarm:${A}?name=my%20file&size=1000`);
    assert.equal(await code, 0);
    const d = peer.started[0]!;
    assert.equal(d.query, A);
    assert.equal(d.options.saveAs, "my file");
    assert.equal(d.options.expectedSize, 1000);
    assert.doesNotMatch(cap.stderr, /tracker's answer/);
  },
);

Deno.test("runGet() refuses a link whose name is unsafe, before downloading", pure, async () => {
  const peer = new FakePeer();
  const { code, cap } = get(peer, `udpswarm:${A}?name=..%2Fetc%2Fpasswd`);
  assert.equal(await code, ExitCode.badName);
  assert.match(cap.stderr, /the link's name is unusable/);
  assert.equal(peer.started.length, 0);
});
