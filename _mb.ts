import { Bep15Dispatch } from "./lib/tracker/bep15_dispatch.ts";
import { encodeBep15AnnounceRequest, encodeBep15ConnectRequest, decodeBep15Reply } from "./lib/wire/bep15.ts";
const d = new Bep15Dispatch({ now: 0, limits: { requestsPerSecond: 1e9, burst: 1e9 }, events: false });
const srcs = [0,1,2,3].map((i) => ({ hostname: "127.0.0.1", port: 40000 + i }));
const ids = srcs.map((s) => (decodeBep15Reply(d.handleDatagram(encodeBep15ConnectRequest(1), s, 0)!, 4) as any).connectionId);
const hashes = Array.from({ length: 1000 }, (_, i) => { const h = new Uint8Array(20); new DataView(h.buffer).setUint32(0, i * 2654435761); return h; });
const reqs = [];
for (let i = 0; i < 50000; i++) reqs.push(encodeBep15AnnounceRequest({ connectionId: ids[i & 3], txid: i, infoHash: hashes[i % 1000], port: 1024 + Math.floor(i / 1000) % 50, left: 1 << 30, numWant: 50 }));
const rounds = Number(Deno.args[0] ?? 5);
for (let r = 0; r < rounds; r++) {
  const t = performance.now();
  let bytes = 0;
  for (let i = 0; i < reqs.length; i++) bytes += d.handleDatagram(reqs[i], srcs[i & 3], t)!.byteLength;
  const el = performance.now() - t;
  if (r % 5 === 4) console.log(`${(el / reqs.length * 1000).toFixed(2)} µs/announce, avg reply ${(bytes / reqs.length).toFixed(0)} B`);
}
