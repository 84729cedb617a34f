/**
 * Starts a private `redis-server` for a test: a free port on 127.0.0.1, no persistence, its
 * own temporary directory. Tests that need Redis skip, with {@link REDIS_SKIP_REASON}, where
 * `redis-server` is not installed (`.ci/run` installs it).
 * @module
 */

/** Why Redis tests are skipped here, or undefined when `redis-server` can run. */
export const REDIS_SKIP_REASON: string | undefined = (() => {
  try {
    const r = new Deno.Command("redis-server", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    })
      .outputSync();
    return r.success ? undefined : "redis-server --version failed";
  } catch {
    return "redis-server is not installed (Debian package redis-server; .ci/run installs it)";
  }
})();

/** A running private Redis. */
export interface TestRedis extends AsyncDisposable {
  /** Its port. */
  readonly port: number;
  /** Its process id (for CPU accounting in benchmarks). */
  readonly pid: number;
  /** `redis://127.0.0.1:PORT`. */
  readonly url: string;
  /** Stops it (SIGKILL) and waits for the process to end. */
  stop(): Promise<void>;
  /** Starts it again on the same port (after {@link TestRedis.stop}); the data is gone. */
  restart(): Promise<void>;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function waitReady(port: number, deadline: number): Promise<void> {
  for (;;) {
    try {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      await c.write(new TextEncoder().encode("PING\r\n"));
      const buf = new Uint8Array(16);
      const n = await c.read(buf);
      c.close();
      if (n !== null && new TextDecoder().decode(buf.subarray(0, n)).startsWith("+PONG")) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      throw new Error(`redis-server on port ${port} did not start in time`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A test that needs redis-server (skipped with the reason where it is missing), with the op
 * and resource sanitizers on: the store's client closes its socket and timers on `close()`.
 *
 * @param name the test's name
 * @param fn the test
 */
export function redisTest(name: string, fn: () => Promise<void>): void {
  Deno.test({
    name,
    ignore: REDIS_SKIP_REASON !== undefined,
    fn,
  });
}

/**
 * Starts `redis-server` on a free port.
 *
 * @returns the running server; `await using` stops it
 */
export async function startRedis(): Promise<TestRedis> {
  const dir = await Deno.makeTempDir({ prefix: "udpswarm-redis-" });
  const port = freePort();
  let child: Deno.ChildProcess | undefined;
  const launch = async () => {
    child = new Deno.Command("redis-server", {
      args: [
        "--save",
        "",
        "--appendonly",
        "no",
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        dir,
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    await waitReady(port, Date.now() + 10_000);
  };
  const stop = async () => {
    if (child === undefined) return;
    const c = child;
    child = undefined;
    try {
      c.kill("SIGKILL");
    } catch {
      // already gone
    }
    await c.status;
  };
  await launch();
  return {
    port,
    get pid() {
      return child?.pid ?? -1;
    },
    url: `redis://127.0.0.1:${port}`,
    stop,
    restart: launch,
    async [Symbol.asyncDispose]() {
      await stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
