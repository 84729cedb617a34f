/**
 * `--metrics` on real processes: a tracker and a sharing peer serve `GET /metrics` and
 * `GET /stats.json` on loopback while another peer downloads; the figures match what happened.
 * Over IPv6 loopback, so the logs also show addresses as `[::1]:PORT`.
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { randomFile, sha256File, spawnDeno, tempDir } from "../_harness/processes.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const WAIT = 30_000;
const SIZE = 1024 * 1024 + 7;

/** The value of one sample line of a Prometheus text body. */
function sample(body: string, line: string): number {
  const m = new RegExp(`^${line.replace(/[{}()[\]|.+*?^$\\]/g, "\\$&")} (\\S+)$`, "m").exec(body);
  assert.ok(m, `no sample ${line} in:\n${body}`);
  return Number(m[1]);
}

async function get(url: string): Promise<{ status: number; type: string; body: string }> {
  const r = await fetch(url);
  return { status: r.status, type: r.headers.get("content-type") ?? "", body: await r.text() };
}

Deno.test("tracker.ts and peer.ts --metrics serve /metrics and /stats.json (IPv6 loopback)", async () => {
  await using tmp = await tempDir("udpswarm-metrics-");
  const logs = join(tmp.path, "logs");
  const a = join(tmp.path, "a");
  const c = join(tmp.path, "c");
  for (const d of [logs, a, c]) await Deno.mkdir(d);
  await randomFile(join(a, "m.bin"), SIZE, 9);
  await using tracker = spawnDeno({
    name: "tracker",
    entrypoint: join(ROOT, "tracker.ts"),
    permissions: ["--allow-net", `--allow-read=${logs}`, `--allow-write=${logs}`],
    args: ["--host", "::1", "--port", "0", "--log-dir", logs, "--interval", "2", "--metrics", "0"],
  });
  const at = (await tracker.waitForLine(/listening on udp:\/\/(\S+)/, WAIT)).match[1]!;
  assert.match(at, /^\[::1\]:\d+$/);
  const trackerMetrics =
    (await tracker.waitForLine(/^metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)$/, WAIT))
      .match[1]!;

  const peerGrants = (dir: string) => [
    "--allow-net",
    `--allow-read=${dir},${join(ROOT, "lib/peer/piece_writer_worker.ts")}`,
    `--allow-write=${dir},${logs}`,
  ];
  await using share = spawnDeno({
    name: "share",
    entrypoint: join(ROOT, "peer.ts"),
    permissions: peerGrants(a),
    args: [
      "share",
      join(a, "m.bin"),
      "--id",
      "ms",
      "--tracker",
      at,
      "--log-dir",
      logs,
      "--out",
      a,
      "--metrics",
      "0",
    ],
  });
  const peerMetrics =
    (await share.waitForLine(/^metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)$/, WAIT)).match[1]!;
  await share.waitForLine(/^sharing m\.bin /, WAIT);

  await using getter = spawnDeno({
    name: "get",
    entrypoint: join(ROOT, "peer.ts"),
    permissions: peerGrants(c),
    args: ["get", "m.bin", "--id", "mg", "--tracker", at, "--log-dir", logs, "--out", c, "-q"],
  });
  assert.equal((await getter.wait(WAIT)).code, 0, getter.output());
  assert.equal(await sha256File(join(c, "m.bin")), await sha256File(join(a, "m.bin")));

  const t = await get(trackerMetrics);
  assert.equal(t.status, 200);
  assert.match(t.type, /^text\/plain; version=0\.0\.4/);
  assert.ok(sample(t.body, 'udpswarm_tracker_requests_total{type="register",result="ok"}') >= 2);
  assert.ok(sample(t.body, 'udpswarm_tracker_requests_total{type="own",result="ok"}') >= 1);
  assert.ok(sample(t.body, 'udpswarm_tracker_requests_total{type="need",result="ok"}') >= 1);
  assert.ok(sample(t.body, 'udpswarm_tracker_replies_total{type="owners"}') >= 1);
  assert.equal(sample(t.body, "udpswarm_tracker_files"), 1, "one content id: m.bin");
  assert.ok(sample(t.body, "udpswarm_tracker_peers") >= 1);
  assert.equal(sample(t.body, "udpswarm_tracker_evictions_total"), 0);
  assert.equal(sample(t.body, "udpswarm_tracker_rate_limited_sources_total"), 0);
  const count = sample(t.body, "udpswarm_tracker_request_duration_seconds_count");
  assert.equal(
    sample(t.body, 'udpswarm_tracker_request_duration_seconds_bucket{le="+Inf"}'),
    count,
  );
  const ts = JSON.parse((await get(trackerMetrics.replace("/metrics", "/stats.json"))).body);
  assert.ok(ts.requests.need.ok >= 1);
  assert.equal(ts.counters.peers, sample(t.body, "udpswarm_tracker_peers"));
  assert.equal((await get(trackerMetrics.replace("/metrics", "/nope"))).status, 404);

  const p = await get(peerMetrics);
  assert.equal(p.status, 200);
  assert.ok(sample(p.body, 'udpswarm_peer_uploaded_bytes_total{node="ms"}') >= SIZE);
  assert.equal(sample(p.body, 'udpswarm_peer_transfers_started_total{node="ms"}'), 0);
  const ps = JSON.parse((await get(peerMetrics.replace("/metrics", "/stats.json"))).body);
  assert.equal(ps.nodeId, "ms");
  assert.ok(ps.uploadedBytes >= SIZE);

  share.kill("SIGTERM");
  assert.equal((await share.wait(WAIT)).code, 0);
  assert.equal((await tracker.close()).code, 0);
  // Addresses in the logs are written as on screen: [::1]:PORT.
  for (const file of ["tracker.log", "node-ms.log", "node-mg.log"]) {
    const text = await Deno.readTextFile(join(logs, file));
    assert.match(text, /\[::1\]:\d+/, file);
    assert.doesNotMatch(text, /(?<!\[)::1:\d/, file);
  }
});
