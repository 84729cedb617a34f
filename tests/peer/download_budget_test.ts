/**
 * The peer-wide download cap on a virtual clock: it holds the rate, splits it equally between
 * downloads it limits, lets a download its owners limit hold nobody back, gives no credit for
 * idle time, and changes rate on the fly.
 * @module
 */
import assert from "node:assert/strict";
import { type BudgetShare, DownloadBudget } from "../../lib/peer/core/download_budget.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const none = { permissions: "none" } as const;

/**
 * Runs shares for `ms` in 1 ms steps: each asks for 16 KiB requests while under its own limit
 * (`perMs` bytes per ms it could take, Infinity: as many as allowed). Returns bytes each got.
 */
function run(shares: BudgetShare[], from: number, ms: number, perMs: number[]): number[] {
  const got = shares.map(() => 0);
  const wake = shares.map(() => from);
  for (let now = from; now < from + ms; now++) {
    shares.forEach((s, i) => {
      // its owners' limit: bytes it may have asked for by now
      if (got[i]! + 16 * KiB > perMs[i]! * (now - from + 1) || now < wake[i]!) return;
      if (s.available(now) >= 16 * KiB) {
        s.spend(16 * KiB);
        got[i]! += 16 * KiB;
      } else wake[i] = s.blocked(16 * KiB, now)!;
    });
  }
  return got;
}

Deno.test("DownloadBudget holds one download to the rate", none, () => {
  const budget = new DownloadBudget({ ratePerSecond: 4 * MiB });
  const [got] = run([budget.join()], 0, 10_000, [Infinity]);
  assert.ok(Math.abs(got! - 40 * MiB) <= budget.burst + 16 * KiB, `${got}`);
});

Deno.test("DownloadBudget splits the rate equally between downloads it limits", none, () => {
  const budget = new DownloadBudget({ ratePerSecond: 4 * MiB });
  const got = run([budget.join(), budget.join(), budget.join()], 0, 10_000, [
    Infinity,
    Infinity,
    Infinity,
  ]);
  for (const g of got) assert.ok(Math.abs(g - (40 * MiB) / 3) < 0.02 * 40 * MiB, `${got}`);
});

Deno.test(
  "DownloadBudget: a download its owners hold to less leaves the rest to the other",
  none,
  () => {
    const budget = new DownloadBudget({ ratePerSecond: 4 * MiB });
    // one can only take 1 MiB/s (≈ 1049 bytes per ms); the other gets the remaining 3 MiB/s
    const got = run([budget.join(), budget.join()], 0, 10_000, [MiB / 1000, Infinity]);
    assert.ok(Math.abs(got[0]! - 10 * MiB) < 0.02 * 10 * MiB, `${got}`);
    assert.ok(Math.abs(got[1]! - 30 * MiB) < 0.03 * 30 * MiB, `${got}`);
  },
);

Deno.test(
  "DownloadBudget: a download that joins late gets no credit for the time before",
  none,
  () => {
    const budget = new DownloadBudget({ ratePerSecond: 4 * MiB });
    const a = budget.join();
    const b = budget.join();
    run([a], 0, 5000, [Infinity]);
    const got = run([a, b], 5000, 5000, [Infinity, Infinity]);
    assert.ok(Math.abs(got[0]! - got[1]!) < 0.05 * 20 * MiB, `${got}`);
  },
);

Deno.test("DownloadBudget.setRate() changes the cap on the fly; Infinity lifts it", none, () => {
  const budget = new DownloadBudget({ ratePerSecond: 4 * MiB });
  const s = budget.join();
  run([s], 0, 1000, [Infinity]);
  budget.setRate(MiB, 1000);
  const [got] = run([s], 1000, 10_000, [Infinity]);
  assert.ok(Math.abs(got! - 10 * MiB) <= budget.burst + 16 * KiB, `${got}`);
  budget.setRate(Infinity, 11_000);
  assert.equal(s.available(11_000), Infinity);
  assert.equal(s.blocked(16 * KiB, 11_000), undefined);
  assert.throws(() => budget.setRate(-1, 11_000), RangeError);
});
