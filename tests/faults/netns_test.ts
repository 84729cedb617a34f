/**
 * Real links between private network namespaces (scripts/netns.sh). Skipped, with the reason
 * printed, where namespaces cannot be made (not root, no iproute2 or iptables).
 */
import assert from "node:assert/strict";
import { spawnProcess } from "../_harness/processes.ts";

const NETNS = new URL("../../scripts/netns.sh", import.meta.url).pathname;
const PROBE = new URL("../../scripts/udp_probe.ts", import.meta.url).pathname;
/** A prefix of our own, so parallel runs and hand-made setups do not collide. */
const PREFIX = `us-t${Deno.pid}`;

async function netns(...args: string[]): Promise<{ ok: boolean; out: string }> {
  const { success, stdout, stderr } = await new Deno.Command("bash", {
    args: [NETNS, "--prefix", PREFIX, ...args],
    stdin: "null",
  }).output();
  const out = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  return { ok: success, out: out.trim() };
}

async function availability(): Promise<string | undefined> {
  try {
    const { ok, out } = await netns("check");
    return ok ? undefined : out;
  } catch (e) {
    return `cannot run scripts/netns.sh: ${e instanceof Error ? e.message : e}`;
  }
}

async function ourNamespaces(): Promise<string[]> {
  const { stdout } = await new Deno.Command("ip", { args: ["netns", "list"] }).output();
  return new TextDecoder().decode(stdout).split("\n").map((l) => l.split(" ")[0]!)
    .filter((n) => n.startsWith(`${PREFIX}-`));
}

const unavailable = await availability();
if (unavailable) console.log(`netns_test: skipped: ${unavailable}`);

/** Runs `udp_probe.ts MODE ARGS` on host `host` of the namespaces (`netns.sh exec`). */
function probeOn(host: number, mode: "ping" | "echo", args: string[]) {
  return spawnProcess({
    name: mode,
    command: "bash",
    args: [NETNS, "--prefix", PREFIX, "exec", String(host), Deno.execPath(), "run", "--no-prompt"]
      .concat(["--allow-net", PROBE, mode, ...args]),
  });
}

/** Pings host 1's echo from host 0 and returns the probe's JSON result. */
async function ping(count: number): Promise<{ sent: number; replies: number }> {
  await using child = probeOn(0, "ping", [
    ...["--to", "10.77.0.2:9000", "--count", String(count), "--timeout-ms", "300"],
  ]);
  const { match } = await child.waitForLine(/^(\{"mode":"ping".*\})$/, 30_000);
  return JSON.parse(match[1]!);
}

Deno.test({
  name: "netns.sh up 2 gives two hosts that reach each other over UDP, and down removes them",
  ignore: unavailable !== undefined,
  sanitizeResources: true,
  async fn(t) {
    try {
      const up = await netns("up", "2", "--rate", "100mbit");
      assert.ok(up.ok, up.out);
      assert.deepEqual((await ourNamespaces()).sort(), [
        `${PREFIX}-h0`,
        `${PREFIX}-h1`,
        `${PREFIX}-hub`,
      ]);
      assert.equal((await netns("addr", "1")).out, "10.77.0.2");

      await using echo = probeOn(1, "echo", ["--bind", "10.77.0.2:9000", "--max-s", "60"]);
      await echo.waitForLine(/^listening 10\.77\.0\.2:9000$/, 30_000);

      await t.step("datagrams go both ways", async () => {
        const r = await ping(20);
        assert.equal(r.replies, 20, JSON.stringify(r));
      });
      await t.step("--loss 1 on a host drops everything it receives", async () => {
        const set = await netns("set", "1", "--loss", "1");
        assert.ok(set.ok, set.out);
        assert.equal((await ping(5)).replies, 0);
      });
      await t.step("--loss 0 restores the link", async () => {
        await netns("set", "1", "--loss", "0");
        assert.equal((await ping(20)).replies, 20);
      });
    } finally {
      const down = await netns("down");
      assert.ok(down.ok, down.out);
    }
    assert.deepEqual(await ourNamespaces(), []);
    // Idempotent.
    assert.ok((await netns("down")).ok);
  },
});
