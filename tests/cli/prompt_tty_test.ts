/**
 * The prompt on a real pseudo-terminal (tmux): Tab completes commands and file names in
 * `--dir`, the up arrow recalls history, Ctrl-C clears the line being typed and the peer keeps
 * running, and a second Ctrl-C leaves with exit code 0 after EXIT. Skipped, saying why, where
 * tmux is not installed (.ci/run installs it).
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { tempDir } from "../_harness/processes.ts";
import { spawnTrackerProcess } from "./_tracker_process.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const WAIT = 30_000;

function hasTmux(): boolean {
  try {
    return new Deno.Command("tmux", { args: ["-V"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

const TMUX = hasTmux();
if (!TMUX) console.warn("prompt_tty_test: skipped: tmux is not installed (apt-get install tmux)");

/** A tmux server of its own, with one pane running a command. */
class Tmux implements AsyncDisposable {
  readonly #socket = `udpswarm-test-${crypto.randomUUID().slice(0, 8)}`;

  async #run(args: string[]): Promise<string> {
    const r = await new Deno.Command("tmux", { args: ["-L", this.#socket, ...args] }).output();
    if (!r.success) {
      throw new Error(`tmux ${args[0]} failed: ${new TextDecoder().decode(r.stderr)}`);
    }
    return new TextDecoder().decode(r.stdout);
  }

  start(command: string): Promise<string> {
    return this.#run(["new-session", "-d", "-s", "t", "-x", "150", "-y", "40", command]);
  }

  /** Sends keys (tmux key names, or literal text with `literal`). */
  async keys(keys: string[], literal = false): Promise<void> {
    await this.#run(["send-keys", "-t", "t", ...(literal ? ["-l"] : []), ...keys]);
  }

  /** The screen and scrollback, without trailing blank lines (tmux drops trailing spaces). */
  async screen(): Promise<string> {
    return (await this.#run(["capture-pane", "-p", "-t", "t", "-S", "-200"])).trimEnd();
  }

  /** Waits until the screen matches `pattern`. */
  async waitFor(pattern: RegExp, timeoutMs = WAIT): Promise<string> {
    const end = performance.now() + timeoutMs;
    let text = "";
    while (performance.now() < end) {
      text = await this.screen();
      if (pattern.test(text)) return text;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`timed out waiting for ${pattern}; the screen:\n${text}`);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#run(["kill-server"]).catch(() => {});
  }
}

/** The last non-empty line on the screen. */
function lastLine(screen: string): string {
  return screen.trimEnd().split("\n").at(-1) ?? "";
}

Deno.test({
  name: "peer.ts prompt on a terminal: completion, history, Ctrl-C clears the line, twice leaves",
  ignore: !TMUX,
  async fn() {
    await using tmp = await tempDir("udpswarm-tty-");
    const dir = join(tmp.path, "files");
    const logs = join(tmp.path, "logs");
    await Deno.mkdir(dir);
    await Deno.writeTextFile(join(dir, "alpha.txt"), "hello\n");
    await Deno.writeTextFile(join(dir, "beta.bin"), "beta\n");
    const tracker = await spawnTrackerProcess(logs);
    await using _tracker = tracker.child;
    await using tmux = new Tmux();
    const peer = [
      Deno.execPath(),
      "run",
      "--no-prompt",
      "--allow-net=127.0.0.1",
      "--allow-read",
      `--allow-write=${tmp.path}`,
      join(ROOT, "peer.ts"),
      "--dir",
      dir,
      "--out",
      join(tmp.path, "out"),
      "--log-dir",
      logs,
      "--id",
      "tty1",
      "--tracker",
      tracker.address,
    ].map((w) => `'${w}'`).join(" ");
    await tmux.start(`${peer}; echo "EXITCODE=$?"; sleep 60`);
    await tmux.waitFor(/Type help for commands\.\n>$/);

    // Tab completes a command, then a file name in --dir.
    await tmux.keys(["sta"], true);
    await tmux.waitFor(/^> sta$/m);
    await tmux.keys(["Tab"]);
    await tmux.waitFor(/^> status$/m);
    await tmux.keys(["Enter"]);
    await tmux.waitFor(/^no downloads in progress$/m);
    await tmux.keys(["send al"], true);
    await tmux.waitFor(/^> send al$/m);
    await tmux.keys(["Tab"]);
    await tmux.waitFor(/^> send alpha\.txt$/m);
    await tmux.keys(["Enter"]);
    await tmux.waitFor(/^sharing alpha\.txt [0-9a-f]{64}$/m);

    // The up arrow brings the last command back; arrow keys never print escape codes.
    await tmux.waitFor(/\n>$/);
    await tmux.keys(["Up"]);
    const recalled = await tmux.waitFor(/\n> send alpha\.txt$/);
    assert.doesNotMatch(recalled, /\^\[\[A/);

    // Ctrl-C clears what was typed; the peer keeps running.
    await tmux.keys(["C-u"]);
    await tmux.keys(["garbage"], true);
    await tmux.waitFor(/\n> garbage$/);
    await tmux.keys(["C-c"]);
    const cleared = await tmux.waitFor(/\(Ctrl-C again or type exit to leave\)\n>$/);
    assert.equal(lastLine(cleared), ">");
    await tmux.keys(["files"], true);
    await tmux.keys(["Enter"]);
    await tmux.waitFor(/^ {2}alpha\.txt {2}6 B {2}[0-9a-f]{64}$/m);
    assert.doesNotMatch(await tmux.screen(), /Unknown command: "garbage/);

    // Ctrl-C twice on an empty line leaves: EXIT, "bye", code 0.
    await tmux.waitFor(/\n>$/);
    await tmux.keys(["C-c"]);
    await tmux.waitFor(/downloaded: none\n> \^C\n\(Ctrl-C again or type exit to leave\)\n>$/);
    await tmux.keys(["C-c"]);
    const end = await tmux.waitFor(/^EXITCODE=\d+$/m);
    assert.match(end, /^bye$/m);
    assert.match(end, /^EXITCODE=0$/m);
    const nodeLog = await Deno.readTextFile(join(logs, "node-tty1.log"));
    assert.match(nodeLog, /exit: told the tracker\n/);
    assert.match(nodeLog, / exit\n$/);
  },
});
