import assert from "node:assert/strict";
import { UsageError } from "../../lib/cli/flags.ts";
import { parseTrackerArgs, TRACKER_USAGE } from "../../lib/cli/tracker_flags.ts";

const none = { permissions: "none" } as const;

Deno.test("parseTrackerArgs() gives the defaults for no flags", none, () => {
  assert.deepEqual(parseTrackerArgs([]), {
    options: { hostname: "127.0.0.1", port: 6969, logDir: "./logs", limits: {} },
    help: false,
    verbose: false,
    quiet: false,
    version: false,
    metrics: undefined,
    store: "memory",
    storeTimeoutMs: undefined,
    storePrefix: undefined,
  });
});

Deno.test("parseTrackerArgs() maps every flag to its option", none, () => {
  const r = parseTrackerArgs([
    "--host",
    "::",
    "--port=0",
    "--interval",
    "500ms",
    "--grace",
    "0.25",
    "--owners",
    "3",
    "--no-log-file",
    "--max-peers",
    "10",
    "--max-files",
    "20",
    "--max-name",
    "30",
    "--rate",
    "2.5",
    "--burst",
    "7",
    "-v",
    "-q",
    "-h",
  ]);
  assert.deepEqual(r, {
    options: {
      hostname: "::",
      port: 0,
      intervalMs: 500,
      grace: 0.25,
      maxOwners: 3,
      limits: {
        maxPeers: 10,
        maxFilesPerPeer: 20,
        maxNameBytes: 30,
        requestsPerSecond: 2.5,
        burst: 7,
      },
    },
    help: true,
    version: false,
    metrics: undefined,
    verbose: true,
    quiet: true,
    store: "memory",
    storeTimeoutMs: undefined,
    storePrefix: undefined,
  });
  assert.equal(
    parseTrackerArgs(["--store", "redis://10.0.0.2:6380/3"]).store,
    "redis://10.0.0.2:6380/3",
  );
  assert.throws(
    () => parseTrackerArgs(["--store", "mysql://x"]),
    (e: unknown) => e instanceof UsageError && /Cannot parse --store "mysql:\/\/x"/.test(e.message),
  );
  const redis = ["--store", "redis://127.0.0.1:6379"];
  assert.equal(parseTrackerArgs([...redis, "--store-timeout", "2s"]).storeTimeoutMs, 2000);
  assert.equal(parseTrackerArgs([...redis, "--store-timeout", "0"]).storeTimeoutMs, 0);
  assert.equal(parseTrackerArgs(redis).storeTimeoutMs, undefined);
  assert.equal(parseTrackerArgs([...redis, "--store-prefix", "eu-1"]).storePrefix, "{eu-1}");
  assert.throws(
    () => parseTrackerArgs(["--store-prefix", "eu"]),
    (e: unknown) => e instanceof UsageError && /--store-prefix without --store/.test(e.message),
  );
  assert.throws(
    () => parseTrackerArgs([...redis, "--store-prefix", "a}b"]),
    (e: unknown) => e instanceof UsageError && /Cannot use --store-prefix "a}b"/.test(e.message),
  );
  assert.throws(
    () => parseTrackerArgs(["--store-timeout", "2s"]),
    (e: unknown) => e instanceof UsageError && /--store-timeout without --store/.test(e.message),
  );
  assert.throws(
    () => parseTrackerArgs([...redis, "--store-timeout", "soon"]),
    (e: unknown) => e instanceof UsageError && /Cannot parse --store-timeout/.test(e.message),
  );
  assert.equal(parseTrackerArgs(["--interval", "2m"]).options.intervalMs, 120_000);
  assert.equal(parseTrackerArgs(["--interval", "30"]).options.intervalMs, 30_000);
  assert.equal(parseTrackerArgs(["--log-dir", "/tmp/x"]).options.logDir, "/tmp/x");
});

Deno.test({
  name: "parseTrackerArgs() reads the per-address limits and the log cap",
  permissions: "none",
  fn() {
    const r = parseTrackerArgs([
      "--max-peers-per-address",
      "8",
      "--max-peers-per-prefix",
      "32",
      "--max-files-per-address",
      "100",
      "--max-files-per-prefix",
      "400",
      "--address-rate",
      "50",
      "--prefix-rate",
      "200",
      "--log-max-mb",
      "0.5",
    ]);
    assert.deepEqual(r.options.limits, {
      maxPeersPerAddress: 8,
      maxPeersPerPrefix: 32,
      maxFilesPerAddress: 100,
      maxFilesPerPrefix: 400,
      addressRequestsPerSecond: 50,
      addressBurst: 100,
      prefixRequestsPerSecond: 200,
      prefixBurst: 400,
    });
    assert.equal(r.options.logMaxBytes, 512 * 1024);
    assert.throws(
      () => parseTrackerArgs(["--max-peers-per-address", "0"]),
      /--max-peers-per-address/,
    );
  },
});

Deno.test("parseTrackerArgs() refuses bad values with one-line messages", none, () => {
  for (
    const [args, message] of [
      [["--owners", "17"], 'Cannot use --owners: expected an integer in 1..16, got "17"'],
      [
        ["--interval", "soon"],
        'Cannot parse --interval: expected a duration like 30, 30s, 500ms or 2m, got "soon"',
      ],
      [["--interval", "0ms"], "Cannot use --interval: 0ms is outside 1 ms..24 days"],
      [["--port", "x"], 'Cannot use --port: expected an integer in 0..65535, got "x"'],
      [["--rate", "0"], 'Cannot use --rate: expected a number in 0.001..1000000000, got "0"'],
      [["--max-name", "300"], 'Cannot use --max-name: expected an integer in 1..255, got "300"'],
      [["--burst", ""], 'Cannot use --burst: expected an integer in 1..1000000000, got ""'],
      [["--bogus"], "Unknown option '--bogus'"],
      [
        ["stray"],
        "Unexpected argument 'stray'. This command does not take positional arguments",
      ],
    ] as const
  ) {
    assert.throws(() => parseTrackerArgs(args), { name: "UsageError", message }, args.join(" "));
    assert.throws(() => parseTrackerArgs(args), UsageError);
  }
});

Deno.test("TRACKER_USAGE lists every flag the parser accepts", none, () => {
  for (
    const flag of [
      "--host",
      "--port",
      "--interval",
      "--grace",
      "--owners",
      "--log-dir",
      "--no-log-file",
      "--max-peers",
      "--max-files",
      "--max-name",
      "--rate",
      "--burst",
      "--verbose",
      "--quiet",
      "--help",
    ]
  ) assert.ok(TRACKER_USAGE.includes(flag), flag);
  assert.match(TRACKER_USAGE, /--interval T .*\[30s\]/);
});
