import assert from "node:assert/strict";
import {
  randomFile,
  sha256,
  sha256File,
  spawnDeno,
  spawnProcess,
  tempDir,
} from "../_harness/processes.ts";

async function script(dir: string, name: string, code: string): Promise<string> {
  const path = `${dir}/${name}`;
  await Deno.writeTextFile(path, code);
  return path;
}

Deno.test("spawnDeno() reads lines from both streams and waits for one", async () => {
  await using dir = await tempDir();
  const path = await script(
    dir.path,
    "print.ts",
    `console.log("one"); console.error("warn: two"); console.log("port=%d", 4242);
     await new Promise((r) => setTimeout(r, 50)); console.log("late line");`,
  );
  await using child = spawnDeno({ entrypoint: path, permissions: [] });
  const { match, line } = await child.waitForLine(/^port=(\d+)$/, 10_000);
  assert.equal(match[1], "4242");
  assert.equal(line.stream, "stdout");
  const late = await child.waitForLine(/late/, 10_000, { since: line.index + 1 });
  assert.equal(late.line.text, "late line");
  const status = await child.wait(10_000);
  assert.equal(status.code, 0);
  assert.equal(child.output("stdout"), "one\nport=4242\nlate line");
  assert.equal(child.output("stderr"), "warn: two");
  assert.equal(child.lineCount, 4);
});

Deno.test("spawnDeno() runs with only the permissions it is given", async () => {
  await using dir = await tempDir();
  const path = await script(
    dir.path,
    "perm.ts",
    `const q = (d: Deno.PermissionDescriptor) => Deno.permissions.query(d).then((s) => s.state);
     console.log("net", await q({ name: "net", host: "127.0.0.1" }), await q({ name: "net" }));
     console.log("read", await q({ name: "read", path: "/" }));`,
  );
  await using child = spawnDeno({ entrypoint: path, permissions: ["--allow-net=127.0.0.1"] });
  assert.equal((await child.wait(10_000)).code, 0);
  assert.match(child.output(), /^net granted prompt\nread prompt$/m);
  assert.throws(
    () => spawnDeno({ entrypoint: path, permissions: ["--allow-all-please"] }),
    TypeError,
  );
  assert.throws(() => spawnDeno({ entrypoint: path, permissions: ["-A"] }), TypeError);
  assert.throws(() => spawnDeno({ entrypoint: path, permissions: ["--allow-all"] }), TypeError);
});

Deno.test("ChildProcess.kill() stops a child with the signal given", async () => {
  await using dir = await tempDir();
  const path = await script(
    dir.path,
    "forever.ts",
    `Deno.addSignalListener("SIGTERM", () => { console.log("got SIGTERM"); Deno.exit(3); });
     console.log("ready"); setInterval(() => {}, 1000);`,
  );
  await using term = spawnDeno({ entrypoint: path, permissions: [] });
  await term.waitForLine(/ready/, 10_000);
  term.kill("SIGTERM");
  assert.equal((await term.wait(10_000)).code, 3);
  assert.match(term.output(), /got SIGTERM/);
  term.kill("SIGKILL"); // after exit: no effect, no throw

  await using hard = spawnDeno({ entrypoint: path, permissions: [] });
  await hard.waitForLine(/ready/, 10_000);
  hard.kill("SIGKILL");
  const status = await hard.wait(10_000);
  assert.equal(status.signal, "SIGKILL");
  assert.equal(status.success, false);
});

Deno.test("ChildProcess.close() escalates to SIGKILL when SIGTERM is ignored", async () => {
  await using dir = await tempDir();
  const path = await script(
    dir.path,
    "stubborn.ts",
    `Deno.addSignalListener("SIGTERM", () => console.log("ignoring SIGTERM"));
     console.log("ready"); setInterval(() => {}, 1000);`,
  );
  const child = spawnDeno({ entrypoint: path, permissions: [], graceMs: 200 });
  await child.waitForLine(/ready/, 10_000);
  const status = await child.close();
  assert.equal(status.signal, "SIGKILL");
  assert.match(child.output(), /ignoring SIGTERM/);
});

Deno.test("ChildProcess.waitForLine() fails with the last lines on exit or timeout", async () => {
  await using echo = spawnProcess({ command: "sh", args: ["-c", "echo hello; echo oops >&2"] });
  await assert.rejects(
    () => echo.waitForLine(/never/, 10_000),
    (e: Error) => /exited with code 0/.test(e.message) && /oops/.test(e.message),
  );
  await using sleeper = spawnProcess({ command: "sleep", args: ["30"], graceMs: 1000 });
  await assert.rejects(() => sleeper.waitForLine(/never/, 50), /timed out after 50 ms/);
  await assert.rejects(() => sleeper.wait(20), /Timed out after 20 ms/);
});

Deno.test("randomFile() is deterministic, streams any size, and sha256File() matches", async () => {
  await using dir = await tempDir();
  const a = `${dir.path}/a`, b = `${dir.path}/b`, c = `${dir.path}/c`, d = `${dir.path}/d`;
  const size = 3 * (1 << 20) + 7; // crosses chunk boundaries and ends mid-word
  await randomFile(a, size, 1);
  await randomFile(b, size, 1);
  await randomFile(c, size, 2);
  await randomFile(d, 1000, 1);
  const [bytesA, bytesC, bytesD] = await Promise.all([a, c, d].map((p) => Deno.readFile(p)));
  assert.equal(bytesA!.length, size);
  assert.equal(await sha256File(a), await sha256File(b));
  assert.notEqual(await sha256File(a), await sha256File(c));
  assert.deepEqual(bytesD, bytesA!.subarray(0, 1000), "a shorter file is a prefix");
  assert.equal(await sha256File(a), sha256(bytesA!));
  assert.notDeepEqual(bytesA!.subarray(0, 64), bytesC!.subarray(0, 64));
  // Roughly uniform bytes.
  const counts = new Array<number>(256).fill(0);
  for (const x of bytesA!) counts[x]!++;
  const mean = size / 256;
  assert.ok(counts.every((n) => Math.abs(n - mean) < mean * 0.05));
  await randomFile(`${dir.path}/empty`, 0, 1);
  assert.equal(
    await sha256File(`${dir.path}/empty`),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
});
