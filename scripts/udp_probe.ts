/**
 * A tiny UDP probe for checking test networks (loopback or scripts/netns.sh hosts): measures
 * throughput, loss and round trips. Every mode stops by itself. Prints one `listening` line when
 * bound, then one JSON line with the result.
 *
 *   deno run --allow-net scripts/udp_probe.ts recv --bind 10.77.0.2:9000 [--idle-ms 1000] [--max-s 30]
 *   deno run --allow-net scripts/udp_probe.ts send --to 10.77.0.2:9000 [--size 1400] [--count N]
 *       [--seconds 3] [--pps 0]
 *   deno run --allow-net scripts/udp_probe.ts echo --bind 10.77.0.2:9000 [--max-s 30]
 *   deno run --allow-net scripts/udp_probe.ts ping --to 10.77.0.2:9000 [--count 100]
 *       [--timeout-ms 200] [--bind 10.77.0.1:0]
 *
 * `recv` stops after --idle-ms without datagrams (once one arrived) or --max-s in all; `echo`
 * after --max-s. `send` sends --count datagrams or for --seconds, paced at --pps when given.
 * @module
 */
import { parseArgs } from "node:util";

type UdpAddr = Deno.NetAddr & { transport: "udp" };

function parseHostPort(text: string, flag: string): UdpAddr {
  const m = text.match(/^\[?([^\]]+?)\]?:(\d+)$/);
  if (!m) throw new TypeError(`Cannot parse ${flag}: "${text}", expected host:port`);
  return { transport: "udp", hostname: m[1]!, port: Number(m[2]) };
}

function num(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new RangeError(`Cannot parse ${flag}: "${value}"`);
  return n;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function recv(bind: UdpAddr, idleMs: number, maxS: number): Promise<object> {
  const conn = Deno.listenDatagram(bind);
  console.log(
    `listening ${(conn.addr as Deno.NetAddr).hostname}:${(conn.addr as Deno.NetAddr).port}`,
  );
  const buf = new Uint8Array(65536);
  let received = 0, bytes = 0, first = 0, last = 0;
  let maxSeq = -1, outOfOrder = 0;
  const seen = new Set<number>();
  let duplicates = 0;
  const end = performance.now() + maxS * 1000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let pending: Promise<[Uint8Array, Deno.Addr]> | undefined;
  for (;;) {
    const wait = Math.max(1, Math.min(received > 0 ? idleMs : Infinity, end - performance.now()));
    const timeout = new Promise<null>((r) => timer = setTimeout(() => r(null), wait));
    pending ??= conn.receive(buf);
    const got = await Promise.race([pending, timeout]);
    clearTimeout(timer);
    if (got === null) break;
    pending = undefined;
    const [data] = got;
    const now = performance.now();
    if (received === 0) first = now;
    last = now;
    received++;
    bytes += data.length;
    if (data.length >= 4) {
      const seq = new DataView(data.buffer, data.byteOffset).getUint32(0);
      if (seen.has(seq)) duplicates++;
      else seen.add(seq);
      if (seq < maxSeq) outOfOrder++;
      maxSeq = Math.max(maxSeq, seq);
    }
    if (now >= end) break;
  }
  conn.close();
  await pending?.catch(() => {});
  const seconds = (last - first) / 1000;
  return {
    mode: "recv",
    received,
    bytes,
    distinct: seen.size,
    duplicates,
    outOfOrder,
    highestSeq: maxSeq,
    seconds: Number(seconds.toFixed(3)),
    mbit: seconds > 0 ? Number((bytes * 8 / seconds / 1e6).toFixed(2)) : 0,
  };
}

async function send(
  to: Deno.NetAddr,
  size: number,
  count: number,
  seconds: number,
  pps: number,
): Promise<object> {
  const hostname = to.hostname.includes(":") ? "::" : "0.0.0.0";
  const conn = Deno.listenDatagram({ transport: "udp", hostname, port: 0 });
  const buf = new Uint8Array(size);
  const view = new DataView(buf.buffer);
  const start = performance.now();
  const end = start + seconds * 1000;
  let sent = 0, errors = 0;
  while ((count === 0 || sent < count) && performance.now() < end) {
    if (size >= 4) view.setUint32(0, sent);
    try {
      await conn.send(buf, to);
    } catch {
      errors++;
    }
    sent++;
    if (pps > 0) {
      const due = start + (sent * 1000) / pps;
      const ahead = due - performance.now();
      if (ahead >= 1) await sleep(ahead);
    }
  }
  conn.close();
  const elapsed = (performance.now() - start) / 1000;
  return {
    mode: "send",
    sent,
    errors,
    bytes: sent * size,
    seconds: Number(elapsed.toFixed(3)),
    mbit: Number((sent * size * 8 / elapsed / 1e6).toFixed(2)),
  };
}

async function echo(bind: UdpAddr, maxS: number): Promise<object> {
  const conn = Deno.listenDatagram(bind);
  console.log(
    `listening ${(conn.addr as Deno.NetAddr).hostname}:${(conn.addr as Deno.NetAddr).port}`,
  );
  const buf = new Uint8Array(65536);
  let echoed = 0;
  const end = performance.now() + maxS * 1000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let pending: Promise<[Uint8Array, Deno.Addr]> | undefined;
  while (performance.now() < end) {
    const timeout = new Promise<null>((r) =>
      timer = setTimeout(() => r(null), end - performance.now())
    );
    pending ??= conn.receive(buf);
    const got = await Promise.race([pending, timeout]);
    clearTimeout(timer);
    if (got === null) break;
    pending = undefined;
    const [data, from] = got;
    await conn.send(data, from).catch(() => {});
    echoed++;
  }
  conn.close();
  await pending?.catch(() => {});
  return { mode: "echo", echoed };
}

async function ping(
  to: Deno.NetAddr,
  bind: UdpAddr | undefined,
  count: number,
  timeoutMs: number,
): Promise<object> {
  const hostname = to.hostname.includes(":") ? "::" : "0.0.0.0";
  const conn = Deno.listenDatagram(bind ?? { transport: "udp", hostname, port: 0 });
  const out = new Uint8Array(64);
  const buf = new Uint8Array(65536);
  const rtts: number[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let pending: Promise<[Uint8Array, Deno.Addr]> | undefined;
  for (let seq = 0; seq < count; seq++) {
    new DataView(out.buffer).setUint32(0, seq);
    const t0 = performance.now();
    await conn.send(out, to).catch(() => {});
    const deadline = t0 + timeoutMs;
    for (;;) {
      pending ??= conn.receive(buf);
      const timeout = new Promise<null>((r) =>
        timer = setTimeout(() => r(null), Math.max(0, deadline - performance.now()))
      );
      const got = await Promise.race([pending, timeout]);
      clearTimeout(timer);
      if (got === null) break; // lost; keep the pending receive for the next round
      pending = undefined;
      const [data] = got;
      if (data.length >= 4 && new DataView(data.buffer, data.byteOffset).getUint32(0) === seq) {
        rtts.push(performance.now() - t0);
        break;
      }
    }
  }
  conn.close();
  await pending?.catch(() => {});
  rtts.sort((a, b) => a - b);
  const q = (p: number) =>
    rtts.length ? Number(rtts[Math.floor(p * (rtts.length - 1))]!.toFixed(3)) : null;
  return {
    mode: "ping",
    sent: count,
    replies: rtts.length,
    lost: count - rtts.length,
    p50Ms: q(0.5),
    p99Ms: q(0.99),
  };
}

if (import.meta.main) {
  const { positionals, values } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      bind: { type: "string" },
      to: { type: "string" },
      size: { type: "string" },
      count: { type: "string" },
      seconds: { type: "string" },
      pps: { type: "string" },
      "idle-ms": { type: "string" },
      "max-s": { type: "string" },
      "timeout-ms": { type: "string" },
    },
  });
  const mode = positionals[0];
  const need = (v: string | undefined, flag: string) => {
    if (v === undefined) throw new TypeError(`Cannot run ${mode}: ${flag} is required`);
    return v;
  };
  let result: object;
  switch (mode) {
    case "recv":
      result = await recv(
        parseHostPort(need(values.bind, "--bind"), "--bind"),
        num(values["idle-ms"], 1000, "--idle-ms"),
        num(values["max-s"], 30, "--max-s"),
      );
      break;
    case "send":
      result = await send(
        parseHostPort(need(values.to, "--to"), "--to"),
        num(values.size, 1400, "--size"),
        num(values.count, 0, "--count"),
        num(values.seconds, values.count ? 60 : 3, "--seconds"),
        num(values.pps, 0, "--pps"),
      );
      break;
    case "echo":
      result = await echo(
        parseHostPort(need(values.bind, "--bind"), "--bind"),
        num(values["max-s"], 30, "--max-s"),
      );
      break;
    case "ping":
      result = await ping(
        parseHostPort(need(values.to, "--to"), "--to"),
        values.bind ? parseHostPort(values.bind, "--bind") : undefined,
        num(values.count, 100, "--count"),
        num(values["timeout-ms"], 200, "--timeout-ms"),
      );
      break;
    default:
      console.error(
        "usage: udp_probe.ts recv|send|echo|ping [options] (see the header of this file)",
      );
      Deno.exit(2);
  }
  console.log(JSON.stringify(result));
}
