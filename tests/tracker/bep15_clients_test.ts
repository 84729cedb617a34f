/**
 * Real BitTorrent clients on our tracker: transmission-cli seeds a file through
 * `udp://127.0.0.1:PORT/announce`, aria2c downloads it, and the bytes match. Each client can only
 * find the other through the tracker: the torrent is private, transmission has DHT, PEX, LPD and
 * port mapping off, aria2c has PEX and LPD off and its DHT (which aria2 1.36 needs for UDP
 * trackers) starts from an empty routing table with no bootstrap node.
 *
 * Needs the Debian packages `aria2` and `transmission-cli` (`.ci/run` installs them); skipped with
 * the reason when a binary is missing.
 * @module
 */
import assert from "node:assert/strict";
import { startTracker } from "../../lib/tracker/server.ts";
import { randomFile, sha256File, spawnProcess, tempDir } from "../_harness/processes.ts";
import { waitUntil } from "../_harness/wait.ts";

function which(name: string): boolean {
  try {
    const r = new Deno.Command("sh", { args: ["-c", `command -v ${name}`], stdout: "null" })
      .outputSync();
    return r.success;
  } catch {
    return false;
  }
}

const missing = ["aria2c", "transmission-cli", "transmission-create"].filter((b) => !which(b));
const skipReason = missing.length > 0
  ? ` (skipped: ${missing.join(", ")} not installed; apt-get install aria2 transmission-cli)`
  : "";
if (skipReason) console.log(`bep15_clients_test${skipReason}`);

/** A free TCP+UDP port number (bound once and released). */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/**
 * Three UDP ports free a moment ago, as an aria2c port list: it binds the first it can, so another
 * test's socket taking one of them in the meantime (the suite runs in parallel) costs nothing.
 */
function freeUdpPorts(): string {
  const sockets = [0, 1, 2].map(() =>
    Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port: 0 })
  );
  const ports = sockets.map((s) => (s.addr as Deno.NetAddr).port);
  for (const s of sockets) s.close();
  return ports.join(",");
}

Deno.test({
  name:
    `aria2c downloads from a transmission-cli seeder it finds only through the BEP 15 tracker${skipReason}`,
  ignore: missing.length > 0,
  async fn() {
    const lines: string[] = [];
    await using tracker = await startTracker({
      port: 0,
      intervalMs: 5000,
      log: (l) => lines.push(l),
    });
    await using dir = await tempDir("udpswarm-bep15-clients-");
    const seedDir = `${dir.path}/seed`,
      getDir = `${dir.path}/get`,
      cfg = `${dir.path}/transmission`;
    await Deno.mkdir(seedDir);
    await Deno.mkdir(getDir);
    await Deno.mkdir(cfg);
    await randomFile(`${seedDir}/data.bin`, 1_000_000, 15);
    const announce = `udp://127.0.0.1:${tracker.address.port}/announce`;
    const create = await new Deno.Command("transmission-create", {
      args: ["-p", "-t", announce, "-o", `${dir.path}/t.torrent`, `${seedDir}/data.bin`],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.ok(create.success, new TextDecoder().decode(create.stderr));

    const seedPort = freePort();
    await Deno.writeTextFile(
      `${cfg}/settings.json`,
      JSON.stringify({
        "dht-enabled": false,
        "pex-enabled": false,
        "lpd-enabled": false,
        "utp-enabled": false,
        "port-forwarding-enabled": false,
        "blocklist-enabled": false,
        "peer-port": seedPort,
      }),
    );
    await using seeder = spawnProcess({
      command: "transmission-cli",
      args: ["-g", cfg, "-w", seedDir, "-p", String(seedPort), "-M", `${dir.path}/t.torrent`],
      graceMs: 2000,
    });
    await waitUntil(
      () => lines.some((l) => l.includes(`127.0.0.1:${seedPort}: joined as seeder`)),
      30_000,
      "transmission-cli announces as a seeder",
      { intervalMs: 50, describe: () => lines.join("\n") + "\n" + seeder.output() },
    );

    const getPort = freePort(), dhtPorts = freeUdpPorts();
    await using leecher = spawnProcess({
      command: "aria2c",
      args: [
        "--enable-dht=true", // aria2 1.36 speaks UDP trackers over its DHT socket only
        `--dht-file-path=${dir.path}/dht.dat`, // does not exist: an empty routing table
        `--dht-listen-port=${dhtPorts}`,
        `--listen-port=${getPort}`,
        "--enable-dht6=false",
        "--bt-enable-lpd=false",
        "--enable-peer-exchange=false",
        "--seed-time=0",
        "--bt-stop-timeout=60",
        "--bt-tracker-connect-timeout=10",
        "--bt-tracker-timeout=10",
        "--summary-interval=0",
        "--console-log-level=notice",
        `--dir=${getDir}`,
        `${dir.path}/t.torrent`,
      ],
      graceMs: 2000,
    });
    const status = await leecher.wait(90_000);
    assert.equal(status.code, 0, leecher.output());
    assert.equal(await sha256File(`${getDir}/data.bin`), await sha256File(`${seedDir}/data.bin`));
    // The leecher announced to us (and had no other way to find the seeder).
    assert.ok(
      lines.some((l) => l.includes(`127.0.0.1:${getPort}: joined as leecher`)),
      lines.join("\n"),
    );
    assert.ok(seeder.exitStatus === undefined, "the seeder is still running");
  },
});
