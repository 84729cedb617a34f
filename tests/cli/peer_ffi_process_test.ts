/**
 * `peer.ts share` and `get` as real processes on loopback with FFI access to libc only: each
 * peer raises its sockets' receive buffers and uses the libc fast path (lib/net/fast_udp.ts),
 * the downloads are exact (one at `--mtu 1500`, which the owner sends in UDP GSO batches and the
 * downloader reads with UDP GRO), and the node log says which buffer it got and that GSO and GRO
 * are on, that blocks were read straight into their piece buffers (scatter_receive.ts), and that
 * pieces were written with O_DIRECT (direct_write.ts) into a file a new owner then serves exactly.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { randomFile, sha256File, spawnDeno, tempDir } from "../_harness/processes.ts";
import { libcPath as findLibc } from "../../lib/net/socket_buffer.ts";
import { PEER_TS, peerPermissions } from "./_peer_process.ts";
import { spawnTrackerProcess } from "./_tracker_process.ts";

const SIZE = 24 * 1024 * 1024 + 777;
const WAIT = 60_000;
const libcPath = findLibc();

Deno.test({
  name: "peer.ts with --allow-ffi=libc: raised receive buffers and the fast path, exact bytes",
  ignore: Deno.build.os !== "linux" || libcPath === undefined,
  async fn() {
    await using tmp = await tempDir("udpswarm-cli-ffi-");
    const logs = join(tmp.path, "logs");
    const [a, c] = [join(tmp.path, "a"), join(tmp.path, "c")];
    for (const d of [logs, a, c]) await Deno.mkdir(d);
    await randomFile(join(a, "f.bin"), SIZE, 5);
    const expected = await sha256File(join(a, "f.bin"));
    const tracker = await spawnTrackerProcess(logs);
    await using _tracker = tracker.child;
    const common = ["--tracker", tracker.address, "--log-dir", logs];
    const grants = (dir: string) => [...peerPermissions(dir, logs), `--allow-ffi=${libcPath}`];
    /** `peer.ts share DIR/f.bin` as node `id`, once it shares. */
    const share = async (id: string, dir: string) => {
      const child = spawnDeno({
        name: id,
        entrypoint: PEER_TS,
        permissions: grants(dir),
        args: ["share", join(dir, "f.bin"), "--id", id, "--dir", dir, ...common],
      });
      await child.waitForLine(/^sharing f\.bin /, WAIT);
      return child;
    };
    /** `peer.ts get f.bin` into `dir` as node `id`. */
    const download = (id: string, dir: string, extra: string[] = []) =>
      spawnDeno({
        name: id,
        entrypoint: PEER_TS,
        permissions: grants(dir),
        args: [
          "get",
          "f.bin",
          "--out",
          dir,
          "--dir",
          dir,
          "--id",
          id,
          "--json",
          ...extra,
          ...common,
        ],
      });
    await using owner = await share("owner", a);
    await using get = download("getter", c, ["--direct-writes"]);
    const status = await get.status;
    assert.equal(status.code, 0, get.output());
    assert.equal(await sha256File(join(c, "f.bin")), expected);
    const result = JSON.parse(get.output("stdout").trim().split("\n").at(-1)!);
    assert.equal(result.event, "done");
    // 1452-byte datagrams: the owner sends them in GSO batches, each a whole BLOCK_DATA
    const d = join(tmp.path, "d");
    await Deno.mkdir(d);
    await using small = download("getter2", d, ["--mtu", "1500"]);
    assert.equal((await small.status).code, 0, small.output());
    assert.equal(await sha256File(join(d, "f.bin")), expected);
    // Both peers got a larger buffer than the kernel default (SO_RCVBUF read back)
    const log = (await Array.fromAsync(Deno.readDir(logs)))
      .filter((e) => e.isFile)
      .map((e) => Deno.readTextFileSync(join(logs, e.name)))
      .join("\n");
    const raised = [...log.matchAll(/UDP receive buffer (\d+) bytes per socket/g)].map((m) =>
      Number(m[1])
    );
    assert.ok(raised.length >= 2, `both peers log their buffer:\n${log.slice(-2000)}`);
    for (const got of raised) assert.ok(got > 212_992, `SO_RCVBUF ${got}`);
    assert.match(log, /UDP GSO on/, "the owner has GSO sends");
    // 32 KiB blocks drained after a burst's first are read straight into their piece buffers
    const getterLog = Deno.readTextFileSync(join(logs, "node-getter.log"));
    const placed = getterLog.match(/data sockets: (\d+) of (\d+) datagrams read straight into/);
    assert.ok(placed && Number(placed[1]) > 0, `blocks read in place:\n${getterLog.slice(-2000)}`);
    // Whole pieces written with O_DIRECT from their piece buffers (lib/peer/direct_write.ts);
    // the last one (777 bytes) buffered
    const direct = getterLog.match(
      /disk: (\d+) pieces written with O_DIRECT in (\d+) system calls/,
    );
    assert.ok(direct && Number(direct[1]) > 0, `direct writes:\n${getterLog.slice(-2000)}`);
    assert.ok(Number(direct[2]) <= Number(direct[1]), "adjacent pieces gathered");
    // The directly written file, shared by a new owner once the first is gone, downloads exact
    await owner.close();
    await using _reshare = await share("reshare", c);
    const e = join(tmp.path, "e");
    await Deno.mkdir(e);
    await using again = download("getter3", e);
    assert.equal((await again.status).code, 0, again.output());
    assert.equal(await sha256File(join(e, "f.bin")), expected);
    assert.match(again.output("stdout"), /"nodeId":"reshare"/, "served by the new owner");
    // GRO on the data sockets of the --mtu 1500 download only (PeerOptions.receiveGro)
    const groOn = (id: string) =>
      /UDP GRO on/.test(Deno.readTextFileSync(join(logs, `node-${id}.log`)));
    assert.deepEqual([groOn("getter2"), groOn("getter"), groOn("owner")], [true, false, false]);
  },
});
