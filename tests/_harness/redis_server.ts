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

/** Options for {@link startRedis}. */
export interface StartRedisOptions {
  /** A Redis Cluster node (no slots yet: see {@link startRedisCluster}). @default false */
  cluster?: boolean;
}

/**
 * Starts `redis-server` on a free port.
 *
 * @param options cluster mode
 *
 * @returns the running server; `await using` stops it
 */
export async function startRedis(options: StartRedisOptions = {}): Promise<TestRedis> {
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
        ...(options.cluster
          ? ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
          : []),
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

/** Sends one inline command to a node and returns its reply's text. */
async function ask(port: number, command: string): Promise<string> {
  const c = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await c.write(new TextEncoder().encode(`${command}\r\n`));
    const buf = new Uint8Array(16384);
    const n = await c.read(buf);
    return n === null ? "" : new TextDecoder().decode(buf.subarray(0, n));
  } finally {
    c.close();
  }
}

/**
 * Starts a Redis Cluster of two nodes on 127.0.0.1: the first owns every slot, the second owns
 * none (so every keyed command sent to it is answered `MOVED … first`). Resolves when both
 * nodes say `cluster_state:ok`.
 *
 * @returns the two nodes, owner first; `await using` stops them
 */
export async function startRedisCluster(): Promise<
  { owner: TestRedis; empty: TestRedis } & AsyncDisposable
> {
  const owner = await startRedis({ cluster: true });
  const empty = await startRedis({ cluster: true });
  const dispose = async () => {
    await owner[Symbol.asyncDispose]();
    await empty[Symbol.asyncDispose]();
  };
  try {
    const added = await ask(owner.port, "CLUSTER ADDSLOTSRANGE 0 16383");
    if (!added.startsWith("+OK")) throw new Error(`CLUSTER ADDSLOTSRANGE: ${added.trim()}`);
    const met = await ask(owner.port, `CLUSTER MEET 127.0.0.1 ${empty.port}`);
    if (!met.startsWith("+OK")) throw new Error(`CLUSTER MEET: ${met.trim()}`);
    const deadline = Date.now() + 15_000;
    for (;;) {
      const states = await Promise.all([owner.port, empty.port].map((p) => ask(p, "CLUSTER INFO")));
      if (
        states.every((s) => s.includes("cluster_state:ok") && s.includes("cluster_known_nodes:2"))
      ) {
        break;
      }
      if (Date.now() > deadline) throw new Error("the Redis Cluster did not form within 15 s");
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (e) {
    await dispose();
    throw e;
  }
  return { owner, empty, [Symbol.asyncDispose]: dispose };
}
