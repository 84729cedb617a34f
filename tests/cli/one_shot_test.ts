import assert from "node:assert/strict";
import { join } from "node:path";
import { ExitCode, exitCodeFor } from "../../lib/cli/exit_codes.ts";
import { checkShareFiles, runGet, runShare } from "../../lib/cli/one_shot.ts";
import { createOutput } from "../../lib/cli/output.ts";
import { ProgressReporter } from "../../lib/cli/progress.ts";
import { Capture, type FakeDownload, FakePeer, FakeTransferError, settle } from "./_fake_peer.ts";

const pure = { permissions: "none" } as const;

Deno.test("exitCodeFor() gives each failure its own code", pure, () => {
  const codes = [
    "not_found",
    "no_owners",
    "all_owners_failed",
    "disk",
    "exists",
    "bad_name",
    "tracker",
    "missing_file",
    "aborted",
    "usage",
  ].map(exitCodeFor);
  assert.equal(new Set(codes).size, codes.length);
  assert.ok(!codes.includes(0));
  assert.equal(exitCodeFor("bad_manifest"), ExitCode.allOwnersFailed);
  assert.equal(exitCodeFor("something new"), ExitCode.failure);
});

Deno.test("checkShareFiles() resolves paths and refuses missing files and directories", async () => {
  const dir = await Deno.makeTempDir({ prefix: "udpswarm-share-" });
  try {
    await Deno.writeTextFile(join(dir, "a.txt"), "a");
    assert.deepEqual(await checkShareFiles(["a.txt"], dir), { paths: [join(dir, "a.txt")] });
    assert.deepEqual(await checkShareFiles(["a.txt", "nope.txt"], dir), {
      code: "missing_file",
      message: 'Cannot share "nope.txt": no such file',
    });
    assert.deepEqual(await checkShareFiles([dir], "/"), {
      code: "missing_file",
      message: `Cannot share "${dir}": not a regular file`,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

function io(json: boolean) {
  const cap = new Capture();
  const out = createOutput({ json, stdout: cap.out, stderr: cap.err });
  const log: string[] = [];
  return { cap, out, log, logFn: (l: string) => void log.push(l) };
}

Deno.test(
  "runShare() prints one line per acknowledged file, then serves until the signal",
  pure,
  async () => {
    const peer = new FakePeer("s1");
    const { cap, out, log, logFn } = io(false);
    const ac = new AbortController();
    const done = runShare({
      peer,
      paths: ["/d/a.bin", "/d/b.bin"],
      out,
      log: logFn,
      signal: ac.signal,
    });
    await settle();
    const id = (n: number) => `${"c".repeat(63)}${n}`;
    assert.equal(
      cap.stdout,
      `sharing a.bin ${id(1)}\nudpswarm:${id(1)}?name=a.bin&size=10\n` +
        `sharing b.bin ${id(2)}\nudpswarm:${id(2)}?name=b.bin&size=10\n`,
    );
    assert.match(cap.stderr, /serving 2 files as s1/);
    ac.abort("SIGTERM");
    assert.equal(await done, 0);
    assert.deepEqual(log, ["stopping on SIGTERM"]);
  },
);

Deno.test("runShare() --json emits sharing, serving and exit events", pure, async () => {
  const peer = new FakePeer("s1");
  const { cap, out, logFn } = io(true);
  const ac = new AbortController();
  const done = runShare({ peer, paths: ["/d/a.bin"], out, log: logFn, signal: ac.signal });
  await settle();
  ac.abort("SIGINT");
  assert.equal(await done, 0);
  const events = cap.lines.map((l) => JSON.parse(l));
  assert.deepEqual(events.map((e) => e.event), ["sharing", "serving", "exit"]);
  assert.deepEqual(events[0], {
    event: "sharing",
    name: "a.bin",
    contentId: `${"c".repeat(63)}1`,
    size: 10,
    link: `udpswarm:${"c".repeat(63)}1?name=a.bin&size=10`,
  });
  assert.equal(events[2].reason, "SIGINT");
  assert.equal(cap.stderr, "");
});

Deno.test("runShare() fails with the exit code of the reason", pure, async () => {
  const peer = new FakePeer();
  peer.shareImpl = () => Promise.reject(new FakeTransferError("not_found", "Gone: /d/a.bin"));
  const { cap, out, logFn } = io(false);
  const code = await runShare({
    peer,
    paths: ["/d/a.bin"],
    out,
    log: logFn,
    signal: new AbortController().signal,
  });
  assert.equal(code, ExitCode.missingFile);
  assert.equal(cap.stderr, 'error: Cannot share "/d/a.bin": Gone: /d/a.bin\n');
});

/** A download that reports progress once, then succeeds. */
function emitThenFinish(d: FakeDownload): void {
  queueMicrotask(() => {
    d.emit({});
    d.finish();
  });
}

function getSetup(json: boolean) {
  const peer = new FakePeer("g1");
  const x = io(json);
  const ac = new AbortController();
  let progress = "";
  const reporter = new ProgressReporter({
    mode: json ? "json" : "lines",
    write: (s) => void (progress += s),
    intervalMs: 0,
  });
  const run = () =>
    runGet({
      peer,
      query: "a.bin",
      outDir: "/tmp/out",
      out: x.out,
      progress: reporter,
      log: x.logFn,
      signal: ac.signal,
    });
  return { peer, ...x, ac, run, progress: () => progress };
}

Deno.test("runGet() prints the verified path and exits 0", pure, async () => {
  const s = getSetup(false);
  s.peer.onDownload = emitThenFinish;
  assert.equal(await s.run(), 0);
  assert.equal(s.cap.stdout, "/tmp/out/a.bin\n");
  assert.match(
    s.cap.stderr,
    /^a\.bin is content (ab){32} \(the tracker's answer for that name; the content id is what is verified\)\n/,
  );
  assert.match(s.cap.stderr, /\nverified a\.bin: 64\.0 MiB in 1\.00 s, 64\.0 MiB\/s, from n1/);
  // The end-of-run table, after aria2c's "Download Results".
  assert.match(
    s.cap.stderr,
    /\nDownload results:\nstat +\| size +\| time +\| rate +\| owners +\| path\n/,
  );
  assert.match(
    s.cap.stderr,
    /\nOK +\| 64\.0 MiB \| 1\.00 s \| 64\.0 MiB\/s \| n1,n2 +\| \/tmp\/out\/a\.bin\n/,
  );
  assert.ok(s.progress().startsWith("a.bin  25.0%"), s.progress());
  assert.match(s.progress(), /\na\.bin {2}100\.0% {2}64\.0 MiB\/64\.0 MiB {2}64\.0 MiB\/s/);
  assert.match(s.log[0]!, /^download complete name=a\.bin .* elapsed_ms=1000 rate_mibps=64\.0 /);
});

Deno.test("runGet() --json writes progress and a done event on stdout only", pure, async () => {
  const s = getSetup(true);
  s.peer.onDownload = emitThenFinish;
  assert.equal(await s.run(), 0);
  const events = s.cap.lines.map((l) => JSON.parse(l));
  assert.deepEqual(events.map((e) => e.event), ["resolved", "done"]);
  assert.deepEqual(events[0], {
    event: "resolved",
    name: "a.bin",
    contentId: "ab".repeat(32),
    source: "tracker",
  });
  assert.equal(events[1].path, "/tmp/out/a.bin");
  assert.equal(events[1].rate, 67108864);
  assert.equal(events[1].link, `udpswarm:${"ab".repeat(32)}?name=a.bin&size=67108864`);
  const progress = s.progress().trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(progress.map((p) => [p.event, p.percent]), [["progress", 25], [
    "progress",
    100,
  ]]);
  assert.equal(s.cap.stderr, "");
});

for (
  const [code, exit] of [
    ["not_found", ExitCode.notFound],
    ["no_owners", ExitCode.noOwners],
    ["all_owners_failed", ExitCode.allOwnersFailed],
    ["disk", ExitCode.disk],
    ["exists", ExitCode.exists],
    ["bad_name", ExitCode.badName],
  ] as const
) {
  Deno.test(`runGet() exits ${exit} with a one-line reason on ${code}`, pure, async () => {
    const s = getSetup(false);
    s.peer.onDownload = (d) =>
      queueMicrotask(() => d.fail(new FakeTransferError(code, `Reason ${code}\nmore`)));
    assert.equal(await s.run(), exit);
    assert.equal(s.cap.stdout, "");
    assert.equal(s.cap.stderr, `error: Cannot get "a.bin": Reason ${code}\n`);
  });
}

Deno.test("runGet() --json reports the failure with its code and exit code", pure, async () => {
  const s = getSetup(true);
  s.peer.onDownload = (d) =>
    queueMicrotask(() => d.fail(new FakeTransferError("no_owners", "Nobody shares a.bin")));
  assert.equal(await s.run(), ExitCode.noOwners);
  assert.deepEqual(JSON.parse(s.cap.stdout), {
    event: "error",
    code: "no_owners",
    message: 'Cannot get "a.bin": Nobody shares a.bin',
    query: "a.bin",
    exitCode: ExitCode.noOwners,
  });
});

Deno.test("runGet() exits 130 when interrupted", pure, async () => {
  const s = getSetup(false);
  const done = s.run();
  await settle();
  s.ac.abort("SIGINT");
  assert.equal(await done, ExitCode.interrupted);
  assert.match(s.cap.stderr, /interrupted; run again to resume/);
});
