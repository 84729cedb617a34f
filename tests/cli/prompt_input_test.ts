/**
 * The prompt's input handling without a terminal: escaping what the user typed, Tab completion
 * of commands and `send` file names, and the unchanged piped-stdin behaviour with raw escape
 * bytes in a line.
 * @module
 */
import assert from "node:assert/strict";
import { escapeInput } from "../../lib/cli/escape_input.ts";
import { completePromptLine } from "../../lib/cli/prompt_reader.ts";
import { parseCommand } from "../../lib/cli/repl.ts";

const none = { permissions: "none" } as const;

Deno.test("escapeInput() makes control characters visible and keeps the rest", none, () => {
  assert.equal(escapeInput("\x1b[A"), "\\x1b[A");
  assert.equal(escapeInput("a\rb\tc\x7f\x9b"), "a\\x0db\\x09c\\x7f\\x9b");
  assert.equal(escapeInput("\u2028"), "\\u2028");
  assert.equal(escapeInput("héllo wörld ✓"), "héllo wörld ✓");
});

Deno.test("parseCommand() echoes an unknown command with its escape bytes escaped", none, () => {
  const cmd = parseCommand("\x1b[Afoo");
  assert.equal(cmd.kind, "invalid");
  assert.ok(cmd.kind === "invalid");
  assert.match(cmd.message, /^Unknown command: "\\x1b\[afoo" \(commands: /);
  assert.ok(!cmd.message.includes("\x1b"), "no raw ESC byte");
  const extra = parseCommand("status \x07bell");
  assert.ok(extra.kind === "invalid");
  assert.match(extra.message, /got "\\x07bell"/);
});

Deno.test("completePromptLine() completes commands, then file names for send", none, () => {
  const files = () => ["alpha.txt", "beta.bin", "alps.iso"];
  assert.deepEqual(completePromptLine("sta", { files }), [["status "], "sta"]);
  assert.deepEqual(completePromptLine("", { files })[0].length, 9);
  assert.deepEqual(completePromptLine("d", { files }), [["download "], "d"]);
  assert.deepEqual(completePromptLine("send al", { files }), [["alpha.txt", "alps.iso"], "al"]);
  assert.deepEqual(completePromptLine("send b", { files }), [["beta.bin"], "b"]);
  assert.deepEqual(completePromptLine('send "be', { files }), [["beta.bin"], "be"]);
  assert.deepEqual(completePromptLine("status x", { files }), [[], "status x"]);
});
