import assert from "node:assert/strict";
import { join } from "node:path";
import { ExitCode } from "../../lib/cli/exit_codes.ts";
import { type CliEnv, runPeerCli } from "../../lib/cli/peer_cli.ts";
import type { PeerOptions } from "../../lib/peer/api.ts";
import { Capture, FakePeer, FakeTransferError, ScriptedInput, settle } from "./_fake_peer.ts";
import { listDir, tempDir } from "../_harness/processes.ts";

interface Harness {
  env: CliEnv;
  cap: Capture;
  input: ScriptedInput;
  peer: FakePeer;
  started: PeerOptions[];
  signal: (name: string) => void;
}

/** A test of runPeerCli() in a fresh temporary directory (removed after). */
function cliTest(name: string, fn: (dir: string) => Promise<void>): void {
  Deno.test(name, async () => {
    await using tmp = await tempDir("udpswarm-cli-main-");
    await fn(tmp.path);
  });
}

function harness(args: string[], cwd: string, startError?: unknown): Harness {
  const cap = new Capture();
  const input = new ScriptedInput();
  const peer = new FakePeer("n1");
  const started: PeerOptions[] = [];
  let handler: ((s: string) => void) | undefined;
  const env: CliEnv = {
    args,
    stdin: input.stream,
    stdinIsTerminal: false,
    stderrIsTerminal: false,
    columns: () => 80,
    stdout: cap.out,
    stderr: cap.err,
    cwd,
    startPeer: (o) => {
      started.push(o);
      return startError === undefined ? Promise.resolve(peer) : Promise.reject(startError);
    },
    onSignal: (h) => {
      handler = h;
      return () => (handler = undefined);
    },
    randomId: () => "rnd1",
  };
  return { env, cap, input, peer, started, signal: (s) => handler?.(s) };
}

Deno.test("runPeerCli() --help prints usage and exits 0", { permissions: "none" }, async () => {
  const h = harness(["--help"], "/");
  assert.equal(await runPeerCli(h.env), 0);
  assert.match(h.cap.stdout, /^udpswarm peer/);
  assert.match(h.cap.stdout, /Exit codes:/);
});

Deno.test("runPeerCli() exits 2 on a bad flag value, before doing anything", {
  permissions: "none",
}, async () => {
  const h = harness(["get", "a.bin", "--tracker", "localhost"], "/");
  assert.equal(await runPeerCli(h.env), ExitCode.usage);
  assert.equal(
    h.cap.stderr,
    'error: Cannot parse --tracker "localhost": the port is missing, expected HOST:PORT or ' +
      "[IPv6]:PORT\n" +
      "Run peer.ts --help for the commands, flags and exit codes\n",
  );
  assert.equal(h.started.length, 0);
});

cliTest("runPeerCli() share of a missing file exits 10 and leaves no files", async (dir) => {
  const h = harness(["share", "nope.bin", "--log-dir", join(dir, "logs")], dir);
  assert.equal(await runPeerCli(h.env), ExitCode.missingFile);
  assert.equal(h.cap.stderr, 'error: Cannot share "nope.bin": no such file\n');
  assert.equal(h.started.length, 0);
  assert.deepEqual(await listDir(dir), []);
});

cliTest("runPeerCli() get of a name with ../ exits 8 and leaves no files", async (dir) => {
  const h = harness(
    ["get", "../secret", "--out", join(dir, "out"), "--log-dir", join(dir, "logs"), "--json"],
    dir,
  );
  assert.equal(await runPeerCli(h.env), ExitCode.badName);
  const e = JSON.parse(h.cap.stdout);
  assert.equal(e.event, "error");
  assert.equal(e.code, "bad_name");
  assert.equal(e.exitCode, 8);
  assert.equal(h.started.length, 0);
  assert.deepEqual(await listDir(dir), []);
});

cliTest("runPeerCli() exits 9 when the tracker cannot be reached", async (dir) => {
  const h = harness(
    ["get", "a.bin", "--out", join(dir, "out"), "--log-dir", join(dir, "logs")],
    dir,
    new Error("No answer from the tracker at 127.0.0.1:9 after 5 tries"),
  );
  assert.equal(await runPeerCli(h.env), ExitCode.tracker);
  assert.equal(
    h.cap.stderr,
    "error: Cannot join the swarm at 127.0.0.1:6969: No answer from the tracker at 127.0.0.1:9 " +
      `after 5 tries (node log: ${join(dir, "logs", "node-rnd1.log")})\n`,
  );
  const log = await Deno.readTextFile(join(dir, "logs", "node-rnd1.log"));
  assert.match(log, /start failed code=failure/);
  assert.match(log, / exit\n$/);
});

cliTest("runPeerCli() get prints the path, logs the figures and closes the peer", async (dir) => {
  const out = join(dir, "out");
  const h = harness(
    ["get", "a.bin", "--out", out, "--log-dir", join(dir, "logs"), "--id", "g1", "--mtu", "1500"],
    dir,
  );
  h.peer.onDownload = (d) => queueMicrotask(() => d.finish({ path: join(out, "a.bin") }));
  assert.equal(await runPeerCli(h.env), 0);
  assert.equal(h.cap.stdout, `${join(out, "a.bin")}\n`);
  assert.equal(h.peer.closed, 1);
  const o = h.started[0]!;
  assert.equal(o.nodeId, "g1");
  assert.equal(o.outDir, out);
  assert.equal(o.mtu, 1500);
  assert.equal(o.tracker, "127.0.0.1:6969");
  assert.equal(o.cacheDir, join(out, ".udpswarm"));
  assert.equal(h.peer.started[0]!.options.outDir, out);
  const log = await Deno.readTextFile(join(dir, "logs", "node-g1.log"));
  const lines = log.trim().split("\n");
  assert.ok(lines.every((l) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /.test(l)), log);
  assert.match(lines[0]!, / start mode=get tracker=127\.0\.0\.1:6969 /);
  assert.match(log, / download complete name=a\.bin .*owners=n1=33554432,n2=33554432 /);
  assert.match(lines.at(-1)!, / exit$/);
});

cliTest("runPeerCli() get maps a TransferError to its exit code", async (dir) => {
  const h = harness(["get", "a.bin", "--out", dir, "--log-dir", join(dir, "logs")], dir);
  h.peer.onDownload = (d) =>
    queueMicrotask(() => d.fail(new FakeTransferError("not_found", "Nobody knows a.bin")));
  assert.equal(await runPeerCli(h.env), ExitCode.notFound);
  assert.equal(h.cap.stderr.split("\n").filter((l) => l.startsWith("error:")).length, 1);
  assert.match(
    h.cap.stderr,
    /error: Cannot get "a\.bin": Nobody knows a\.bin \(node log: .*node-\w+\.log\)\n/,
  );
  assert.equal(h.cap.stdout, "");
  assert.deepEqual(await listDir(dir), ["logs"]);
});

cliTest("runPeerCli() share serves until a signal, then closes the peer", async (dir) => {
  await Deno.writeTextFile(join(dir, "a.bin"), "data");
  const h = harness(["share", "a.bin", "--log-dir", join(dir, "logs"), "--json"], dir);
  const done = runPeerCli(h.env);
  await settle(10);
  assert.deepEqual(h.peer.shared, [join(dir, "a.bin")]);
  assert.equal(h.peer.closed, 0);
  h.signal("SIGTERM");
  assert.equal(await done, 0);
  assert.equal(h.peer.closed, 1);
  const events = h.cap.lines.map((l) => JSON.parse(l).event);
  assert.deepEqual(events, ["sharing", "serving", "exit"]);
  assert.equal(h.cap.stderr, "");
});

cliTest("runPeerCli() prompt over piped stdin ends at end of input", async (dir) => {
  await Deno.writeTextFile(join(dir, "a.bin"), "data");
  const h = harness(["--dir", dir, "--log-dir", join(dir, "logs"), "--id", "r1"], dir);
  const done = runPeerCli(h.env);
  h.input.line("send a.bin");
  h.input.line("files");
  h.input.line("bogus");
  h.input.end();
  assert.equal(await done, 0);
  assert.match(
    h.cap.stdout,
    /^sharing a\.bin c{63}1\nudpswarm:c{63}1\?name=a\.bin&size=10\nshared \(1\):\n/,
  );
  assert.match(h.cap.stdout, /bye\n$/);
  assert.match(h.cap.stderr, /peer n1 at 127\.0\.0\.1:40000, tracker 127\.0\.0\.1:6969: ready/);
  assert.match(h.cap.stderr, /error: Unknown command: "bogus"/);
  assert.equal(h.peer.closed, 1);
  const log = await Deno.readTextFile(join(dir, "logs", "node-r1.log"));
  assert.match(log, / command send a\.bin\n/);
  assert.match(log, / leaving: end of input\n/);
});
