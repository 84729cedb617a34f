import assert from "node:assert/strict";
import { DEFAULT_TRACKER, parsePeerArgs, peerHelp, UsageError } from "../../lib/cli/flags.ts";
import { EXIT_CODE_HELP } from "../../lib/cli/exit_codes.ts";

const pure = { permissions: "none" } as const;

function usage(argv: string[]): string {
  try {
    parsePeerArgs(argv);
  } catch (e) {
    assert.ok(e instanceof UsageError, `expected a UsageError, got ${e}`);
    assert.ok(!e.message.includes("\n"), "one line");
    return e.message;
  }
  assert.fail(`expected ${JSON.stringify(argv)} to be refused`);
}

Deno.test("parsePeerArgs() defaults to the prompt with the documented defaults", pure, () => {
  assert.deepEqual(parsePeerArgs([]), {
    command: "repl",
    args: [],
    tracker: DEFAULT_TRACKER,
    id: undefined,
    dir: ".",
    out: ".",
    host: "127.0.0.1",
    port: 0,
    mtu: 0,
    owners: undefined,
    overwrite: false,
    noSharePartial: false,
    directWrites: false,
    logDir: "logs",
    quiet: false,
    json: false,
    output: undefined,
    metrics: undefined,
    trace: undefined,
    maxUpload: Infinity,
    uploadSlots: undefined,
    maxDownload: Infinity,
  });
});

Deno.test("parsePeerArgs() reads --upload-slots (0: every requester at once)", pure, () => {
  assert.equal(parsePeerArgs(["--upload-slots", "8"]).uploadSlots, 8);
  assert.equal(parsePeerArgs(["--upload-slots", "0"]).uploadSlots, 0);
  assert.throws(() => parsePeerArgs(["--upload-slots", "65"]), /upload-slots/);
});

Deno.test("parsePeerArgs() reads --no-share-partial", pure, () => {
  assert.equal(parsePeerArgs(["--no-share-partial"]).noSharePartial, true);
});

Deno.test("parsePeerArgs() reads --direct-writes (off by default)", pure, () => {
  assert.equal(parsePeerArgs(["get", "a.bin", "--direct-writes"]).directWrites, true);
  assert.equal(parsePeerArgs(["get", "a.bin"]).directWrites, false);
});

Deno.test("parsePeerArgs() takes --trace FILE, and refuses an empty one", pure, () => {
  assert.equal(parsePeerArgs(["get", "a.bin", "--trace", "logs/t.jsonl"]).trace, "logs/t.jsonl");
  assert.throws(() => parsePeerArgs(["get", "a.bin", "--trace", ""]), UsageError);
});

Deno.test("parsePeerArgs() reads every flag and the one-shot commands", pure, () => {
  const o = parsePeerArgs([
    "get",
    "a.bin",
    "--tracker",
    "10.0.0.1:7000",
    "--id",
    "node_1.a-b",
    "--dir",
    "d",
    "--out",
    "o",
    "--port",
    "5000",
    "--mtu",
    "1500",
    "--owners",
    "3",
    "--overwrite",
    "--log-dir",
    "L",
    "-q",
    "--json",
  ]);
  assert.equal(o.command, "get");
  assert.deepEqual(o.args, ["a.bin"]);
  assert.equal(o.tracker, "10.0.0.1:7000");
  assert.equal(o.id, "node_1.a-b");
  assert.equal(o.dir, "d");
  assert.equal(o.out, "o");
  assert.equal(o.port, 5000);
  assert.equal(o.mtu, 1500);
  assert.equal(o.owners, 3);
  assert.equal(o.overwrite, true);
  assert.equal(o.logDir, "L");
  assert.equal(o.quiet, true);
  assert.equal(o.json, true);
  const s = parsePeerArgs(["--dir", "x", "share", "a", "b"]);
  assert.equal(s.command, "share");
  assert.deepEqual(s.args, ["a", "b"]);
  assert.equal(s.out, "x", "--out defaults to --dir");
  assert.equal(parsePeerArgs(["--dir", "a", "--dir", "b"]).dir, "b", "the last value wins");
});

Deno.test("parsePeerArgs() binds ::1 for an IPv6 tracker", pure, () => {
  assert.equal(parsePeerArgs(["--tracker", "[::1]:6969"]).host, "::1");
  assert.equal(parsePeerArgs(["--tracker", "[::1]:6969", "--host", "::"]).host, "::");
});

Deno.test("parsePeerArgs() takes a comma-separated list of trackers, each checked", pure, () => {
  const o = parsePeerArgs(["--tracker", "127.0.0.1:7001,127.0.0.1:7002"]);
  assert.equal(o.tracker, "127.0.0.1:7001,127.0.0.1:7002");
  assert.equal(o.host, "127.0.0.1");
  assert.equal(parsePeerArgs(["--tracker", "[::1]:7001, 127.0.0.1:7002"]).host, "::1");
  assert.equal(
    usage(["--tracker", "127.0.0.1:7001,nope"]),
    'Cannot parse --tracker "nope": the port is missing, expected HOST:PORT or [IPv6]:PORT',
  );
});

Deno.test("parsePeerArgs() asks for help", pure, () => {
  assert.equal(parsePeerArgs(["--help"]).command, "help");
  assert.equal(parsePeerArgs(["-h", "get"]).command, "help");
  assert.equal(parsePeerArgs(["help"]).command, "help");
});

Deno.test("parsePeerArgs() refuses bad values with one clear line each", pure, () => {
  assert.equal(
    usage(["--tracker", "nope"]),
    'Cannot parse --tracker "nope": the port is missing, expected HOST:PORT or [IPv6]:PORT',
  );
  assert.match(usage(["--tracker", "127.0.0.1:99999"]), /^Cannot parse --tracker/);
  assert.match(usage(["--tracker", "::1:6969"]), /^Cannot parse --tracker/);
  assert.equal(
    usage(["--port", "http"]),
    'Cannot parse --port: expected an integer from 0 to 65535, got "http"',
  );
  assert.equal(
    usage(["--port", "-1"]),
    'Missing value for --port (a value starting with "-" is written --port=-VALUE)',
  );
  assert.match(usage(["--port=-1"]), /^Cannot parse --port/);
  assert.match(usage(["--port", "65536"]), /^Cannot parse --port/);
  assert.match(usage(["--mtu", "500"]), /^Cannot parse --mtu: expected 0 \(probe\) or/);
  assert.match(usage(["--owners", "0"]), /^Cannot parse --owners/);
  assert.match(usage(["--id", "has space"]), /^Cannot use --id: expected 1 to 24 characters/);
  assert.match(usage(["--id", "x".repeat(25)]), /^Cannot use --id/);
  assert.equal(usage(["--dir", ""]), "Cannot use --dir: the value is empty");
  assert.equal(usage(["--bogus"]), "Unknown flag: --bogus (see --help)");
  assert.equal(usage(["--tracker"]), "Missing value for --tracker");
  assert.equal(usage(["--quiet=yes"]), "Cannot use --quiet: it takes no value");
  assert.match(usage(["fetch"]), /^Unknown command: "fetch"/);
  assert.equal(usage(["share"]), "Missing argument: share needs at least one FILE");
  assert.equal(usage(["get"]), "Missing argument: get needs a NAME or content id");
  assert.match(usage(["get", "a", "b"]), /^Too many arguments/);
});

Deno.test("peerHelp() lists every flag, command and exit code", pure, () => {
  const help = peerHelp();
  for (
    const flag of [
      "--tracker",
      "--id",
      "--dir",
      "--out",
      "--port",
      "--mtu",
      "--log-dir",
      "--quiet",
      "--json",
      "--help",
    ]
  ) {
    assert.ok(help.includes(flag), flag);
  }
  for (const cmd of ["send <file>", "download <file>", "status", "files", "help", "exit"]) {
    assert.ok(help.includes(cmd), cmd);
  }
  for (const [code] of EXIT_CODE_HELP) assert.match(help, new RegExp(`\\n +${code} `));
});
