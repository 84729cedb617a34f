/**
 * Names, content ids and links through the real CLI, as separate processes on loopback: a name
 * hijacked by a second content is refused with exit 11 and its candidates (the attacker's bytes
 * are never saved), `list` shows what the tracker knows, `share` prints a link that `get`
 * accepts, and a link whose size is wrong is refused. Issue 11 item 1, issue 15 "Finding
 * things".
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { listDir, randomFile, sha256File, tempDir } from "../_harness/processes.ts";
import { ExitCode } from "../../lib/cli/exit_codes.ts";
import { runPeerProcess, spawnPeerProcess } from "./_peer_process.ts";
import { spawnTrackerProcess } from "./_tracker_process.ts";

const WAIT = 30_000;

const peer = spawnPeerProcess;

const run = (name: string, dir: string, logs: string, args: string[]) =>
  runPeerProcess(name, dir, logs, args, WAIT);

Deno.test("peer.ts: names are not identities; list, links and exit 11", async (t) => {
  await using tmp = await tempDir("udpswarm-cli-names-");
  const logs = join(tmp.path, "logs");
  const [honest, attacker, getter] = ["honest", "attacker", "getter"].map((k) =>
    join(tmp.path, k)
  ) as [string, string, string];
  for (const d of [logs, honest, attacker, getter]) await Deno.mkdir(d);
  await randomFile(join(honest, "f16.bin"), 300_000, 16);
  await randomFile(join(honest, "unique file.bin"), 70_000, 17);
  await randomFile(join(attacker, "f16.bin"), 200_000, 66);
  const honestSum = await sha256File(join(honest, "f16.bin"));

  const tracker = await spawnTrackerProcess(logs);
  await using _tracker = tracker.child;
  const { address } = tracker;
  const common = ["--tracker", address, "--log-dir", logs];

  await using seed = peer("honest", honest, logs, [
    "share",
    join(honest, "f16.bin"),
    join(honest, "unique file.bin"),
    "--id",
    "honest",
    ...common,
  ]);
  const shared = await seed.waitForLine(/^sharing f16\.bin ([0-9a-f]{64})$/, WAIT);
  const honestId = shared.match[1]!;
  const link = await seed.waitForLine(/^udpswarm:([0-9a-f]{64})\?name=f16\.bin&size=(\d+)$/, WAIT);
  const uniqueLink = await seed.waitForLine(
    /^udpswarm:([0-9a-f]{64})\?name=unique%20file\.bin&size=70000$/,
    WAIT,
  );
  assert.equal(link.match[1], honestId);
  assert.equal(link.match[2], "300000");
  assert.ok(link.line.index === shared.line.index + 1, "the link follows its sharing line");

  await using fake = peer("attacker", attacker, logs, [
    "share",
    join(attacker, "f16.bin"),
    "--id",
    "attacker",
    ...common,
  ]);
  const fakeId = (await fake.waitForLine(/^sharing f16\.bin ([0-9a-f]{64})$/, WAIT)).match[1]!;
  assert.notEqual(fakeId, honestId);

  await t.step("list shows every file with content id, size and owners", async () => {
    const all = await run("list", getter, logs, ["list", ...common]);
    assert.equal(all.code, 0, all.stderr);
    const rows = all.stdout.trim().split("\n").map((l) => l.trim().split(/\s{2,}/));
    const expected = [
      [fakeId, "200000", "1", "f16.bin"],
      [honestId, "300000", "1", "f16.bin"],
      [uniqueLink.match[1]!, "70000", "1", "unique file.bin"],
    ];
    // Sorted by name, then content id.
    expected.splice(0, 2, ...[expected[0]!, expected[1]!].sort((a, b) => a[0]! < b[0]! ? -1 : 1));
    assert.deepEqual(rows, expected);
    assert.match(all.stderr, /3 files/);

    const glob = await run("list-json", getter, logs, ["list", "UNIQUE*", "--json", ...common]);
    assert.equal(glob.code, 0, glob.stderr);
    const events = glob.stdout.trim().split("\n").map((l) => JSON.parse(l));
    const files = events.filter((e) => e.event === "file");
    assert.deepEqual(files.map((f) => [f.name, f.size, f.owners]), [["unique file.bin", 70000, 1]]);
    assert.equal(files[0].link, uniqueLink.line.text);
    assert.deepEqual(events.at(-1), { event: "listed", count: 1, total: 1, complete: true });
  });

  await t.step(
    "get NAME of two contents exits 11 with the candidates, saving nothing",
    async () => {
      const r = await run("get-ambiguous", getter, logs, [
        "get",
        "f16.bin",
        "--out",
        getter,
        ...common,
      ]);
      assert.equal(r.code, ExitCode.ambiguous, r.stderr);
      assert.equal(r.stdout, "");
      assert.match(
        r.stderr,
        /error: Cannot download "f16\.bin": 2 different contents share this name; choose one by content id\n/,
      );
      for (const [id, size] of [[honestId, 300000], [fakeId, 200000]] as const) {
        assert.match(
          r.stderr,
          new RegExp(
            `\\n  ${id}  .*\\(${size} bytes\\)  1 owner  udpswarm:${id}\\?name=f16\\.bin&size=${size}\\n`,
          ),
        );
      }
      assert.match(r.stderr, /choose one by its content id or link: peer\.ts get CONTENT_ID/);
      const saved = (await listDir(getter)).filter((n) => !n.startsWith(".udpswarm"));
      assert.deepEqual(saved, [], "neither content was written");

      const json = await run("get-ambiguous-json", getter, logs, [
        "get",
        "f16.bin",
        "--json",
        "--out",
        getter,
        ...common,
      ]);
      assert.equal(json.code, ExitCode.ambiguous);
      const error = json.stdout.trim().split("\n").map((l) => JSON.parse(l)).at(-1);
      assert.equal(error.event, "error");
      assert.equal(error.code, "ambiguous");
      assert.equal(error.exitCode, 11);
      assert.deepEqual(
        error.candidates.map((c: { contentId: string }) => c.contentId).sort(),
        [honestId, fakeId].sort(),
      );
    },
  );

  await t.step("get LINK downloads that content under the link's name", async () => {
    const r = await run("get-link", getter, logs, [
      "get",
      link.line.text,
      "--out",
      getter,
      ...common,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), join(getter, "f16.bin"));
    assert.equal(await sha256File(join(getter, "f16.bin")), honestSum);
    assert.doesNotMatch(r.stderr, /the tracker's answer/, "a link names its content itself");
  });

  await t.step("get NAME of one content says which content id the tracker gave", async () => {
    const r = await run("get-unique", getter, logs, [
      "get",
      "unique file.bin",
      "--out",
      getter,
      ...common,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `unique file\\.bin is content ${
          uniqueLink.match[1]
        } \\(the tracker's answer for that name; the content id is what is verified\\)`,
      ),
    );
  });

  await t.step("get LINK with the wrong size is refused before anything is saved", async () => {
    const wrong = `udpswarm:${fakeId}?name=other.bin&size=200001`;
    const r = await run("get-wrong-size", getter, logs, ["get", wrong, "--out", getter, ...common]);
    assert.equal(r.code, ExitCode.allOwnersFailed, r.stderr);
    assert.match(
      r.stderr,
      /is 200000 bytes, the link says 200001; the link is wrong or was altered/,
    );
    const names = await listDir(getter);
    assert.ok(!names.some((n) => n.startsWith("other.bin")), names.join(", "));
  });

  await t.step("get with a malformed link exits 8 before any network traffic", async () => {
    const r = await run("get-bad-link", getter, logs, ["get", "udpswarm:1234?name=x", ...common]);
    assert.equal(r.code, ExitCode.badName);
    assert.match(r.stderr, /the content id must be 64 hex digits/);
  });
});
