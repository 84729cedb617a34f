import assert from "node:assert/strict";
import { safeName } from "../../lib/peer/safe_name.ts";
import { TransferError } from "../../lib/peer/transfer_error.ts";

function rejects(name: string, pattern: RegExp, windows = false): void {
  assert.throws(
    () => safeName(name, { windows }),
    (e: unknown) => e instanceof TransferError && e.code === "bad_name" && pattern.test(e.message),
    `expected ${JSON.stringify(name)} to be refused with ${pattern}`,
  );
}

Deno.test({
  name: "safeName() returns ordinary names unchanged",
  permissions: "none",
  fn() {
    for (
      const n of [
        "report.pdf",
        "a",
        ".hidden",
        "v1..2.txt",
        "...",
        "日本語のファイル.txt",
        "emoji 👍🏽.png",
        "name with spaces ",
        "x".repeat(255),
        "é".repeat(127),
      ]
    ) {
      assert.equal(safeName(n, { windows: false }), n);
    }
  },
});

Deno.test({
  name: "safeName() refuses separators, traversal and absolute paths",
  permissions: "none",
  fn() {
    rejects("../../etc/passwd", /path separator/);
    rejects("/etc/passwd", /path separator/);
    rejects("a/b", /path separator/);
    rejects("..\\..\\windows\\system32", /path separator/);
    rejects("C:\\x", /path separator/);
    rejects("\\\\server\\share", /path separator/);
    rejects("..", /directory/);
    rejects(".", /directory/);
    rejects("", /empty/);
  },
});

Deno.test({
  name: "safeName() refuses control and bidi characters and lone surrogates",
  permissions: "none",
  fn() {
    rejects("a\u0000b", /U\+0000/);
    rejects("line\nbreak", /U\+000A/);
    rejects("tab\t", /U\+0009/);
    rejects("del\u007f", /U\+007F/);
    rejects("c1\u0085", /U\+0085/);
    rejects("evil\u202Etxt.exe", /U\+202E/);
    rejects("\u2066x", /U\+2066/);
    rejects("half\ud800", /well-formed/);
  },
});

Deno.test({
  name: "safeName() refuses names over 255 bytes of UTF-8",
  permissions: "none",
  fn() {
    rejects("x".repeat(256), /256 bytes/);
    rejects("é".repeat(128), /256 bytes/); // 2 bytes each
  },
});

Deno.test({
  name: "safeName() applies the Windows rules when asked, and refuses device names everywhere",
  permissions: "none",
  fn() {
    for (const n of ["CON", "nul.txt", "Com1.log", "LPT9", "aux.tar.gz"]) {
      rejects(n, /reserved/, true);
      rejects(n, /reserved/, false); // the file may be passed on to a Windows peer
    }
    rejects("a:b", /<>:/, true);
    rejects("what?", /<>:/, true);
    rejects("trailing.", /dot or a space/, true);
    rejects("trailing ", /dot or a space/, true);
    assert.equal(safeName("console.txt", { windows: true }), "console.txt");
  },
});

Deno.test({
  name: "safeName() refuses invisible, line-breaking and bidi characters and .udpswarm",
  permissions: "none",
  fn() {
    for (const cp of [0x061c, 0x2028, 0x2029, 0x200b, 0x200d, 0x2060, 0xfeff, 0x00ad]) {
      rejects(`a${String.fromCodePoint(cp)}b`, /invisible character U\+/, false);
    }
    rejects(".udpswarm", /cache directory/, false);
    rejects(".UDPSWARM", /cache directory/, false);
    assert.equal(safeName(".udpswarm.txt", { windows: false }), ".udpswarm.txt");
  },
});

Deno.test({
  name: "safeName() error messages escape hostile names and stay short",
  permissions: "none",
  fn() {
    try {
      safeName("x\u202E" + "y".repeat(1000), { windows: false });
      assert.fail("should throw");
    } catch (e) {
      assert.ok(e instanceof TransferError);
      assert.ok(!e.message.includes("\u202E"), e.message);
      assert.ok(e.message.length < 200, e.message);
    }
  },
});
