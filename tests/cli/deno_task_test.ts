/**
 * `deno task peer` and `deno task tracker` exactly as a user runs them, in a copy of the
 * project (its deno.json, with `peer.ts`, `tracker.ts` and `lib/` linked), so the tasks' own
 * grants apply and nothing is written into the repository: the peer reads a file the user
 * names anywhere, writes only `./downloads` and `./logs`, names the missing grant and the exact
 * command when asked to save elsewhere (and that command works), and no run prints Deno's
 * "experimental" warning about permissions in the config file.
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { randomFile, sha256File, spawnProcess, tempDir } from "../_harness/processes.ts";
import { ExitCode } from "../../lib/cli/exit_codes.ts";
import { libcPath } from "../../lib/net/socket_buffer.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const WAIT = 30_000;

/** A throwaway project: deno.json and deno.lock copied, the sources linked. */
async function projectCopy(dir: string): Promise<void> {
  await Deno.copyFile(join(ROOT, "deno.json"), join(dir, "deno.json"));
  await Deno.copyFile(join(ROOT, "deno.lock"), join(dir, "deno.lock")).catch(() => {});
  for (const name of ["peer.ts", "tracker.ts", "lib"]) {
    await Deno.symlink(join(ROOT, name), join(dir, name));
  }
}

/** Splits a shell command line as printed by the grant hint (single quotes only). */
function shellWords(line: string): string[] {
  const words: string[] = [];
  for (const m of line.matchAll(/'((?:[^']|'\\'')*)'|(\S+)/g)) {
    words.push(m[1] !== undefined ? m[1].replace(/'\\''/g, "'") : m[2]!);
  }
  return words;
}

Deno.test("deno task peer: reads what the user names, saves elsewhere only with the printed command", async () => {
  await using tmp = await tempDir("udpswarm-task-");
  const project = join(tmp.path, "project");
  const elsewhere = join(tmp.path, "elsewhere");
  const data = join(tmp.path, "srv data");
  for (const d of [project, elsewhere, data]) await Deno.mkdir(d);
  await projectCopy(project);
  await randomFile(join(data, "film.bin"), 300_000, 5);
  const expected = await sha256File(join(data, "film.bin"));

  const task = (name: string, args: string[]) =>
    spawnProcess({ name, command: Deno.execPath(), args: ["task", ...args], cwd: project });
  await using tracker = task("tracker", ["tracker", "--port", "0", "--interval", "2"]);
  const { match } = await tracker.waitForLine(/listening on udp:\/\/(\S+)/, WAIT);
  const at = match[1]!;

  // Sharing a file outside the project works with the task's grants.
  await using share = task("share", ["peer", "share", join(data, "film.bin"), "--tracker", at]);
  await share.waitForLine(/^sharing film\.bin [0-9a-f]{64}$/, WAIT);

  // Saving into ./downloads works as is.
  await using get = task("get", ["peer", "get", "film.bin", "--tracker", at, "-q"]);
  assert.equal((await get.wait(WAIT)).code, 0, get.output());
  assert.equal(await sha256File(join(project, "downloads", "film.bin")), expected);

  // Saving elsewhere: exit 6 before any traffic, naming the path, the grant and the command.
  await using denied = task("denied", [
    "peer",
    "get",
    "film.bin",
    "--out",
    elsewhere,
    "--tracker",
    at,
  ]);
  assert.equal((await denied.wait(WAIT)).code, ExitCode.disk, denied.output());
  const err = denied.output("stderr");
  assert.match(
    err,
    new RegExp(
      `^error: Cannot run: this run may not write to ${elsewhere} \\(--out; it needs --allow-write=${elsewhere}\\)$`,
      "m",
    ),
  );
  const command = /^ {2}(deno run .*)$/m.exec(err)?.[1];
  assert.ok(command, err);
  assert.match(command, new RegExp(`--allow-write=${elsewhere},logs `));
  const libc = libcPath();
  if (libc !== undefined) {
    assert.ok(
      command.includes(`--allow-ffi=${libc} `),
      `the fast path's grant is kept: ${command}`,
    );
  }

  // The printed command, run as printed (from the same directory), saves there.
  const [deno, ...args] = shellWords(command);
  assert.equal(deno, "deno");
  await using fixed = spawnProcess({ name: "fixed", command: Deno.execPath(), args, cwd: project });
  assert.equal((await fixed.wait(WAIT)).code, 0, fixed.output());
  assert.equal(await sha256File(join(elsewhere, "film.bin")), expected);

  // -o FILE into a directory the task may write: saved under that name.
  await using named = task("named", [
    "peer",
    "get",
    "film.bin",
    "-o",
    "downloads/sub/renamed.bin",
    "--tracker",
    at,
  ]);
  assert.equal((await named.wait(WAIT)).code, 0, named.output());
  assert.equal(named.output("stdout"), "downloads/sub/renamed.bin");
  assert.equal(await sha256File(join(project, "downloads", "sub", "renamed.bin")), expected);

  share.kill("SIGINT");
  assert.equal((await share.wait(WAIT)).code, 0, share.output());
  // The task grants libc over FFI: where this machine has it, the peers raised their buffers.
  let logs = "";
  for await (const e of Deno.readDir(join(project, "logs"))) {
    logs += await Deno.readTextFile(join(project, "logs", e.name));
  }
  assert.match(
    logs,
    libc === undefined ? /UDP receive buffer: the kernel default/ : /SO_RCVBUF through FFI/,
  );
  for (const child of [tracker, share, get, denied, fixed, named]) {
    assert.doesNotMatch(child.output(), /experimental feature/, child.name);
    assert.doesNotMatch(child.output(), /run again with the --allow/i, child.name);
  }
});

Deno.test("deno task peer/tracker --version and peer --help show the task's defaults", async () => {
  await using tmp = await tempDir("udpswarm-task-");
  await projectCopy(tmp.path);
  const run = async (args: string[]) => {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["task", ...args],
      cwd: tmp.path,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    return { code: r.code, stdout: dec.decode(r.stdout), stderr: dec.decode(r.stderr) };
  };
  const peer = await run(["peer", "--version"]);
  assert.equal(peer.code, 0);
  assert.match(peer.stdout, /^udpswarm peer \d+\.\d+\.\d+ \(deno \d+\.\d+\.\d+\)\n$/);
  const tracker = await run(["tracker", "--version"]);
  assert.equal(tracker.code, 0);
  assert.match(tracker.stdout, /^udpswarm tracker \d+\.\d+\.\d+ \(deno \d+\.\d+\.\d+\)\n$/);
  const help = await run(["peer", "--help"]);
  assert.equal(help.code, 0);
  assert.match(
    help.stdout,
    /With `deno task peer`.*defaults are:\n +--dir \.\/files --out \.\/downloads/,
  );
  assert.match(help.stdout, /write on \.\/downloads\n? *and \.\/logs only/);
  for (const r of [peer, tracker, help]) assert.doesNotMatch(r.stderr, /experimental feature/);
});
