/**
 * Runs a test body in a child Deno with only the libc FFI grant, net and what the caller adds
 * (`deno eval` would grant everything, so the script goes to a temporary file): the libc fast
 * path's tests need the grant, which the test process does not have.
 * @module
 */
import assert from "node:assert/strict";
import { libcPath as findLibc } from "../../lib/net/socket_buffer.ts";

/** The libc the grant names, or undefined (not Linux): tests that need it are ignored then. */
export const libcPath: string | undefined = findLibc();

/** Options for {@link inFfiChild}. */
export interface InFfiChildOptions {
  /**
   * A command the child runs under, given the `deno` command line after it (a network
   * namespace: `["unshare", "-n", ...]`).
   */
  under?: string[];
}

/**
 * Runs `body` (JavaScript with `UdpEndpoint` and a 5 s `timeout(promise)` in scope) in a child
 * with the libc grant; returns the JSON line it prints.
 *
 * @param body the child's code; it prints one JSON line
 * @param extraArgs more Deno flags for the child (e.g. a scoped `--allow-read`)
 * @param options how the child is started
 * @returns the parsed line
 */
export async function inFfiChild(
  body: string,
  extraArgs: string[] = [],
  options: InFfiChildOptions = {},
): Promise<Record<string, unknown>> {
  const script = `
    import { UdpEndpoint } from ${
    JSON.stringify(import.meta.resolve("../../lib/net/udp_endpoint.ts"))
  };
    const timeout = async (p) => {
      let t;
      const r = await Promise.race([p, new Promise((r) => { t = setTimeout(r, 5000); })]);
      clearTimeout(t);
      return r;
    };
    ${body}
  `;
  const dir = await Deno.makeTempDir({ prefix: "udpswarm-ffi-" });
  try {
    const file = `${dir}/child.js`;
    await Deno.writeTextFile(file, script);
    const under = options.under ?? [];
    const out = await new Deno.Command(under[0] ?? Deno.execPath(), {
      args: [
        ...(under.length > 0 ? [...under.slice(1), Deno.execPath()] : []),
        "run",
        "--no-prompt",
        "--unstable-net",
        `--allow-ffi=${libcPath}`,
        "--allow-net",
        ...extraArgs,
        file,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    return JSON.parse(new TextDecoder().decode(out.stdout));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
