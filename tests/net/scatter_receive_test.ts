/**
 * `UdpEndpoint.onScatter` (scatter_receive.ts): with the libc grant the drain reads a datagram's
 * bytes after its head straight into the slot the caller names; datagrams that do not fit, and
 * those the caller declines, reach the ordinary handler whole; nothing outside the slot is written.
 */
import assert from "node:assert/strict";
import { UdpEndpoint } from "../../lib/net/udp_endpoint.ts";
import { inFfiChild, libcPath } from "./_ffi_child.ts";

Deno.test("UdpEndpoint.onScatter without an FFI grant: declined, datagrams as before", async () => {
  const a = UdpEndpoint.open();
  const b = UdpEndpoint.open();
  try {
    b.useFastPath();
    const scattered = b.onScatter({
      head: 4,
      slot: () => new Uint8Array(8192),
      deliver: () => true,
    });
    assert.equal(scattered, false);
    const got = Promise.withResolvers<number>();
    b.onDatagram((bytes) => got.resolve(bytes.byteLength));
    a.send(new Uint8Array(100), b.localAddr);
    assert.equal(await got.promise, 100);
    assert.equal(b.scattered, 0);
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test({
  name:
    "UdpEndpoint.onScatter (FFI access to libc only): payloads land in the slot; longer, shorter-than-head and declined datagrams reach the handler whole",
  ignore: Deno.build.os !== "linux" || libcPath === undefined,
  async fn() {
    const r = await inFfiChild(`
      const a = UdpEndpoint.open();
      const b = UdpEndpoint.open();
      const fast = [a.useFastPath(), b.useFastPath()];
      // The slot: 1000 bytes at 8192 of a 64 KiB buffer whose other bytes must stay 0x55
      const pieces = new Uint8Array(65536).fill(0x55);
      const SLOT_AT = 8192, SLOT = 1000, HEAD = 16;
      const delivered = [], handled = [];
      const all = Promise.withResolvers();
      const N = 6;
      const check = () => { if (delivered.length + handled.length === N) all.resolve(); };
      const on = b.onScatter({
        head: HEAD,
        slot: () => pieces.subarray(SLOT_AT, SLOT_AT + SLOT),
        deliver: (head, body, from) => {
          if (head[0] === 0xee) return false; // declined: goes to the handler whole
          delivered.push({
            id: head[1], headLen: head.byteLength, len: body.byteLength,
            inPlace: body.buffer === pieces.buffer && body.byteOffset === SLOT_AT,
            ok: body.every((v, i) => v === ((head[1] + i) & 0xff)),
            port: from.port === a.localAddr.port,
          });
          check();
          return true;
        },
      });
      b.onDatagram((bytes) => {
        handled.push({
          id: bytes[1], len: bytes.byteLength,
          ok: bytes.subarray(HEAD).every((v, i) => v === ((bytes[1] + i) & 0xff)),
        });
        check();
      });
      const datagram = (id, payload, mark = 0) => {
        const d = new Uint8Array(Math.max(2, HEAD + payload));
        d[0] = mark; d[1] = id;
        for (let i = HEAD; i < d.length; i++) d[i] = (id + i - HEAD) & 0xff;
        return d;
      };
      // One burst, sent in one turn: Deno's receive reads the first, the drain the others
      const sends = [
        datagram(1, 5000),         // Deno's receive: the handler (large: the drain is recvfrom's)
        datagram(2, SLOT),         // fits exactly: delivered in place
        datagram(3, 300),          // shorter: delivered in place
        datagram(4, SLOT + 2000),  // longer than the slot: the handler, contiguous
        datagram(5, SLOT, 0xee),   // declined: the handler, contiguous
        datagram(6, -6),           // 10 bytes, inside the head: the handler
      ];
      for (const d of sends) a.send(d, b.localAddr);
      await timeout(all.promise);
      const outside = pieces.subarray(0, SLOT_AT).every((v) => v === 0x55) &&
        pieces.subarray(SLOT_AT + SLOT).every((v) => v === 0x55);
      console.log(JSON.stringify({ fast, on, delivered, handled, outside, scattered: b.scattered }));
      await a.close();
      await b.close();
    `);
    assert.deepEqual(r.fast, [true, true]);
    assert.equal(r.on, true);
    const delivered = r.delivered as { id: number; len: number; inPlace: boolean }[];
    const handled = r.handled as { id: number; len: number; ok: boolean }[];
    assert.deepEqual(
      delivered,
      [
        { id: 2, headLen: 16, len: 1000, inPlace: true, ok: true, port: true },
        { id: 3, headLen: 16, len: 300, inPlace: true, ok: true, port: true },
      ],
    );
    assert.deepEqual(handled, [
      { id: 1, len: 5016, ok: true },
      { id: 4, len: 3016, ok: true },
      { id: 5, len: 1016, ok: true },
      { id: 6, len: 10, ok: true },
    ]);
    assert.equal(r.outside, true, "nothing outside the slot was written");
    assert.equal(r.scattered, 2);
  },
});
