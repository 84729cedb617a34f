/**
 * Where the CLI's words go. Results (a `sharing` line, a downloaded path, REPL answers) go to
 * stdout; notes and errors go to stderr; with `--json` everything is one JSON object per line
 * on stdout, so a machine reads a single stream.
 * @module
 */

/** Options for {@link createOutput}. */
export interface OutputOptions {
  /** One JSON object per line on stdout. */
  json: boolean;
  /** Silence notes (not results or errors). @default false */
  quiet?: boolean;
  /** Writes raw text to stdout. */
  stdout: (text: string) => void;
  /** Writes raw text to stderr. */
  stderr: (text: string) => void;
}

/** The CLI's output channel. */
export interface Output {
  /** True in `--json` mode. */
  readonly json: boolean;
  /** A result: `text` (may span lines) on stdout, or `event` as JSON. */
  result(event: Record<string, unknown>, text: string): void;
  /** A side note: `text` on stderr unless quiet, or `event` as JSON on stdout. */
  note(event: Record<string, unknown>, text: string): void;
  /** A failure: `error: message` on stderr, or `{"event":"error",code,message,…}`. */
  error(code: string, message: string, extra?: Record<string, unknown>): void;
}

/** Creates an {@link Output}. */
export function createOutput(options: OutputOptions): Output {
  const { json, stdout, stderr } = options;
  const quiet = options.quiet ?? false;
  const line = (text: string) => (text.endsWith("\n") ? text : `${text}\n`);
  return {
    json,
    result(event, text) {
      stdout(json ? line(JSON.stringify(event)) : line(text));
    },
    note(event, text) {
      if (json) stdout(line(JSON.stringify(event)));
      else if (!quiet) stderr(line(text));
    },
    error(code, message, extra = {}) {
      if (json) stdout(line(JSON.stringify({ event: "error", code, message, ...extra })));
      else stderr(line(`error: ${message}`));
    },
  };
}

/** Wraps a sync writer so a closed pipe (EPIPE) never crashes the process. */
export function safeWriter(file: { writeSync(p: Uint8Array): number }): (text: string) => void {
  const encoder = new TextEncoder();
  let broken = false;
  return (text) => {
    if (broken) return;
    try {
      const bytes = encoder.encode(text);
      let off = 0;
      while (off < bytes.length) off += file.writeSync(bytes.subarray(off));
    } catch {
      broken = true;
    }
  };
}
