/**
 * Real processes on one Redis, BEP 15: a private redis-server and two `tracker.ts --store
 * redis://…` on two ports. A BitTorrent seeder announces through A; a leecher announces through B
 * and is given the seeder, B's scrape counts both, a connection id A issued is valid at B (the
 * secret comes from the store), and a `stopped` through B removes the seeder for A too. Skipped
 * where redis-server is missing.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  encodeBep15AnnounceRequest,
  encodeBep15ConnectRequest,
  encodeBep15ScrapeRequest,
} from "../../lib/wire/bep15.ts";
import { REDIS_SKIP_REASON, startRedis } from "../_harness/redis_server.ts";
import { tempDir } from "../_harness/processes.ts";
import { ask } from "./_bep15_client.ts";
import { spawnRedisTracker } from "./_redis_trackers.ts";

const INFO_HASH = new Uint8Array(20).fill(0x5a);

function netAddr(hostPort: string): Deno.NetAddr {
  const [hostname, port] = hostPort.split(":");
  return { transport: "udp", hostname: hostname!, port: Number(port) };
}

function announceRequest(
  connectionId: bigint,
  txid: number,
  port: number,
  event: "started" | "stopped",
  left: number,
): Uint8Array {
  return encodeBep15AnnounceRequest({ connectionId, txid, infoHash: INFO_HASH, port, event, left });
}

async function connectionId(conn: Deno.DatagramConn, to: Deno.NetAddr): Promise<bigint> {
  const r = await ask(conn, to, encodeBep15ConnectRequest(1));
  assert.ok(r.action === "connect");
  return r.connectionId;
}

Deno.test({
  name: "tracker.ts --store redis: a BEP 15 announce through A is returned through B",
  ignore: REDIS_SKIP_REASON !== undefined,
  fn: async () => {
    await using redis = await startRedis();
    await using dir = await tempDir("udpswarm-bep15redis-");
    const a = await spawnRedisTracker(join(dir.path, "a"), redis.url, 30_000);
    await using _a = a.child;
    const b = await spawnRedisTracker(join(dir.path, "b"), redis.url, 30_000);
    await using _b = b.child;
    const toA = netAddr(a.address), toB = netAddr(b.address);
    const seeder = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    const leecher = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    await using _sockets = {
      [Symbol.asyncDispose]: () => Promise.resolve((seeder.close(), leecher.close())),
    };

    const idA = await connectionId(seeder, toA);
    const seeded = await ask(
      seeder,
      toA,
      announceRequest(idA, 2, 51413, "started", 0),
    );
    assert.ok(seeded.action === "announce");
    assert.deepEqual([seeded.seeders, seeded.leechers, seeded.peers.length], [1, 0, 0]);

    const idB = await connectionId(leecher, toB);
    const got = await ask(
      leecher,
      toB,
      announceRequest(idB, 3, 6881, "started", 1000),
    );
    assert.ok(got.action === "announce", JSON.stringify(got));
    assert.deepEqual([got.seeders, got.leechers], [1, 1]);
    assert.deepEqual(got.peers.map((p) => `${p.address.join(".")}:${p.port}`), [
      "127.0.0.1:51413",
    ]);

    const scraped = await ask(leecher, toB, encodeBep15ScrapeRequest(idB, 4, [INFO_HASH]));
    assert.ok(scraped.action === "scrape");
    assert.deepEqual(scraped.entries, [{ seeders: 1, completed: 0, leechers: 1 }]);

    // The id A issued to the seeder is valid at B (derived from the store's secret): the
    // seeder's `stopped` through B removes it from the swarm A and B share.
    const stopped = await ask(
      seeder,
      toB,
      announceRequest(idA, 5, 51413, "stopped", 0),
    );
    assert.ok(stopped.action === "announce", JSON.stringify(stopped));
    assert.deepEqual([stopped.seeders, stopped.leechers], [0, 1]);
    const again = await ask(leecher, toA, encodeBep15ScrapeRequest(idB, 6, [INFO_HASH]));
    assert.ok(again.action === "scrape", JSON.stringify(again));
    assert.deepEqual(again.entries, [{ seeders: 0, completed: 0, leechers: 1 }]);
  },
});
