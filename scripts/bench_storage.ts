/**
 * Storage and upload-side benchmark: manifest hashing, the manifest cache, PartFile writes and
 * the uploader's per-block cost. Prints a table and writes bench-results/storage.json.
 *
 *     deno run -P=test scripts/bench_storage.ts [--mib 256]
 *
 * @module
 */
import { benchFlags } from "./_bench_flags.ts";
import { buildManifest } from "../lib/peer/manifest.ts";
import { ManifestCache } from "../lib/peer/manifest_cache.ts";
import { PartFile } from "../lib/peer/part_file.ts";
import { Uploader, type UploadSend } from "../lib/peer/uploader.ts";
import { UdpEndpoint } from "../lib/net/udp_endpoint.ts";

const values = benchFlags(
  "deno run -P=test scripts/bench_storage.ts [--mib 256]",
  { mib: { type: "string", default: "256" } },
);
const MiB = 1024 * 1024;
const size = Number(values.mib) * MiB;
const pieceSize = 256 * 1024;
const rows: { what: string; value: number; unit: string; note: string }[] = [];
const row = (what: string, value: number, unit: string, note = "") => {
  rows.push({ what, value: Math.round(value * 10) / 10, unit, note });
};

const dir = await Deno.makeTempDir({ prefix: "udpswarm-bench-" });
try {
  // A random file (64 KiB of randomness repeated with a counter, so it is not compressible).
  const path = `${dir}/src.bin`;
  {
    const f = await Deno.open(path, { write: true, create: true });
    const chunk = new Uint8Array(MiB);
    crypto.getRandomValues(chunk.subarray(0, 65536));
    for (let i = 0; i < size / MiB; i++) {
      new DataView(chunk.buffer).setUint32(70000, i);
      for (let k = 65536; k < MiB; k += 65536) chunk.copyWithin(k, 0, 65536);
      await f.write(chunk);
    }
    f.close();
  }

  // 1. buildManifest, three runs, best and median.
  const runs: number[] = [];
  let built = await buildManifest(path, { pieceSize });
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    built = await buildManifest(path, { pieceSize });
    runs.push(size / 1e6 / ((performance.now() - t) / 1000));
  }
  runs.sort((a, b) => a - b);
  row("buildManifest 256 KiB pieces", runs[1]!, "MB/s", `best ${runs[2]!.toFixed(0)}`);
  {
    const t = performance.now();
    await buildManifest(path, { pieceSize: 16 * 1024 });
    row("buildManifest 16 KiB pieces", size / 1e6 / ((performance.now() - t) / 1000), "MB/s");
  }

  // 2. The cache: a miss (hash + write) and a hit.
  {
    const cache = new ManifestCache(`${dir}/cache`);
    let t = performance.now();
    await cache.getOrBuild(path, pieceSize);
    row("ManifestCache miss", performance.now() - t, "ms");
    t = performance.now();
    const hit = await cache.getOrBuild(path, pieceSize);
    row("ManifestCache hit", performance.now() - t, "ms", hit.cached ? "cached" : "NOT cached");
  }

  // 3. PartFile: every piece written in order, then close (fdatasync + state).
  for (const flushIntervalMs of [0, 250, 500]) {
    const name = `out-${flushIntervalMs}.bin`;
    const part = await PartFile.open(dir, name, built.contentIdHex, built.manifest, {
      flushIntervalMs,
    });
    const src = await Deno.open(path, { read: true });
    const buf = new Uint8Array(pieceSize);
    const t = performance.now();
    let maxStall = 0;
    for (let i = 0; i * pieceSize < size; i++) {
      const n = await src.read(buf); // async read lets the flush timer run, as the network would
      const s = performance.now();
      part.writePiece(i, buf.subarray(0, n ?? 0));
      maxStall = Math.max(maxStall, performance.now() - s);
    }
    await part.close();
    const ms = performance.now() - t;
    src.close();
    row(
      `PartFile write+close, flush ${flushIntervalMs || "on close"}${flushIntervalMs ? " ms" : ""}`,
      size / 1e6 / (ms / 1000),
      "MB/s",
      `${part.stateWrites} state writes, slowest writePiece ${maxStall.toFixed(2)} ms`,
    );
    await Deno.remove(part.paths.part);
    await Deno.remove(part.paths.state);
  }

  // 4. Uploader, per block: 4 × 32 KiB blocks per request (a typical downloader window).
  const request = (txid: number, offset: number) => ({
    type: "block_request" as const,
    txid,
    contentId: built.contentId,
    blockSize: 32 * 1024,
    ranges: [{ offset, length: 128 * 1024 }],
  });
  const from: Deno.NetAddr = { transport: "udp", hostname: "127.0.0.1", port: 9 };
  const perBlock = async (send: UploadSend, label: string, note: string) => {
    const up = new Uploader({ send, sourceRate: Infinity });
    up.share({ path, manifest: built.manifest, encoded: built.encoded });
    const cookie = up.cookieFor(from, performance.now()); // from its PROBE_ACK
    const requests = Math.min(4000, size / (128 * 1024));
    let busy = 0;
    for (let i = 0; i < requests; i++) {
      const t = performance.now();
      up.handleRequest({ ...request(i, (i * 128 * 1024) % size), cookie }, from, t);
      busy += performance.now() - t;
      if ((i & 7) === 7) await new Promise((r) => setTimeout(r, 0)); // let sends settle
    }
    const blocks = up.stats.blocksSent;
    row(
      label,
      (busy * 1000) / blocks,
      "µs/block",
      `${note}; ${(blocks / (busy / 1000) / 1e3).toFixed(0)} k blocks/s, ${
        ((up.stats.bytesSent / 1e6) / (busy / 1000)).toFixed(0)
      } MB/s of handler time`,
    );
    up.close();
  };
  await perBlock(() => {}, "Uploader, no-op send", "readSync + header + accounting");
  {
    // A real socket; nobody reads the target, so the kernel copies and drops (no receiver CPU).
    const sink = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    const ep = UdpEndpoint.open();
    const to = sink.addr as Deno.NetAddr;
    await perBlock(
      (b) => ep.sendAndWait(b, to),
      "Uploader, loopback sendAndWait",
      "pooled buffers",
    );
    await ep.close();
    sink.close();
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}

console.log(`\nStorage and upload side, ${size / MiB} MiB file, Deno ${Deno.version.deno}\n`);
const w = Math.max(...rows.map((r) => r.what.length));
for (const r of rows) {
  console.log(`${r.what.padEnd(w)}  ${String(r.value).padStart(9)} ${r.unit.padEnd(9)} ${r.note}`);
}
await Deno.mkdir("bench-results", { recursive: true });
await Deno.writeTextFile(
  "bench-results/storage.json",
  JSON.stringify({ date: new Date().toISOString(), sizeBytes: size, rows }, null, 2) + "\n",
);
