/**
 * Address cookies between real peers on loopback: a download survives the owners' cookie keys
 * rotating under it many times, and an owner that never answers a PROBE is left out.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startTracker } from "../../lib/tracker/server.ts";
import { startPeer } from "../../lib/peer/peer.ts";
import type { PeerOptions } from "../../lib/peer/api.ts";
import { UdpEndpoint } from "../../lib/net/udp_endpoint.ts";
import { randomFile, sha256File, tempDir } from "../_harness/processes.ts";
import { withTimeout } from "../_harness/wait.ts";

const MiB = 1024 * 1024;

/**
 * A tracker, and directories a and b that hold the same random file `f.bin` and c (empty), in
 * a temporary directory; both are disposed together.
 */
async function twoOwnerWorld(size: number, seed: number) {
  const tmp = await tempDir("udpswarm-cookie-");
  const tracker = await startTracker({ port: 0 });
  const [dA, dB, dC] = ["a", "b", "c"].map((n) => join(tmp.path, n)) as [string, string, string];
  for (const d of [dA, dB, dC]) await Deno.mkdir(d);
  await randomFile(join(dA, "f.bin"), size, seed);
  await Deno.copyFile(join(dA, "f.bin"), join(dB, "f.bin"));
  return {
    t: `127.0.0.1:${tracker.localAddr.port}`,
    dA,
    dB,
    dC,
    want: await sha256File(join(dA, "f.bin")),
    async [Symbol.asyncDispose]() {
      await tracker[Symbol.asyncDispose]();
      await tmp[Symbol.asyncDispose]();
    },
  };
}

function peer(tracker: string, nodeId: string, dir: string, extra: PeerOptions = {}) {
  return startPeer({ tracker, nodeId, dir, outDir: dir, cacheDir: join(dir, ".cache"), ...extra });
}

Deno.test("startPeer() download survives the owners' cookie keys rotating every 300 ms", async () => {
  const size = 24 * MiB;
  await using w = await twoOwnerWorld(size, 11);
  const { t, dA, dB, dC, want } = w;
  // Cookies live 300..600 ms; 1452-byte datagrams (--mtu 1500) make the download take longer
  await using a = await peer(t, "ownerA", dA, { cookieEpochMs: 300 });
  await using b = await peer(t, "ownerB", dB, { cookieEpochMs: 300 });
  const lines: string[] = [];
  await using c = await peer(t, "downloader", dC, { mtu: 1500, log: (l) => lines.push(l) });
  await a.share("f.bin");
  await b.share("f.bin");
  const started = performance.now();
  const r = await withTimeout(c.download("f.bin").done, 60_000, "download across rotations");
  const elapsed = performance.now() - started;
  assert.equal(await sha256File(r.path), want);
  const renewals = lines.filter((l) => /refused our address cookie/.test(l));
  console.log(
    `[cookie] ${size / MiB} MiB in ${elapsed.toFixed(0)} ms, ${renewals.length} renewals, ` +
      `${r.retransmits} re-requests`,
  );
  if (elapsed > 1000) {
    assert.ok(renewals.length > 0, `no cookie renewal in ${elapsed.toFixed(0)} ms`);
  }
  assert.deepEqual(lines.filter((l) => /dropped owner|not using it/.test(l)), []);
  assert.deepEqual(r.owners.map((o) => o.nodeId).sort(), ["ownerA", "ownerB"]);
});

Deno.test("startPeer() leaves out an owner that never answers a PROBE and downloads from the other", async () => {
  await using w = await twoOwnerWorld(2 * MiB, 12);
  const { t, dA, dB, dC, want } = w;
  await using a = await peer(t, "alive", dA);
  await using b = await peer(t, "ghost", dB);
  // The ghost is listed by the tracker, but its address leads to a socket that reads nothing
  await using hole = UdpEndpoint.open();
  const lines: string[] = [];
  await using c = await peer(t, "downloader", dC, {
    log: (l) => lines.push(l),
    mapOwnerAddress: (addr, id) => id === "ghost" ? { ...addr, port: hole.localAddr.port } : addr,
  });
  await a.share("f.bin");
  await b.share("f.bin");
  const r = await withTimeout(c.download("f.bin").done, 30_000, "download without the ghost");
  assert.equal(await sha256File(r.path), want);
  assert.deepEqual(r.owners.map((o) => o.nodeId), ["alive"]);
  // The download does not wait for the ghost: it leaves it out once probing gives up (4.75 s),
  // or earlier if the download is already done
  const ghost = lines.filter((l) => l.includes("ghost"));
  assert.ok(ghost.every((l) => !/added owner ghost/.test(l)), ghost.join("\n"));
});
