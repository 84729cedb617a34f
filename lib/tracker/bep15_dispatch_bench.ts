/**
 * The BEP 15 tracker's own work per announce (`deno bench lib/tracker/bep15_dispatch_bench.ts`),
 * without any I/O: {@link Bep15Dispatch.handleDatagram} on the traffic of the shared load generator
 * (`../shared/tools/bep15_loadgen.py`: 4 sources, 1,000 info hashes, 50 ports per swarm, 50 peers
 * wanted), so 50,000 peers once warm. docs/TRACKER.md, "BEP 15 performance", compares it with the
 * per-datagram I/O cost.
 * @module
 */
import { Bep15Dispatch } from "./bep15_dispatch.ts";
import {
  decodeBep15Reply,
  encodeBep15AnnounceRequest,
  encodeBep15ConnectRequest,
} from "../wire/bep15.ts";

const dispatch = new Bep15Dispatch({
  now: 0,
  limits: { requestsPerSecond: 1e9, burst: 1e9 },
  events: false,
});
const sources = [0, 1, 2, 3].map((i) => ({ hostname: "127.0.0.1", port: 40000 + i }));
const ids = sources.map((s) => {
  const r = decodeBep15Reply(
    dispatch.handleDatagram(encodeBep15ConnectRequest(1), s, 0) as Uint8Array,
    4,
  );
  if (r.action !== "connect") throw new Error(`connect got ${r.action}`);
  return r.connectionId;
});
const hashes = Array.from({ length: 1000 }, (_, i) => {
  const h = new Uint8Array(20);
  new DataView(h.buffer).setUint32(0, Math.imul(i, 2654435761) >>> 0);
  return h;
});
const requests = Array.from({ length: 50_000 }, (_, i) =>
  encodeBep15AnnounceRequest({
    connectionId: ids[i & 3]!,
    txid: i,
    infoHash: hashes[i % 1000]!,
    port: 1024 + Math.floor(i / 1000) % 50,
    left: 2 ** 30,
    numWant: 50,
  }));
// Warm: every peer stored, so each announce below refreshes one and returns 49.
for (let i = 0; i < requests.length; i++) dispatch.handleDatagram(requests[i]!, sources[i & 3]!, 1);

let next = 0;
let sink = 0;
Deno.bench("Bep15Dispatch announce, 50,000 peers in 1,000 swarms, 50 wanted", () => {
  const i = next++ % requests.length;
  sink =
    (sink + (dispatch.handleDatagram(requests[i]!, sources[i & 3]!, 2) as Uint8Array).byteLength) |
    0;
});
globalThis.addEventListener("unload", () => {
  if (sink === 42) console.log(sink);
});
