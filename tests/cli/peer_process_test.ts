/**
 * End-to-end tests of `peer.ts` as real processes on loopback: a tracker process, peers
 * driven through the prompt over piped stdin, the one-shot `share`/`get` modes with their
 * exit codes and `--json`, and bad input. Every process gets explicit, narrow permissions;
 * every wait is bounded; the temporary directory is removed on every path.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type ChildProcess,
  listDir,
  randomFile,
  sha256File,
  spawnProcess,
  tempDir,
} from "../_harness/processes.ts";
import { ExitCode } from "../../lib/cli/exit_codes.ts";
import { PEER_TS, peerPermissions, runPeerProcess, spawnPeerProcess } from "./_peer_process.ts";
import { spawnTrackerProcess } from "./_tracker_process.ts";

const SIZE = 4 * 1024 * 1024 + 12345;
const WAIT = 30_000;

/** A peer prompt whose stdin the test writes: a FIFO, so the harness reads its output. */
interface PromptProcess extends AsyncDisposable {
  child: ChildProcess;
  /** Writes one line to the prompt. */
  send(line: string): Promise<void>;
  /** Closes stdin (end of input). */
  end(): void;
}

async function startPrompt(
  name: string,
  dir: string,
  logs: string,
  args: string[],
): Promise<PromptProcess> {
  const fifo = join(dir, `.stdin-${name}`);
  const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
  assert.equal(made.code, 0, "mkfifo");
  const child = spawnProcess({
    name,
    command: "sh",
    args: [
      "-c",
      'exec "$@" < "$0"',
      fifo,
      Deno.execPath(),
      "run",
      "--no-prompt",
      ...peerPermissions(dir, logs),
      PEER_TS,
      ...args,
    ],
  });
  // Opening the write end waits for the child to open the read end.
  const writer = await Deno.open(fifo, { write: true });
  const encoder = new TextEncoder();
  let open = true;
  const end = () => {
    if (open) writer.close();
    open = false;
  };
  return {
    child,
    async send(line) {
      const bytes = encoder.encode(`${line}\n`);
      for (let off = 0; off < bytes.length;) off += await writer.write(bytes.subarray(off));
    },
    end,
    async [Symbol.asyncDispose]() {
      end();
      await child.close();
      await Deno.remove(fifo).catch(() => {});
    },
  };
}

const peerProcess = spawnPeerProcess;

/** What {@link twoOwners} sets up. */
interface TwoOwners extends AsyncDisposable {
  /** The log directory of every process. */
  logs: string;
  /** Directories of the two owners (holding the same file) and of the downloader. */
  a: string;
  b: string;
  c: string;
  /** SHA-256 of the file. */
  expected: string;
  /** The tracker process. */
  tracker: { child: ChildProcess; address: string };
  /** `--tracker ADDRESS --log-dir LOGS`, for every peer. */
  common: string[];
}

/**
 * A temporary directory with `logs/`, owners `a/` and `b/` holding the same random file of
 * {@link SIZE} bytes, an empty `c/`, and a tracker process. Disposing stops the tracker, then
 * removes the directory.
 */
async function twoOwners(
  { prefix, file, seed }: { prefix: string; file: string; seed: number },
): Promise<TwoOwners> {
  const tmp = await tempDir(prefix);
  try {
    const logs = join(tmp.path, "logs");
    const [a, b, c] = ["a", "b", "c"].map((k) => join(tmp.path, k)) as [string, string, string];
    for (const d of [logs, a, b, c]) await Deno.mkdir(d);
    await randomFile(join(a, file), SIZE, seed);
    await Deno.copyFile(join(a, file), join(b, file));
    const expected = await sha256File(join(a, file));
    const tracker = await spawnTrackerProcess(logs);
    return {
      logs,
      a,
      b,
      c,
      expected,
      tracker,
      common: ["--tracker", tracker.address, "--log-dir", logs],
      async [Symbol.asyncDispose]() {
        await tracker.child.close();
        await tmp[Symbol.asyncDispose]();
      },
    };
  } catch (e) {
    await tmp[Symbol.asyncDispose]();
    throw e;
  }
}

Deno.test("peer.ts prompt: two peers send, a third downloads, shows status and exits", async () => {
  await using swarm = await twoOwners({ prefix: "udpswarm-cli-prompt-", file: "big.bin", seed: 7 });
  const { logs, a, b, c, expected, tracker, common } = swarm;
  await using seedA = await startPrompt("seed-a", a, logs, [
    "--id",
    "seed-a",
    "--dir",
    a,
    ...common,
  ]);
  await using seedB = await startPrompt("seed-b", b, logs, [
    "--id",
    "seed-b",
    "--dir",
    b,
    ...common,
  ]);
  for (const s of [seedA, seedB]) await s.send("send big.bin");
  const ids = await Promise.all(
    [seedA, seedB].map((s) => s.child.waitForLine(/^sharing big\.bin ([0-9a-f]{64})$/, WAIT)),
  );
  assert.equal(ids[0]!.match[1], ids[1]!.match[1], "same content, same id");

  await using leech = await startPrompt("leech", c, logs, ["--id", "leech", "--dir", c, ...common]);
  await leech.send("download big.bin");
  await leech.child.waitForLine(/^downloading big\.bin in the background$/, WAIT);
  const done = await leech.child.waitForLine(/^done (\S+) \(.* from (.*)\)$/, WAIT);
  assert.equal(done.match[1], join(c, "big.bin"));
  assert.match(done.match[2]!, /seed-[ab]/);
  assert.equal(await sha256File(join(c, "big.bin")), expected);

  await leech.send("status");
  await leech.child.waitForLine(/^node leech at 127\.0\.0\.1:\d+, tracker /, WAIT);
  await leech.send("exit");
  const status = await leech.child.wait(WAIT);
  assert.equal(status.code, 0);
  assert.match(leech.child.output("stdout"), /\nbye$/);
  assert.equal(leech.child.output("stderr").includes("error:"), false);
  assert.deepEqual((await listDir(c)).filter((n) => !n.startsWith(".")), ["big.bin"]);

  seedA.end(); // end of input behaves like exit
  await seedB.send("exit");
  assert.deepEqual(
    (await Promise.all([seedA, seedB].map((s) => s.child.wait(WAIT)))).map((s) => s.code),
    [0, 0],
  );
  assert.equal((await tracker.child.close()).code, 0, "the tracker flushes its log and exits");
  const trackerLog = await Deno.readTextFile(join(logs, "tracker.log"));
  for (const id of ["leech", "seed-a", "seed-b"]) {
    assert.match(trackerLog, new RegExp(`\\bexit ${id}\\b`), `tracker.log records EXIT of ${id}`);
  }
  const leechLog = await Deno.readTextFile(join(logs, "node-leech.log"));
  assert.match(leechLog, /Z command download big\.bin\n/);
  assert.match(leechLog, /Z download complete name=big\.bin .* size=4206649 /);
  assert.match(leechLog, /Z exit\n$/);
});

Deno.test("peer.ts share/get: exit codes and --json", async () => {
  await using swarm = await twoOwners({
    prefix: "udpswarm-cli-oneshot-",
    file: "one.bin",
    seed: 11,
  });
  const { logs, a, b, c, expected, tracker, common } = swarm;
  await using shareA = peerProcess("share-a", a, logs, [
    "share",
    join(a, "one.bin"),
    "--id",
    "share-a",
    "--dir",
    a,
    ...common,
  ]);
  await using shareB = peerProcess("share-b", b, logs, [
    "share",
    join(b, "one.bin"),
    "--id",
    "share-b",
    "--dir",
    b,
    "--json",
    ...common,
  ]);
  const text = await shareA.waitForLine(/^sharing one\.bin ([0-9a-f]{64})$/, WAIT);
  const json = await shareB.waitForLine(/^\{"event":"sharing"/, WAIT);
  const sharing = JSON.parse(json.line.text);
  assert.equal(sharing.contentId, text.match[1]);
  assert.equal(sharing.size, SIZE);

  const get = await runPeerProcess("get", c, logs, [
    "get",
    "one.bin",
    "--out",
    c,
    "--id",
    "getter",
    "--json",
    ...common,
  ], WAIT);
  assert.equal(get.code, 0, get.output);
  assert.equal(get.stderr, "");
  const events = get.stdout.split("\n").map((l) => JSON.parse(l));
  assert.equal(events[0].event, "ready");
  const done = events.at(-1);
  assert.equal(done.event, "done");
  assert.equal(done.path, join(c, "one.bin"));
  assert.equal(done.size, SIZE);
  assert.equal(done.contentId, sharing.contentId);
  assert.ok(
    done.owners.length >= 1 &&
      done.owners.every((o: { nodeId: string }) => /^share-[ab]$/.test(o.nodeId)),
  );
  assert.equal(await sha256File(join(c, "one.bin")), expected);

  // The same again: the file is already there with this content, so there is nothing to do.
  const again = await runPeerProcess(
    "again",
    c,
    logs,
    ["get", "one.bin", "--out", c, ...common],
    WAIT,
  );
  assert.equal(again.code, 0, again.output);
  assert.match(again.stderr, /^already have one\.bin: .*one\.bin has this content/m);
  assert.doesNotMatch(again.stderr, /MiB\/s|from nobody/);
  assert.equal(again.stdout, join(c, "one.bin"));

  // Other bytes under that name: refused (7), and the hint names the flag.
  const other = await Deno.readFile(join(c, "one.bin"));
  other[12345] = other[12345]! ^ 0xff;
  await Deno.writeFile(join(c, "one.bin"), other);
  const differs = await runPeerProcess("differs", c, logs, [
    "get",
    "one.bin",
    "--out",
    c,
    ...common,
  ], WAIT);
  assert.equal(differs.code, ExitCode.exists, differs.output);
  assert.match(
    differs.stderr,
    /^error: Cannot save one\.bin: .*one\.bin exists with other content; use --overwrite to replace it \(node log: .*\.log\)$/m,
  );
  assert.doesNotMatch(differs.stderr, /pass overwrite/);
  assert.equal(differs.stdout, "");

  const byId = await runPeerProcess("by-id", c, logs, [
    "get",
    sharing.contentId,
    "--out",
    c,
    "--overwrite",
    "--quiet",
    ...common,
  ], WAIT);
  assert.equal(byId.code, 0, byId.output);
  assert.equal(byId.stdout, join(c, "one.bin"));
  assert.equal(await sha256File(join(c, "one.bin")), expected);

  shareA.kill("SIGINT");
  shareB.kill("SIGTERM");
  assert.equal((await shareA.wait(WAIT)).code, 0);
  assert.equal((await shareB.wait(WAIT)).code, 0);
  assert.match(shareB.output("stdout"), /\{"event":"exit","reason":"SIGTERM"\}$/);
  assert.equal((await tracker.child.close()).code, 0, "the tracker flushes its log and exits");
  const trackerLog = await Deno.readTextFile(join(logs, "tracker.log"));
  assert.match(trackerLog, /\bexit share-a\b/);
  assert.match(trackerLog, /\bexit share-b\b/);
});

Deno.test("peer.ts bad input: clear messages, distinct exit codes, no stray files", async (t) => {
  await using tmp = await tempDir("udpswarm-cli-bad-");
  const logs = join(tmp.path, "logs");
  const dir = join(tmp.path, "p");
  await Deno.mkdir(logs);
  await Deno.mkdir(dir);
  const tracker = await spawnTrackerProcess(logs);
  await using _tracker = tracker.child;
  const common = ["--tracker", tracker.address, "--log-dir", logs];
  const before = await listDir(logs);

  const run = async (name: string, args: string[]) => {
    await using p = peerProcess(name, dir, logs, args);
    const status = await p.wait(WAIT);
    return { code: status.code, stdout: p.output("stdout"), stderr: p.output("stderr") };
  };

  await t.step("an unknown command in the prompt gets a hint, the prompt carries on", async () => {
    await using p = await startPrompt("prompt", dir, logs, [
      "--id",
      "bad-prompt",
      "--dir",
      dir,
      ...common,
    ]);
    await p.send("frobnicate the file");
    await p.child.waitForLine(/^error: Unknown command: "frobnicate" \(commands: send,/, WAIT);
    await p.send("send");
    await p.child.waitForLine(/^error: Missing file: usage is send <file>$/, WAIT);
    await p.send("send nothing-here.bin");
    await p.child.waitForLine(/^error: Cannot send "nothing-here\.bin": no such file in /, WAIT);
    await p.send("download ../../etc/passwd");
    await p.child.waitForLine(
      /^error: Cannot download "\.\.\/\.\.\/etc\/passwd": .*separator/,
      WAIT,
    );
    p.end();
    assert.equal((await p.child.wait(WAIT)).code, 0);
    assert.match(p.child.output("stdout"), /^bye$/m);
  });

  await t.step("a missing file to share", async () => {
    const r = await run("missing", ["share", join(dir, "missing.bin"), ...common]);
    assert.equal(r.code, ExitCode.missingFile);
    assert.equal(r.stderr, `error: Cannot share "${join(dir, "missing.bin")}": no such file`);
  });

  await t.step("a bad --tracker value", async () => {
    const r = await run("bad-tracker", ["get", "x.bin", "--tracker", "127.0.0.1", "--out", dir]);
    assert.equal(r.code, ExitCode.usage);
    assert.match(r.stderr, /^error: Cannot parse --tracker "127\.0\.0\.1": the port is missing/);
  });

  await t.step("a bad --max-download RATE", async () => {
    const r = await run("bad-rate", ["get", "x.bin", "--max-download", "10X", ...common]);
    assert.equal(r.code, ExitCode.usage);
    assert.match(
      r.stderr,
      /^error: Cannot parse --max-download: expected bytes\/s or .*got "10X"$/m,
    );
  });

  await t.step("a name with ../", async () => {
    const r = await run("traversal", ["get", "../escape.bin", "--out", dir, ...common]);
    assert.equal(r.code, ExitCode.badName);
    assert.match(r.stderr, /^error: Cannot get "\.\.\/escape\.bin": .*path separator$/);
  });

  await t.step("a name nobody owns", async () => {
    const r = await run("nobody", ["get", "nobody.bin", "--out", dir, "--quiet", ...common]);
    assert.equal(r.code, ExitCode.notFound, r.stderr);
    assert.match(r.stderr, /^error: Cannot (get|download) "nobody\.bin": .+$/);
    assert.equal(r.stdout, "");
  });

  await t.step("no stray files", async () => {
    assert.deepEqual((await listDir(dir)).filter((n) => !n.startsWith(".stdin-")), []);
    const added = (await listDir(logs)).filter((n) => !before.includes(n));
    assert.ok(added.every((n) => /^node-.+\.log$/.test(n)), added.join(", "));
    assert.ok(!(await listDir(tmp.path)).includes("escape.bin"));
  });
});
