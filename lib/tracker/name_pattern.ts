/**
 * The LIST patterns (docs/PROTOCOL.md, LIST): substring and glob matching that ignores case,
 * and exact matching. Substring and glob both compile to one bit-parallel automaton (Shift-And
 * with self-loops for `*`), so matching a name costs one pass over its characters, times
 * ⌈(pattern length + 1) / 32⌉ words, whatever the pattern: no backtracking, no regular
 * expression built from what a peer sent.
 * @module
 */
import type { ListMatch } from "../wire/messages.ts";

/** A compiled pattern: tells whether a name matches. */
export type NameMatcher = (name: string) => boolean;

/** One step of a pattern: a literal code point, or any one code point (`?`). */
type Token = number | "any";

/**
 * Compiles a LIST pattern.
 *
 * @param pattern the pattern as the LIST carried it
 * @param match how to match it
 * @returns the matcher (for `substring` and `glob` it lower-cases the names it is given)
 *
 * @example Globs match whole names, substrings parts of them; both ignore case
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileNamePattern } from "./name_pattern.ts";
 *
 * assert.ok(compileNamePattern("*.MKV", "glob")("Holiday.mkv"));
 * assert.ok(!compileNamePattern("*.mkv", "glob")("holiday.mkv.part"));
 * assert.ok(compileNamePattern("day", "substring")("Holiday.mkv"));
 * assert.ok(!compileNamePattern("holiday.mkv", "exact")("Holiday.mkv"));
 * ```
 */
export function compileNamePattern(pattern: string, match: ListMatch): NameMatcher {
  if (match === "exact") return (name) => name === pattern;
  const lower = pattern.toLowerCase();
  if (match === "substring" && lower === "") return () => true;
  const tokens: Token[] = [];
  /** loops[j]: a `*` after the j-th token (state j loops on any character). */
  const loops: boolean[] = [match === "substring"];
  for (const ch of lower) {
    const cp = ch.codePointAt(0)!;
    if (match === "glob" && ch === "*") loops[tokens.length] = true;
    else {
      tokens.push(match === "glob" && ch === "?" ? "any" : cp);
      loops.push(false);
    }
  }
  if (match === "substring") loops[tokens.length] = true;
  return automaton(tokens, loops);
}

/**
 * The Shift-And automaton: state j (bit j) means "the name so far matches the first j
 * tokens"; a character moves state j to j+1 when token j+1 accepts it, and keeps state j when
 * a `*` follows token j. The name matches when the last state is reached at its end.
 */
function automaton(tokens: readonly Token[], loops: readonly boolean[]): NameMatcher {
  const states = tokens.length + 1;
  const words = Math.ceil(states / 32);
  const loopMask = new Uint32Array(words);
  const anyMask = new Uint32Array(words);
  const masks = new Map<number, Uint32Array>();
  for (let j = 0; j < states; j++) if (loops[j]) loopMask[j >>> 5]! |= 1 << (j & 31);
  tokens.forEach((t, i) => {
    if (t === "any") anyMask[(i + 1) >>> 5]! |= 1 << ((i + 1) & 31);
  });
  tokens.forEach((t, i) => {
    if (t === "any") return;
    let m = masks.get(t);
    if (m === undefined) masks.set(t, m = anyMask.slice());
    m[(i + 1) >>> 5]! |= 1 << ((i + 1) & 31);
  });
  const last = states - 1;
  const lastWord = last >>> 5, lastBit = 1 << (last & 31);
  if (words === 1) {
    const loop = loopMask[0]!, any = anyMask[0]!;
    const single = new Map<number, number>();
    for (const [cp, m] of masks) single.set(cp, m[0]!);
    return (name) => {
      const s = name.toLowerCase();
      let d = 1;
      for (let i = 0; i < s.length; i++) {
        const cp = s.codePointAt(i)!;
        if (cp > 0xffff) i++;
        d = (((d << 1) & (single.get(cp) ?? any)) | (d & loop)) >>> 0;
        if (d === 0) return false;
      }
      return (d & lastBit) !== 0;
    };
  }
  const d = new Uint32Array(words);
  return (name) => {
    const s = name.toLowerCase();
    d.fill(0);
    d[0] = 1;
    for (let i = 0; i < s.length; i++) {
      const cp = s.codePointAt(i)!;
      if (cp > 0xffff) i++;
      const m = masks.get(cp) ?? anyMask;
      let carry = 0, alive = 0;
      for (let w = 0; w < words; w++) {
        const v = d[w]!;
        const next = (((v << 1) | carry) & m[w]!) | (v & loopMask[w]!);
        carry = v >>> 31;
        d[w] = next;
        alive |= next;
      }
      if (alive === 0) return false;
    }
    return (d[lastWord]! & lastBit) !== 0;
  };
}
