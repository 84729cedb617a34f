/**
 * Escaping of text from the network before it reaches a log: one event is always one line, and
 * what a reader sees is what was sent. Control characters and line breaks (CR, LF, U+2028,
 * U+2029, …), bidirectional marks and overrides (U+061C, U+200E, U+202E, …) and zero-width or
 * invisible characters (U+200B, U+2060, U+FEFF, U+00AD) become `\n`, `\r`, `\t` or `\uXXXX`.
 * @module
 */

import { FORBIDDEN_NAME_CHARS } from "../wire/file_name.ts";

// The characters a file name may not hold are the ones a log line may not show raw.
const UNSAFE = new RegExp(FORBIDDEN_NAME_CHARS.source, "u");
const UNSAFE_ALL = new RegExp(FORBIDDEN_NAME_CHARS.source, "gu");

function escapeChar(c: string): string {
  if (c === "\n") return "\\n";
  if (c === "\r") return "\\r";
  if (c === "\t") return "\\t";
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
}

/**
 * Escapes control, line-break, bidirectional and invisible characters.
 *
 * @param text any text (a log line, a name from the network)
 * @returns the same text when it holds none of them (no copy), else the escaped text
 *
 * @example
 * ```ts
 * import { escapeLogText } from "./log_escape.ts";
 * console.log(escapeLogText('own a "x\n2026-01-01T00:00:00Z register evil"'));
 * // own a "x\n2026-01-01T00:00:00Z register evil"  (one line: the break is the two characters \n)
 * ```
 */
export function escapeLogText(text: string): string {
  return UNSAFE.test(text) ? text.replace(UNSAFE_ALL, escapeChar) : text;
}
