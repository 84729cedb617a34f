import assert from "node:assert/strict";
import { join } from "node:path";
import { createOutput } from "../../lib/cli/output.ts";
import { parseCommand, PROMPT, runRepl } from "../../lib/cli/repl.ts";
import type { ReplOptions } from "../../lib/cli/repl.ts";
import { Capture, FakePeer, FakeTransferError, ScriptedInput, settle } from "./_fake_peer.ts";

const pure = { permissions: "none" } as const;

Deno.test("parseCommand() reads the seed's commands and the extras", pure, () => {
  assert.deepEqual(parseCommand("send a.bin"), { kind: "send", file: "a.bin" });
  assert.deepEqual(parseCommand("  SEND   my file.txt  "), { kind: "send", file: "my file.txt" });
  assert.deepEqual(parseCommand('send "q.txt"'), { kind: "send", file: "q.txt" });
  assert.deepEqual(parseCommand("download a.bin"), { kind: "download", name: "a.bin" });
  for (const k of ["exit", "status", "files", "help", "wait"]) {
    assert.deepEqual(parseCommand(k), { kind: k });
  }
  assert.deepEqual(parseCommand(""), { kind: "empty" });
  assert.deepEqual(parseCommand("   "), { kind: "empty" });
  assert.deepEqual(parseCommand("# a comment"), { kind: "empty" });
});

Deno.test(
  "parseCommand() gives a one-line hint for unknown commands and missing arguments",
  pure,
  () => {
    const unknown = parseCommand("fetch a.bin");
    assert.equal(unknown.kind, "invalid");
    assert.match(
      (unknown as { message: string }).message,
      /^Unknown command: "fetch" \(commands: send/,
    );
    const missing = parseCommand("send");
    assert.deepEqual(missing, { kind: "invalid", message: "Missing file: usage is send <file>" });
    assert.deepEqual(parseCommand("download "), {
      kind: "invalid",
      message: "Missing file: usage is download <file>",
    });
    const extra = parseCommand("exit now");
    assert.equal(extra.kind, "invalid");
    for (const c of [unknown, missing, extra]) {
      assert.ok(!(c as { message: string }).message.includes("\n"));
    }
  },
);

function setup(peer: FakePeer, extra: Partial<ReplOptions> = {}, json = false) {
  const cap = new Capture();
  const input = new ScriptedInput();
  const logLines: string[] = [];
  const out = createOutput({ json, stdout: cap.out, stderr: cap.err });
  const done = runRepl({
    peer,
    input: input.stream,
    out,
    interactive: false,
    writePrompt: cap.out,
    dir: extra.dir ?? "/nonexistent",
    outDir: "/tmp/out",
    tracker: "127.0.0.1:6969",
    log: (l) => logLines.push(l),
    stopTimeoutMs: 1000,
    ...extra,
  });
  return { cap, input, done, logLines };
}

Deno.test("runRepl() downloads in the background and keeps answering", pure, async () => {
  const peer = new FakePeer();
  const { cap, input, done, logLines } = setup(peer);
  input.line("download a.bin");
  await settle();
  assert.equal(peer.started.length, 1);
  assert.equal(peer.started[0]!.options.outDir, "/tmp/out");
  assert.equal(peer.started[0]!.options.overwrite, false);
  peer.started[0]!.emit({});
  input.line("status");
  await settle();
  assert.match(cap.stdout, /downloading a\.bin in the background\n/);
  assert.match(cap.stdout, /node fake1 at 127\.0\.0\.1:40000, tracker 127\.0\.0\.1:6969\n/);
  assert.match(
    cap.stdout,
    /downloading a\.bin {2}25\.0% {2}.*MiB\/s {2}ETA 0:02 {2}owners 2 \(n1,n2\)\n/,
  );
  peer.started[0]!.finish();
  await settle();
  assert.match(cap.stdout, /done \/tmp\/out\/a\.bin \(64\.0 MiB in 1\.00 s, 64\.0 MiB\/s/);
  input.line("files");
  input.line("exit");
  assert.equal(await done, 0);
  assert.match(cap.stdout, /downloaded \(1\):\n {2}a\.bin {2}- {2}from n1, n2\n/);
  assert.match(cap.stdout, /bye\n$/);
  assert.ok(logLines.some((l) => l.startsWith("download complete name=a.bin")), logLines.join("|"));
  assert.ok(logLines.includes("leaving: exit"));
  // The only note: the end-of-run table of the downloads this session finished.
  assert.match(
    cap.stderr,
    /^Download results:\n.*\nOK +\| 64\.0 MiB \| 1\.00 s \| 64\.0 MiB\/s \|/,
  );
});

Deno.test("runRepl() prints hints for bad input and keeps going", {
  permissions: { read: true },
}, async () => {
  const peer = new FakePeer();
  const { cap, input, done } = setup(peer);
  input.line("frobnicate");
  input.line("send");
  input.line("download ../etc/passwd");
  input.line("send missing.txt");
  input.line("help");
  input.end();
  assert.equal(await done, 0);
  const errors = cap.stderr.trim().split("\n");
  assert.equal(errors.length, 4, cap.stderr);
  assert.match(errors[0]!, /^error: Unknown command: "frobnicate"/);
  assert.match(errors[1]!, /^error: Missing file: usage is send <file>$/);
  assert.match(errors[2]!, /^error: Cannot download "\.\.\/etc\/passwd": .*path separator/);
  assert.match(errors[3]!, /^error: Cannot send "missing\.txt": no such file in \/nonexistent$/);
  assert.equal(peer.started.length, 0);
  assert.equal(peer.shared.length, 0);
  assert.match(cap.stdout, /send <file> +share a file/);
  assert.match(cap.stdout, /bye\n$/);
});

Deno.test("runRepl() send shares a file from --dir and reports the content id", async () => {
  const dir = await Deno.makeTempDir({ prefix: "udpswarm-repl-" });
  try {
    await Deno.writeTextFile(join(dir, "a.txt"), "hello");
    await Deno.mkdir(join(dir, "sub"));
    const peer = new FakePeer();
    const { cap, input, done } = setup(peer, { dir });
    input.line("send a.txt");
    input.line("send sub");
    input.end();
    assert.equal(await done, 0);
    assert.deepEqual(peer.shared, [join(dir, "a.txt")]);
    assert.match(cap.stdout, new RegExp(`^sharing a\\.txt ${"c".repeat(63)}1\n`));
    assert.match(cap.stderr, /Cannot send "sub": not a regular file/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runRepl() reports a failed share with the engine's reason", async () => {
  const dir = await Deno.makeTempDir({ prefix: "udpswarm-repl-" });
  try {
    await Deno.writeTextFile(join(dir, "a.txt"), "hello");
    const peer = new FakePeer();
    peer.shareImpl = () => Promise.reject(new FakeTransferError("disk", "Cannot read a.txt: EIO"));
    const { cap, input, done } = setup(peer, { dir }, true);
    input.line("send a.txt");
    input.end();
    assert.equal(await done, 0);
    const events = cap.lines.map((l) => JSON.parse(l));
    assert.deepEqual(events[0], {
      event: "error",
      code: "disk",
      message: "Cannot read a.txt: EIO",
      file: "a.txt",
    });
    assert.deepEqual(events.at(-1), { event: "exit", reason: "end of input" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(
  "runRepl() end of input stops running downloads, keeping them resumable",
  pure,
  async () => {
    const peer = new FakePeer();
    const { cap, input, done, logLines } = setup(peer);
    input.line("download a.bin");
    input.line("download a.bin");
    input.end();
    assert.equal(await done, 0);
    assert.equal(peer.started.length, 1);
    assert.match(cap.stderr, /Cannot download "a\.bin": already downloading it/);
    assert.match(cap.stderr, /download a\.bin stopped; it resumes/);
    assert.ok(peer.started[0]!.options.signal?.aborted);
    assert.ok(logLines.includes("leaving: end of input"));
  },
);

Deno.test(
  "runRepl() wait blocks until downloads settle, and failures get a reason",
  pure,
  async () => {
    const peer = new FakePeer();
    peer.onDownload = (d) =>
      queueMicrotask(() => d.fail(new FakeTransferError("no_owners", "Nobody shares x.bin")));
    const { cap, input, done } = setup(peer);
    input.line("download x.bin");
    input.line("wait");
    input.line("status");
    input.end();
    assert.equal(await done, 0);
    assert.match(cap.stderr, /^error: Cannot download "x\.bin": Nobody shares x\.bin\n/);
    assert.match(cap.stdout, /no downloads in progress\nnot sharing any file\n/);
  },
);

Deno.test(
  "runRepl() on a terminal shows a prompt and redraws it around background news",
  pure,
  async () => {
    const peer = new FakePeer();
    const { cap, input, done } = setup(peer, { interactive: true });
    input.line("download a.bin");
    await settle();
    peer.started[0]!.finish();
    await settle();
    input.line("exit");
    assert.equal(await done, 0);
    assert.ok(cap.stdout.startsWith(PROMPT));
    // deno-lint-ignore no-control-regex
    assert.match(cap.stdout, /\r\x1b\[2Kdone \/tmp\/out\/a\.bin [^\n]*\n> /);
  },
);

Deno.test("runRepl() stops on the signal like exit", pure, async () => {
  const peer = new FakePeer();
  const ac = new AbortController();
  const { cap, input, done } = setup(peer, { signal: ac.signal });
  input.line("download a.bin");
  await settle();
  ac.abort("SIGINT");
  assert.equal(await done, 0);
  assert.ok(peer.started[0]!.options.signal?.aborted);
  assert.match(cap.stdout, /bye\n$/);
});

Deno.test("runRepl() list, and download of a name of two contents", pure, async () => {
  const A = "a".repeat(64), B = "b".repeat(64);
  const peer = new FakePeer();
  peer.listed = [
    { name: "f16.bin", contentId: A, size: 1000, owners: 2 },
    { name: "f16.bin", contentId: B, size: 2000, owners: 1 },
  ];
  peer.onDownload = (d) => queueMicrotask(() => d.fail(new FakeTransferError("ambiguous", "x")));
  const { cap, input, done } = setup(peer);
  input.line("list *.bin");
  await settle();
  input.line("download f16.bin");
  await settle();
  input.end();
  assert.equal(await done, 0);
  assert.match(cap.stdout, new RegExp(`^${A} {11}1000 {6}2  f16\\.bin\n`));
  assert.match(cap.stdout, /\n2 files\n/);
  assert.match(
    cap.stderr,
    /error: Cannot download "f16\.bin": x\n {2}a{64} .*\n {2}b{64} .*\nchoose one by its content id/,
  );
  assert.deepEqual(peer.lists.map((l) => l.pattern), ["*.bin", "f16.bin"]);
});
