/**
 * Starts a process that prints `listening on udp://127.0.0.1:PORT` first (tracker.ts, or the echo
 * baseline) and returns it with the port; the rest of its stdout is drained.
 * @module
 */

/**
 * Spawns `deno ARGS` in `cwd` and waits for its `listening on` line.
 *
 * @param args the arguments after `deno`
 * @param cwd the working directory
 * @returns the child, its port, and a promise that settles when its stdout ends
 * @throws {Error} when the process exits before listening
 */
export async function spawnListening(
  args: string[],
  cwd: string,
): Promise<{ child: Deno.ChildProcess; port: number; stdoutDone: Promise<void> }> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let banner = "";
  while (!banner.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) {
      throw new Error(`Cannot start ${args.join(" ")}: it exited before listening: ${banner}`);
    }
    banner += value;
  }
  const port = Number(/listening on udp:\/\/127\.0\.0\.1:(\d+)/.exec(banner)?.[1]);
  if (!port) throw new Error(`Cannot read the port: no "listening on" line in ${banner}`);
  const stdoutDone = (async () => {
    for (;;) if ((await reader.read()).done) return;
  })();
  return { child, port, stdoutDone };
}
