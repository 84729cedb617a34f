/**
 * The prompt's line editor on a terminal, on `node:readline`: history (up/down), editing
 * (left/right, Ctrl-A/E/U/W), Tab completion of commands and of file names in `--dir` for
 * `send`, and Ctrl-C that clears the line (a second Ctrl-C on an empty line leaves). Messages
 * that arrive while the user types are printed above the prompt, which is redrawn with what
 * was typed. Piped input never comes here: it goes through {@link LineReader} unchanged.
 * @module
 */
import * as readline from "node:readline";
import process from "node:process";
import { LineReader } from "./line_reader.ts";

/** Where the prompt gets its lines: a terminal line editor or a plain stream. */
export interface LineSource {
  /** The next line; null at end of input (or when the user left with Ctrl-C). */
  next(): Promise<string | null>;
  /** Stops reading and releases the input. */
  cancel(): Promise<void>;
  /** Shows the prompt (a terminal source only). */
  prompt?(): void;
  /** Prints a message above the prompt and redraws it with the text typed so far. */
  above?(print: () => void): void;
}

/** A {@link LineSource} over a byte stream (a pipe, a file, a test's input). */
export function streamLines(input: ReadableStream<Uint8Array>): LineSource {
  const reader = new LineReader(input);
  return { next: () => reader.next(), cancel: () => reader.cancel() };
}

/** The commands the prompt completes. */
export const PROMPT_COMMANDS: readonly string[] = [
  "send",
  "download",
  "list",
  "status",
  "files",
  "wait",
  "limit",
  "help",
  "exit",
];

/** Options for {@link completePromptLine}. */
export interface CompleteOptions {
  /** The commands to complete. @default PROMPT_COMMANDS */
  commands?: readonly string[];
  /** File names in `--dir` (for `send`). */
  files: () => string[];
}

/**
 * Tab completion for the prompt: the command word, then a file name in `--dir` after `send`.
 *
 * @param line The text before the cursor.
 * @param options Commands and the file lister.
 * @returns readline's `[completions, the part being completed]`.
 */
export function completePromptLine(line: string, options: CompleteOptions): [string[], string] {
  const m = /^(\s*)(\S*)$/.exec(line);
  if (m) {
    const word = m[2]!.toLowerCase();
    const hits = (options.commands ?? PROMPT_COMMANDS).filter((c) => c.startsWith(word));
    return [hits.map((c) => `${c} `), m[2]!];
  }
  const send = /^\s*send\s+(.*)$/i.exec(line);
  if (send) {
    const partial = send[1]!.replace(/^"/, "");
    const hits = options.files().filter((f) => f.startsWith(partial)).sort();
    return [hits, partial];
  }
  return [[], line];
}

/** Lists the regular files directly in `dir` (none when it cannot be read). */
export function listFiles(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].filter((e) => e.isFile && !e.name.startsWith("."))
      .map((e) => e.name);
  } catch {
    return [];
  }
}

/** Options for {@link terminalLines}. */
export interface TerminalLinesOptions {
  /** The prompt text. */
  prompt: string;
  /** Directory whose files `send` completes. */
  dir: string;
  /** Writes raw text to the terminal (stdout). */
  write: (text: string) => void;
}

/**
 * A {@link LineSource} on the process's terminal, with `node:readline` editing, history and
 * completion. Ctrl-C clears the line being typed and says how to leave; a second Ctrl-C with
 * nothing typed in between ends the input like `exit`.
 *
 * @param options Prompt, `--dir` and the writer.
 * @returns The source; `cancel()` closes the line editor and restores the terminal.
 */
export function terminalLines(options: TerminalLinesOptions): LineSource {
  const rl = readline.createInterface({
    input: process.stdin,
    output: process.stdout,
    terminal: true,
    historySize: 500,
    removeHistoryDuplicates: true,
    prompt: options.prompt,
    completer: (line: string) => completePromptLine(line, { files: () => listFiles(options.dir) }),
  });
  const queue: (string | null)[] = [];
  let waiting: ((line: string | null) => void) | undefined;
  let closed = false;
  let interrupted = false;
  const push = (line: string | null) => {
    if (waiting) {
      const w = waiting;
      waiting = undefined;
      w(line);
    } else queue.push(line);
  };
  rl.on("line", (line: string) => {
    interrupted = false;
    push(line);
  });
  rl.on("close", () => {
    closed = true;
    push(null);
  });
  rl.on("SIGINT", () => {
    const typed = rl.line;
    if (interrupted && typed === "") {
      options.write("\n");
      rl.close();
      return;
    }
    interrupted = true;
    // Drop what was typed and start a fresh line.
    rl.write(null, { ctrl: true, name: "e" });
    rl.write(null, { ctrl: true, name: "u" });
    options.write("^C\n(Ctrl-C again or type exit to leave)\n");
    rl.prompt();
  });
  return {
    next: () => {
      if (queue.length > 0) return Promise.resolve(queue.shift()!);
      if (closed) return Promise.resolve(null);
      return new Promise((resolve) => (waiting = resolve));
    },
    cancel: () => {
      if (!closed) rl.close();
      return Promise.resolve();
    },
    prompt: () => {
      if (!closed) rl.prompt(true);
    },
    above: (print) => {
      if (closed) return print();
      options.write("\r\x1b[2K");
      print();
      rl.prompt(true);
    },
  };
}
