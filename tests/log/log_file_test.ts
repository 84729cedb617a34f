import assert from "node:assert/strict";
import { escapeLogText } from "../../lib/log/log_escape.ts";
import { LogFile } from "../../lib/log/log_file.ts";
import { LogThrottle } from "../../lib/log/log_throttle.ts";

Deno.test({
  name: "escapeLogText() escapes line breaks, controls, bidi and invisible characters",
  permissions: "none",
  fn() {
    assert.equal(escapeLogText("plain name.txt"), "plain name.txt");
    assert.equal(escapeLogText("a\nb\rc\td"), "a\\nb\\rc\\td");
    assert.equal(escapeLogText("x\u2028y\u2029z"), "x\\u2028y\\u2029z");
    assert.equal(escapeLogText("evil\u202etxt.exe"), "evil\\u202etxt.exe");
    assert.equal(
      escapeLogText("a\u061cb\u200bc\ufeffd\u0000e\u007f"),
      "a\\u061cb\\u200bc\\ufeffd\\u0000e\\u007f",
    );
    assert.equal(escapeLogText("日本 é"), "日本 é");
  },
});

Deno.test("LogFile writes one line per call whatever the text, and rotates at its cap", async () => {
  const dir = await Deno.makeTempDir({ prefix: "log_file_" });
  try {
    const log = LogFile.open(dir, "t.log", { buffered: false, maxBytes: 1000 });
    log.write('own a "x\n2026-01-01T00:00:00.000Z register evil from 1.2.3.4"', 0);
    let lines = (await Deno.readTextFile(`${dir}/t.log`)).split("\n").filter((l) => l);
    assert.equal(lines.length, 1, "a newline in the text cannot forge a line");
    assert.match(lines[0]!, /x\\n2026/);
    for (let i = 0; i < 100; i++) log.write(`line ${i} ${"y".repeat(40)}`, 0);
    log.close();
    const size = (await Deno.stat(`${dir}/t.log`)).size;
    const rotated = (await Deno.stat(`${dir}/t.log.1`)).size;
    assert.ok(size <= 1000 && rotated <= 1000, `${size} and ${rotated} bytes, cap 1000`);
    assert.ok(log.rotations >= 5, `${log.rotations} rotations`);
    lines = (await Deno.readTextFile(`${dir}/t.log`)).split("\n").filter((l) => l);
    assert.match(lines.at(-1)!, /line 99 /, "the newest lines are kept");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "LogThrottle lets a key through once per window and caps the total per window",
  permissions: "none",
  fn() {
    const t = new LogThrottle(60_000, 1000, 3);
    assert.ok(t.shouldReport("a", 0));
    assert.ok(!t.shouldReport("a", 1));
    assert.ok(t.shouldReport("b", 2));
    assert.ok(t.shouldReport("c", 3));
    assert.ok(!t.shouldReport("d", 4), "the fourth line of the minute is suppressed");
    assert.equal(t.takeSuppressed(), 2);
    assert.equal(t.takeSuppressed(), 0);
    assert.ok(t.shouldReport("d", 60_004), "a new window");
  },
});
