import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { TRACKER_USAGE } from "../../lib/cli/tracker_flags.ts";
import { TrackerClient } from "../../lib/peer/tracker_client.ts";
import { withTimeout } from "../_harness/wait.ts";
import { cid } from "./_registry_harness.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

function spawnTracker(args: string[], permissions: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...permissions, "tracker.ts", ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Reads stdout until the "listening on" line; returns the port and the rest of the reader. */
async function listeningPort(child: Deno.ChildProcess) {
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  const m = /^listening on udp:\/\/127\.0\.0\.1:(\d+)$/m.exec(text);
  assert.ok(m, `first line: ${JSON.stringify(text)}`);
  return { port: Number(m[1]), reader, text };
}

async function drain(reader: ReadableStreamDefaultReader<string>, first: string): Promise<string> {
  let text = first;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return text;
    text += value;
  }
}

/** Kills the tracker if it still runs and waits for it and its stderr reader. */
async function stop(child: Deno.ChildProcess, stderr: Promise<string>): Promise<void> {
  try {
    child.kill("SIGKILL");
  } catch { /* already gone */ }
  await child.status;
  await stderr;
}

Deno.test("tracker.ts serves, logs state changes to the log dir and stops cleanly on SIGTERM", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tracker_cli_" });
  const child = spawnTracker(
    ["--port", "0", "--interval", "2s", "--grace", "0.25", "--owners", "3", "--log-dir", dir],
    ["--allow-net=127.0.0.1", `--allow-write=${dir}`, `--allow-read=${dir}`],
  );
  const stderr = child.stderr.pipeThrough(new TextDecoderStream());
  const errText = (async () => {
    let t = "";
    for await (const chunk of stderr) t += chunk;
    return t;
  })();
  try {
    const { port, reader, text } = await withTimeout(listeningPort(child), 10_000, "tracker start");
    {
      await using a = await TrackerClient.connect({
        tracker: `127.0.0.1:${port}`,
        nodeId: "cli-a",
      });
      await using b = await TrackerClient.connect({
        tracker: `127.0.0.1:${port}`,
        nodeId: "cli-b",
      });
      const info = await a.start();
      assert.equal(info.intervalMs, 2000);
      assert.equal(info.evictAfterMs, 2500);
      await b.start();
      await a.own({ name: "doc.pdf", size: 42, contentId: cid(3) });
      const r = await b.need({ kind: "name", name: "doc.pdf" });
      assert.deepEqual(r.owners.map((o) => o.nodeId), ["cli-a"]);
      await a.exit();
    }
    child.kill("SIGTERM");
    const status = await withTimeout(child.status, 10_000, "tracker exit");
    const out = await drain(reader, text);
    assert.equal(status.code, 0, `stderr: ${await errText}`);
    assert.match(out, /SIGTERM: stopped \(2 registrations, 1 NEEDs answered/);
    const log = await Deno.readTextFile(`${dir}/tracker.log`);
    for (
      const re of [
        /Z tracker started on 127\.0\.0\.1:\d+: interval 2000 ms, eviction after 2500 ms, 3 owners/,
        /Z register cli-a from 127\.0\.0\.1:\d+/,
        /Z own cli-a "doc\.pdf" [0-9a-f]{64} 42 bytes/,
        /Z need cli-b "doc\.pdf" -> [0-9a-f]{64} owners \[cli-a\]/,
        /Z exit cli-a \(127\.0\.0\.1:\d+\), dropped 1 file\(s\)/,
        /Z tracker stopped: 1 peer\(s\) registered/,
      ]
    ) assert.match(log, re);
  } finally {
    await stop(child, errText);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tracker.ts runs under the 'tracker' permission set and stops on SIGINT", async () => {
  const child = spawnTracker(["--port", "0", "--no-log-file"], ["-P=tracker"]);
  const errText = new Response(child.stderr).text();
  try {
    const { port, reader, text } = await withTimeout(listeningPort(child), 10_000, "tracker start");
    {
      await using c = await TrackerClient.connect({ tracker: `127.0.0.1:${port}`, nodeId: "perm" });
      await c.start();
    }
    child.kill("SIGINT");
    const status = await withTimeout(child.status, 10_000, "tracker exit");
    assert.equal(status.code, 0, await errText);
    assert.match(await drain(reader, text), /log \(none\)[^]*SIGINT: stopped \(1 registrations/);
  } finally {
    await stop(child, errText);
  }
});

Deno.test("tracker.ts --help prints usage and a bad flag exits 2 with a clear message", async () => {
  // Every flag and message: tests/cli/tracker_flags_test.ts. Here: the process contract.
  const help = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "-P=tracker", "tracker.ts", "--help"],
    cwd: ROOT,
  }).output();
  assert.equal(help.code, 0);
  assert.equal(new TextDecoder().decode(help.stdout), TRACKER_USAGE + "\n");
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "-P=tracker", "tracker.ts", "--owners", "17"],
    cwd: ROOT,
  }).output();
  assert.equal(r.code, 2);
  assert.equal(
    new TextDecoder().decode(r.stderr),
    'Cannot use --owners: expected an integer in 1..16, got "17"\nRun with --help for usage.\n',
  );
});

Deno.test("tracker.ts --store with Redis unreachable exits 1 with a clear message", async () => {
  // A port nothing listens on (taken and released at once).
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const r = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "-P=tracker",
      "tracker.ts",
      "--port",
      "0",
      "--no-log-file",
      "--store",
      `redis://127.0.0.1:${port}`,
    ],
    cwd: ROOT,
  }).output();
  assert.equal(r.code, 1);
  assert.match(
    new TextDecoder().decode(r.stderr),
    new RegExp(
      `^Cannot start tracker: Cannot reach Redis at redis://127\\.0\\.0\\.1:${port}: .*\\(is redis-server running\\?\\)\\n$`,
    ),
  );
});
