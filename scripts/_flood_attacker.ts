/**
 * The attacker of scripts/bench_flood.ts, run as its own process: opens `--ports` UDP sockets on
 * `--host`, gets each one a real address cookie from the owner (PROBE → PROBE_ACK), then has
 * every socket ask for `--bytes` of the content every `--every` ms (valid-cookie BLOCK_REQUESTs:
 * issue 11, item 6) until it is killed. Received data is dropped unread by the kernel (no reader).
 * Prints `ready N` once N sockets hold a cookie, and `sent N` every second.
 * @module
 */
import { decodeMessage, encodeMessage } from "../lib/wire/codec.ts";
import { fromHex } from "../lib/wire/hex.ts";

const args = new Map<string, string>();
for (let i = 0; i < Deno.args.length; i += 2) args.set(Deno.args[i]!, Deno.args[i + 1]!);
const owner: Deno.NetAddr = {
  transport: "udp",
  hostname: "127.0.0.1",
  port: Number(args.get("--owner-port")),
};
const contentId = fromHex(args.get("--content")!)!;
const ports = Number(args.get("--ports") ?? 1000);
const bytes = Number(args.get("--bytes") ?? 4 * 1024 * 1024);
const every = Number(args.get("--every") ?? 100);
const size = Number(args.get("--size"));
const host = args.get("--host") ?? "127.0.0.2";

const sockets: { conn: Deno.DatagramConn; cookie: bigint }[] = [];
for (let i = 0; i < ports; i++) {
  const conn = Deno.listenDatagram({ transport: "udp", hostname: host, port: 0 });
  sockets.push({ conn, cookie: 0n });
}
// Cookies: one PROBE per socket, the ACK read back on that socket
await Promise.all(sockets.map(async (s) => {
  for (let attempt = 0; attempt < 5 && s.cookie === 0n; attempt++) {
    await s.conn.send(encodeMessage({ type: "probe", txid: 1, size: 20 }), owner);
    const timer = setTimeout(() => {}, 0);
    const got = await Promise.race([
      s.conn.receive(),
      new Promise<undefined>((r) => setTimeout(() => r(undefined), 500)),
    ]);
    clearTimeout(timer);
    if (!got) continue;
    try {
      const m = decodeMessage(got[0]);
      if (m.type === "probe_ack") s.cookie = m.cookie;
    } catch { /* ignore */ }
  }
}));
const ready = sockets.filter((s) => s.cookie !== 0n);
console.log(`ready ${ready.length}`);
let sent = 0;
let next = 0;
setInterval(() => console.log(`sent ${sent}`), 1000);
for (;;) {
  for (const s of ready) {
    const offset = Math.floor(Math.random() * Math.max(1, size - bytes));
    const req = encodeMessage({
      type: "block_request",
      txid: (Math.random() * 0xffffffff) >>> 0,
      cookie: s.cookie,
      contentId,
      blockSize: 32768,
      ranges: [{ offset, length: bytes }],
    });
    s.conn.send(req, owner).catch(() => {});
    sent++;
  }
  next += every;
  await new Promise((r) => setTimeout(r, every));
}
