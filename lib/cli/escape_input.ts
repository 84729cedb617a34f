/**
 * Shows user input safely: control characters (escape sequences from arrow keys, a stray
 * Ctrl-key, a carriage return) become visible `\xNN` / `\uNNNN` escapes, so echoing what the
 * user typed can never move the cursor or garble the screen.
 * @module
 */

/**
 * Escapes C0 and C1 control characters and DEL; everything else is kept as is.
 *
 * @param text Text the user typed.
 * @returns The text with `\x1b` written as the four characters `\x1b`, and so on.
 */
export function escapeInput(text: string): string {
  // deno-lint-ignore no-control-regex -- matching control characters is the point
  return text.replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029]/g, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}
