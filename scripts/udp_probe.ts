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
type Datagram = [Uint8Array, Deno.Addr];

/** `recv`: count what arrives on `bind`. */
interface RecvOptions {
  bind: UdpAddr;
  /** Stop after this long without a datagram, once one arrived. */
  idleMs: number;
  /** Stop after this long in all. */
  maxS: number;
}

/** `send`: `count` datagrams of `size` bytes (0: unlimited) for at most `seconds`. */
interface SendOptions {
  to: Deno.NetAddr;
  size: number;
  count: number;
  seconds: number;
  /** Datagrams per second, 0 for as fast as possible. */
  pps: number;
}

/** `echo`: send every datagram back, for `maxS` seconds. */
interface EchoOptions {
  bind: UdpAddr;
  maxS: number;
}

/** `ping`: `count` round trips to an echo, each waiting `timeoutMs` at most. */
interface PingOptions {
  to: Deno.NetAddr;
  bind: UdpAddr | undefined;
  count: number;
  timeoutMs: number;
}

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

/** A socket bound to `bind` (or an ephemeral port near `to`), receiving with a deadline. */
class Socket {
  readonly conn: Deno.DatagramConn;
  readonly #buf = new Uint8Array(65536);
  #pending: Promise<Datagram> | undefined;

  constructor(bind: UdpAddr | undefined, to?: Deno.NetAddr) {
    const hostname = to?.hostname.includes(":") ? "::" : "0.0.0.0";
    this.conn = Deno.listenDatagram(bind ?? { transport: "udp", hostname, port: 0 });
  }

  /** Prints the `listening HOST:PORT` line a caller waits for. */
  announce(): void {
    const a = this.conn.addr as Deno.NetAddr;
    console.log(`listening ${a.hostname}:${a.port}`);
  }

  /** The next datagram, or null after `ms`; a receive that timed out stays armed. */
  async within(ms: number): Promise<Datagram | null> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<null>((r) => timer = setTimeout(() => r(null), Math.max(0, ms)));
    this.#pending ??= this.conn.receive(this.#buf);
    const got = await Promise.race([this.#pending, timeout]);
    clearTimeout(timer);
    if (got !== null) this.#pending = undefined;
    return got;
  }

  async close(): Promise<void> {
    this.conn.close();
    await this.#pending?.catch(() => {});
  }
}

async function recv({ bind, idleMs, maxS }: RecvOptions): Promise<object> {
  const socket = new Socket(bind);
  socket.announce();
  let received = 0, bytes = 0, first = 0, last = 0;
  let maxSeq = -1, outOfOrder = 0;
  const seen = new Set<number>();
  let duplicates = 0;
  const end = performance.now() + maxS * 1000;
  for (;;) {
    const wait = Math.max(1, Math.min(received > 0 ? idleMs : Infinity, end - performance.now()));
    const got = await socket.within(wait);
    if (got === null) break;
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
  await socket.close();
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

async function send({ to, size, count, seconds, pps }: SendOptions): Promise<object> {
  const socket = new Socket(undefined, to);
  const buf = new Uint8Array(size);
  const view = new DataView(buf.buffer);
  const start = performance.now();
  const end = start + seconds * 1000;
  let sent = 0, errors = 0;
  while ((count === 0 || sent < count) && performance.now() < end) {
    if (size >= 4) view.setUint32(0, sent);
    try {
      await socket.conn.send(buf, to);
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
  await socket.close();
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

async function echo({ bind, maxS }: EchoOptions): Promise<object> {
  const socket = new Socket(bind);
  socket.announce();
  let echoed = 0;
  const end = performance.now() + maxS * 1000;
  while (performance.now() < end) {
    const got = await socket.within(end - performance.now());
    if (got === null) break;
    const [data, from] = got;
    await socket.conn.send(data, from).catch(() => {});
    echoed++;
  }
  await socket.close();
  return { mode: "echo", echoed };
}

async function ping({ to, bind, count, timeoutMs }: PingOptions): Promise<object> {
  const socket = new Socket(bind, to);
  const out = new Uint8Array(64);
  const rtts: number[] = [];
  for (let seq = 0; seq < count; seq++) {
    new DataView(out.buffer).setUint32(0, seq);
    const t0 = performance.now();
    await socket.conn.send(out, to).catch(() => {});
    const deadline = t0 + timeoutMs;
    for (;;) {
      const got = await socket.within(deadline - performance.now());
      if (got === null) break; // lost; keep the pending receive for the next round
      const [data] = got;
      if (data.length >= 4 && new DataView(data.buffer, data.byteOffset).getUint32(0) === seq) {
        rtts.push(performance.now() - t0);
        break;
      }
    }
  }
  await socket.close();
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

/** Every flag takes a value. */
const FLAGS = [
  "bind",
  "to",
  "size",
  "count",
  "seconds",
  "pps",
  "idle-ms",
  "max-s",
  "timeout-ms",
] as const;

if (import.meta.main) {
  const { positionals, values } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: Object.fromEntries(FLAGS.map((f) => [f, { type: "string" }])) as Record<
      typeof FLAGS[number],
      { type: "string" }
    >,
  });
  const mode = positionals[0];
  const address = (flag: "bind" | "to") => {
    const v = values[flag];
    if (v === undefined) throw new TypeError(`Cannot run ${mode}: --${flag} is required`);
    return parseHostPort(v, `--${flag}`);
  };
  const flag = (name: typeof FLAGS[number], fallback: number) =>
    num(values[name], fallback, `--${name}`);
  let result: object;
  switch (mode) {
    case "recv":
      result = await recv({
        bind: address("bind"),
        idleMs: flag("idle-ms", 1000),
        maxS: flag("max-s", 30),
      });
      break;
    case "send":
      result = await send({
        to: address("to"),
        size: flag("size", 1400),
        count: flag("count", 0),
        seconds: flag("seconds", values.count ? 60 : 3),
        pps: flag("pps", 0),
      });
      break;
    case "echo":
      result = await echo({ bind: address("bind"), maxS: flag("max-s", 30) });
      break;
    case "ping":
      result = await ping({
        to: address("to"),
        bind: values.bind ? address("bind") : undefined,
        count: flag("count", 100),
        timeoutMs: flag("timeout-ms", 200),
      });
      break;
    default:
      console.error(
        "usage: udp_probe.ts recv|send|echo|ping [options] (see the header of this file)",
      );
      Deno.exit(2);
  }
  console.log(JSON.stringify(result));
}
