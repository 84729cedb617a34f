import assert from "node:assert/strict";
import {
  etaSeconds,
  formatBytes,
  formatEta,
  formatProgressLine,
  formatRate,
  percentOf,
  progressJson,
  ProgressReporter,
} from "../../lib/cli/progress.ts";
import { progressFixture } from "./_fake_peer.ts";

const opts = { permissions: "none" } as const;

Deno.test("formatBytes() picks a binary unit", opts, () => {
  assert.equal(formatBytes(0), "0 B");
  assert.equal(formatBytes(1023), "1023 B");
  assert.equal(formatBytes(1536), "1.5 KiB");
  assert.equal(formatBytes(64 * 1024 * 1024), "64.0 MiB");
  assert.equal(formatBytes(1024 ** 3), "1.00 GiB");
});

Deno.test("formatRate() shows MiB/s, the unit sizes use", opts, () => {
  assert.equal(formatRate(0), "0.00 MiB/s");
  assert.equal(formatRate(1.5 * 1024 * 1024), "1.50 MiB/s");
  assert.equal(formatRate(85.24 * 1024 * 1024), "85.2 MiB/s");
  assert.equal(formatRate(-5), "0.00 MiB/s");
});

Deno.test("formatEta() formats m:ss and h:mm:ss, unknown as --:--", opts, () => {
  assert.equal(formatEta(0), "0:00");
  assert.equal(formatEta(2.1), "0:03");
  assert.equal(formatEta(62), "1:02");
  assert.equal(formatEta(3723), "1:02:03");
  assert.equal(formatEta(undefined), "--:--");
  assert.equal(formatEta(Infinity), "--:--");
  assert.equal(formatEta(1e9), "--:--");
});

Deno.test("percentOf() and etaSeconds() handle empty files and a zero rate", opts, () => {
  assert.equal(percentOf({ size: 0, verifiedBytes: 0 }), 100);
  assert.equal(percentOf({ size: 200, verifiedBytes: 50 }), 25);
  assert.equal(etaSeconds({ size: 100, verifiedBytes: 100, rate: 0 }), 0);
  assert.equal(etaSeconds({ size: 100, verifiedBytes: 0, rate: 0 }), undefined);
  assert.equal(etaSeconds({ size: 100, verifiedBytes: 50, rate: 10 }), 5);
});

Deno.test("formatProgressLine() shows percent, bytes, rate, ETA and owners", opts, () => {
  const line = formatProgressLine(progressFixture("big.iso"));
  assert.equal(
    line,
    "big.iso  25.0%  16.0 MiB/64.0 MiB  47.7 MiB/s  ETA 0:02  owners 2 (n1,n2)",
  );
  const none = formatProgressLine({ ...progressFixture(), owners: [], rate: 0 });
  assert.ok(none.endsWith("ETA --:--  owners 0"), none);
});

Deno.test("progressJson() is a flat progress event", opts, () => {
  const j = progressJson(progressFixture());
  assert.equal(j.event, "progress");
  assert.equal(j.percent, 25);
  assert.equal(j.etaSeconds, 1);
  assert.deepEqual(j.owners, ["n1", "n2"]);
});

function reporter(mode: "tty" | "lines" | "json" | "quiet", intervalMs?: number) {
  let now = 0;
  let text = "";
  const r = new ProgressReporter({
    mode,
    write: (s) => void (text += s),
    now: () => now,
    columns: 60,
    ...(intervalMs === undefined ? {} : { intervalMs }),
  });
  return {
    r,
    tick: (ms: number) => void (now += ms),
    get text() {
      return text;
    },
  };
}

Deno.test("ProgressReporter on a TTY rewrites one line and closes it on finish", opts, () => {
  const t = reporter("tty");
  t.r.update(progressFixture());
  t.tick(50);
  t.r.update({ ...progressFixture(), verifiedBytes: 20 * 1024 * 1024 }); // throttled
  t.tick(200);
  t.r.update({ ...progressFixture(), verifiedBytes: 32 * 1024 * 1024 });
  const updates = t.text.split("\r\x1b[2K").filter((s) => s !== "");
  assert.equal(updates.length, 2);
  assert.ok(updates.every((u) => u.length <= 59), "cut to the terminal width");
  assert.ok(!t.text.includes("\n"));
  t.r.update({ ...progressFixture(), verifiedBytes: 64 * 1024 * 1024 }); // throttled
  t.r.finish();
  assert.match(t.text, /100\.0%[^\n]*\n$/);
  t.r.finish();
  assert.equal(t.text.split("\n").length, 2, "finish is idempotent");
});

Deno.test("ProgressReporter off a TTY prints plain periodic lines", opts, () => {
  const t = reporter("lines", 1000);
  for (let i = 0; i < 30; i++) {
    t.r.update(progressFixture());
    t.tick(100);
  }
  assert.equal(t.text.split("\n").filter((l) => l).length, 3, "one line per second");
  t.r.finish();
  assert.equal(t.text.split("\n").filter((l) => l).length, 4, "and the final state");
  assert.ok(!t.text.includes("\r"));
});

Deno.test("ProgressReporter --json writes progress objects", opts, () => {
  const t = reporter("json");
  t.r.update(progressFixture());
  t.r.finish();
  const lines = t.text.trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(lines.length, 1);
  assert.equal(lines[0].event, "progress");
});

Deno.test("ProgressReporter.finish() ends on the final state it is given", opts, () => {
  const t = reporter("lines", 1000);
  t.r.update(progressFixture());
  t.r.finish({ ...progressFixture(), verifiedBytes: 64 * 1024 * 1024 });
  const lines = t.text.trim().split("\n");
  assert.equal(lines.length, 2);
  assert.match(lines[1]!, /^a\.bin {2}100\.0%/);
});

Deno.test("ProgressReporter --quiet writes nothing", opts, () => {
  const t = reporter("quiet");
  t.r.update(progressFixture());
  t.r.finish();
  assert.equal(t.text, "");
});
