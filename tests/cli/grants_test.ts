/**
 * The grant check of `peer.ts`: which grants a run lacks, the message naming them and the
 * `deno run` command that has them (the real command runs in deno_task_test.ts).
 * @module
 */
import assert from "node:assert/strict";
import { describeMissing, grantCommand, missingGrants, shellQuote } from "../../lib/cli/grants.ts";

const none = { permissions: "none" } as const;

Deno.test("missingGrants() lists what is not granted, writes first, each path once", none, () => {
  const granted = new Set(["write ./downloads", "write logs", "read /srv/a.iso"]);
  const query = (d: Deno.PermissionDescriptor): Deno.PermissionState =>
    "path" in d && granted.has(`${d.name} ${d.path}`) ? "granted" : "prompt";
  assert.deepEqual(
    missingGrants({
      write: [
        { path: "/srv/dl", what: "--out" },
        { path: "logs", what: "--log-dir" },
        { path: "/srv/dl", what: "--out" },
      ],
      read: [{ path: "/srv/a.iso", what: "a file to share" }, { path: "/x", what: "a file" }],
      query,
    }),
    [
      { kind: "write", path: "/srv/dl", what: "--out" },
      { kind: "read", path: "/x", what: "a file" },
    ],
  );
});

Deno.test("describeMissing() names each path and the flag it needs", none, () => {
  assert.equal(
    describeMissing([{ kind: "write", path: "/srv/dl", what: "--out" }]),
    "this run may not write to /srv/dl (--out; it needs --allow-write=/srv/dl)",
  );
});

Deno.test("grantCommand() repeats the arguments with the grants, quoted for a shell", none, () => {
  assert.equal(
    grantCommand({
      entry: "peer.ts",
      args: ["get", "my film.mkv", "--out", "/srv/dl"],
      write: ["/srv/dl", "logs", "/srv/dl"],
    }),
    "deno run --no-prompt --allow-net --allow-read --allow-write=/srv/dl,logs " +
      "--allow-sys=statfs peer.ts get 'my film.mkv' --out /srv/dl",
  );
  assert.equal(
    grantCommand({ entry: "peer.ts", args: ["get", "f"], write: ["d"], ffi: "/lib64/libc.so.6" }),
    "deno run --no-prompt --allow-net --allow-read --allow-write=d --allow-sys=statfs " +
      "--allow-ffi=/lib64/libc.so.6 peer.ts get f",
    "the FFI grant of this run is kept",
  );
  assert.equal(shellQuote("it's"), `'it'\\''s'`);
  assert.equal(shellQuote("[::1]:6969"), "[::1]:6969");
});
