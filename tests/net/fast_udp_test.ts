import assert from "node:assert/strict";
import { libcPath as findLibc } from "../../lib/net/socket_buffer.ts";
import { UdpEndpoint } from "../../lib/net/udp_endpoint.ts";
import { IPv4Source, SockaddrCache, SourceBook } from "../../lib/net/fast_udp.ts";

const libcPath = findLibc();

Deno.test("UdpEndpoint without an FFI grant: no fast path, sends go through Deno", async () => {
  const a = UdpEndpoint.open();
  const b = UdpEndpoint.open();
  try {
    assert.equal(a.useFastPath(), false);
    assert.equal(a.trySendNow(new Uint8Array(4), b.localAddr), false);
    const got = Promise.withResolvers<number>();
    b.onDatagram((bytes) => got.resolve(bytes.byteLength));
    a.send(new Uint8Array(7), b.localAddr);
    assert.equal(await got.promise, 7);
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test({
  name:
    "UdpEndpoint fast path (FFI access to libc only): bursts arrive whole, in order, with their source",
  ignore: Deno.build.os !== "linux" || libcPath === undefined,
  async fn() {
    const script = `
      import { UdpEndpoint } from ${
      JSON.stringify(import.meta.resolve("../../lib/net/udp_endpoint.ts"))
    };
      const a = UdpEndpoint.open();
      const b = UdpEndpoint.open();
      const fast = [a.useFastPath(), b.useFastPath()];
      const sizes = [];
      let wrongSource = 0, wrongBytes = 0;
      const all = Promise.withResolvers();
      const N = 300;
      b.onDatagram((bytes, from) => {
        if (from.port !== a.localAddr.port || from.hostname !== "127.0.0.1") wrongSource++;
        const i = sizes.length;
        if (bytes[0] !== (i & 0xff) || bytes[bytes.length - 1] !== (i & 0xff)) wrongBytes++;
        sizes.push(bytes.byteLength);
        if (sizes.length === N) all.resolve();
      });
      const v6 = a.trySendNow(new Uint8Array(4), { transport: "udp", hostname: "::1", port: 9 });
      // Bursts of 30 small datagrams per turn: at most ~100 KiB waiting, within the default buffer
      for (let i = 0; i < N; i++) {
        const d = new Uint8Array(100 + (i % 7) * 300).fill(i & 0xff);
        a.send(d, b.localAddr);
        if (i % 30 === 29) await new Promise((r) => setTimeout(r, 5));
      }
      const timer = setTimeout(() => all.resolve(), 5000);
      await all.promise;
      clearTimeout(timer);
      console.log(JSON.stringify({ fast, v6, count: sizes.length, wrongSource, wrongBytes,
        sizesOk: sizes.every((s, i) => s === 100 + (i % 7) * 300), sent: a.sent, received: b.received }));
      await a.close();
      await b.close();
    `;
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        "--no-prompt",
        "--unstable-net",
        `--allow-ffi=${libcPath}`,
        "--allow-net",
        script,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const r = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.deepEqual(r.fast, [true, true]);
    assert.equal(r.v6, false, "an IPv6 destination is left to Deno's send");
    assert.equal(r.count, 300);
    assert.equal(r.wrongSource, 0);
    assert.equal(r.wrongBytes, 0);
    assert.ok(r.sizesOk, "loopback keeps the order within a burst");
    assert.equal(r.sent, 300);
    assert.equal(r.received, 300);
  },
});

/** A sockaddr_in as the kernel writes it (family little-endian, port big-endian). */
function sockaddr(ip: [number, number, number, number], port: number): Uint8Array {
  const b = new Uint8Array(16);
  b[0] = 2;
  b[2] = port >> 8;
  b[3] = port & 0xff;
  b.set(ip, 4);
  return b;
}

Deno.test("IPv4Source hands back one object per source while senders alternate", {
  permissions: "none",
}, () => {
  const src = new IPv4Source();
  const a = sockaddr([10, 0, 0, 2], 6881), b = sockaddr([10, 0, 0, 3], 6881);
  const c = sockaddr([10, 0, 0, 2], 6882);
  const first = [src.read(a, 0), src.read(b, 0), src.read(c, 0)];
  assert.deepEqual(first.map((x) => `${x.hostname}:${x.port}`), [
    "10.0.0.2:6881",
    "10.0.0.3:6881",
    "10.0.0.2:6882",
  ]);
  for (let i = 0; i < 5; i++) {
    assert.equal(src.read(b, 0), first[1]);
    assert.equal(src.read(a, 0), first[0]);
    assert.equal(src.read(c, 0), first[2]);
  }
  // Many sources: it starts over rather than growing, and still reads each one right
  for (let p = 1; p <= 3000; p++) {
    const x = src.read(sockaddr([192, 0, 2, p & 0xff], p), 0);
    assert.equal(x.port, p);
    assert.equal(x.hostname, `192.0.2.${p & 0xff}`);
  }
});

Deno.test("SockaddrCache encodes each destination once and again when its object changed", {
  permissions: "none",
}, () => {
  const cache = new SockaddrCache();
  const to: Deno.NetAddr = { transport: "udp", hostname: "10.0.0.2", port: 6881 };
  const bytes = cache.get(to)!;
  assert.deepEqual(bytes, sockaddr([10, 0, 0, 2], 6881));
  assert.equal(cache.get(to), bytes, "the same buffer for the same object");
  const other = cache.get({ ...to, hostname: "10.0.0.3" })!;
  assert.deepEqual(other, sockaddr([10, 0, 0, 3], 6881));
  to.port = 7000; // an object changed since: encoded again
  assert.deepEqual(cache.get(to), sockaddr([10, 0, 0, 2], 7000));
  assert.equal(cache.get({ transport: "udp", hostname: "::1", port: 1 }), undefined);
  assert.equal(cache.get({ transport: "udp", hostname: "10.0.0.256", port: 1 }), undefined);
});

Deno.test("SourceBook hands back the first object seen for each source", {
  permissions: "none",
}, () => {
  const book = new SourceBook();
  const addr = (hostname: string, port: number): Deno.NetAddr => ({
    transport: "udp",
    hostname,
    port,
  });
  const a = book.get(addr("10.0.0.2", 6881));
  const b = book.get(addr("10.0.0.3", 6881));
  const c = book.get(addr("10.0.0.2", 6882));
  for (let i = 0; i < 3; i++) {
    assert.equal(book.get(addr("10.0.0.3", 6881)), b);
    assert.equal(book.get(addr("10.0.0.2", 6881)), a);
    assert.equal(book.get(addr("10.0.0.2", 6882)), c);
  }
  for (let p = 1; p <= 3000; p++) {
    const x = book.get(addr(`192.0.2.${p & 0xff}`, p));
    assert.deepEqual([x.hostname, x.port], [`192.0.2.${p & 0xff}`, p]);
  }
});
