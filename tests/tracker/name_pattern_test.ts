/** compileNamePattern(): substring, glob and exact matching, checked against a reference. */
import assert from "node:assert/strict";
import fc from "fast-check";
import { compileNamePattern } from "../../lib/tracker/name_pattern.ts";

const none = { permissions: "none" } as const;

/** A slow, obviously right glob matcher (recursion over code points) to compare with. */
function reference(pattern: string, name: string): boolean {
  const p = [...pattern.toLowerCase()], n = [...name.toLowerCase()];
  const memo = new Map<string, boolean>();
  const go = (i: number, j: number): boolean => {
    const key = `${i},${j}`;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let r: boolean;
    if (i === p.length) r = j === n.length;
    else if (p[i] === "*") r = go(i + 1, j) || (j < n.length && go(i, j + 1));
    else r = j < n.length && (p[i] === "?" || p[i] === n[j]) && go(i + 1, j + 1);
    memo.set(key, r);
    return r;
  };
  return go(0, 0);
}

Deno.test("compileNamePattern() matches globs on whole names, ignoring case", none, () => {
  const cases: [string, string, boolean][] = [
    ["*.mkv", "Holiday.MKV", true],
    ["*.mkv", "holiday.mkv.part", false],
    ["h?liday.*", "holiday.mkv", true],
    ["h?liday.*", "hliday.mkv", false],
    ["*", "anything", true],
    ["", "x", false],
    ["a*b*c", "aXbYc", true],
    ["a*b*c", "aXcYb", false],
    ["**a**", "bab", true],
    ["?", "é", true],
    ["?", "😀", true], // one code point, two UTF-16 units
    ["??", "😀", false],
    ["*😀", "x😀", true],
  ];
  for (const [pattern, name, want] of cases) {
    assert.equal(compileNamePattern(pattern, "glob")(name), want, `${pattern} ~ ${name}`);
  }
});

Deno.test("compileNamePattern() treats * and ? as plain characters in a substring", none, () => {
  assert.ok(compileNamePattern("a*b", "substring")("xA*Bx"));
  assert.ok(!compileNamePattern("a*b", "substring")("axxb"));
  assert.ok(compileNamePattern("", "substring")("anything"));
  assert.ok(compileNamePattern("ISO", "substring")("debian.iso"));
});

Deno.test("compileNamePattern() exact compares code unit for code unit", none, () => {
  assert.ok(compileNamePattern("A.iso", "exact")("A.iso"));
  assert.ok(!compileNamePattern("A.iso", "exact")("a.iso"));
  assert.ok(!compileNamePattern("*", "exact")("x"));
});

Deno.test(
  "compileNamePattern() agrees with a reference matcher, short and long patterns",
  none,
  () => {
    const alphabet = fc.constantFrom("a", "b", "é", "😀", "*", "?", "A");
    const text = (max: number) => fc.array(alphabet, { maxLength: max }).map((a) => a.join(""));
    fc.assert(
      fc.property(text(80), text(60), (pattern, name) => {
        const cleanName = name.replaceAll("*", "a").replaceAll("?", "b");
        assert.equal(
          compileNamePattern(pattern, "glob")(cleanName),
          reference(pattern, cleanName),
          `${pattern} ~ ${cleanName}`,
        );
      }),
      { numRuns: 2000 },
    );
  },
);

Deno.test(
  "compileNamePattern() stays linear on a pattern that makes backtrackers explode",
  none,
  () => {
    // `*a*a*…*b` against "aaaa…": exponential for naive backtracking, one pass here.
    const pattern = "*a".repeat(100) + "*b";
    const match = compileNamePattern(pattern, "glob");
    const name = "a".repeat(255);
    for (let i = 0; i < 1000; i++) assert.equal(match(name), false);
  },
);
