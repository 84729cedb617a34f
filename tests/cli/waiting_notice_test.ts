/**
 * With no tracker answering, `peer.ts get` says within about a second what it is waiting for,
 * instead of staying silent until it gives up.
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { spawnDeno, tempDir } from "../_harness/processes.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

Deno.test("peer.ts get says it waits for a silent tracker after a second", async () => {
  await using tmp = await tempDir("udpswarm-wait-");
  // A socket that receives and never answers: a tracker that is not there.
  const silent = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  using _close = { [Symbol.dispose]: () => silent.close() };
  const at = `127.0.0.1:${(silent.addr as Deno.NetAddr).port}`;
  await using get = spawnDeno({
    name: "get",
    entrypoint: join(ROOT, "peer.ts"),
    permissions: ["--allow-net=127.0.0.1", `--allow-read=${tmp.path}`, `--allow-write=${tmp.path}`],
    args: ["get", "x.bin", "--tracker", at, "--out", tmp.path, "--log-dir", tmp.path, "--id", "w1"],
  });
  const t0 = performance.now();
  const { line } = await get.waitForLine(/^waiting for the tracker at /, 10_000);
  const waited = performance.now() - t0;
  assert.equal(line.stream, "stderr");
  assert.equal(
    line.text,
    `waiting for the tracker at ${at} to answer (is it running? check --tracker)`,
  );
  assert.ok(waited < 7000, `said so after ${waited.toFixed(0)} ms, before giving up`);
  get.kill("SIGINT");
  assert.equal((await get.wait(10_000)).code, 130);
  assert.match(
    await Deno.readTextFile(join(tmp.path, "node-w1.log")),
    /still waiting for the tracker/,
  );
});
