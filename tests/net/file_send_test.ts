import assert from "node:assert/strict";
import { UdpEndpoint } from "../../lib/net/udp_endpoint.ts";
import { Prng } from "../../lib/sim/prng.ts";
import { inFfiChild, libcPath } from "./_ffi_child.ts";
import { withTempDir } from "../_harness/temp_dir.ts";

Deno.test("UdpEndpoint without an FFI grant: no zero-copy file sends", async () => {
  const a = UdpEndpoint.open();
  const b = UdpEndpoint.open();
  try {
    assert.equal(a.useFastPath(), false);
    assert.equal(a.fileSend, false);
    assert.equal(a.canSendFile(0, { dev: 0, ino: 0 }), false);
    assert.equal(a.trySendFile(new Uint8Array(16), 0, 0, 100, b.localAddr), false);
    assert.equal(a.sent, 0);
  } finally {
    await a.close();
    await b.close();
  }
});

/** Size of the file the tests send from. */
const FILE_SIZE = 100_000;

/**
 * Runs `fn` with a temporary file of {@link FILE_SIZE} random bytes (from `seed`) and the start
 * of a child script that reads it into `data` and opens two endpoints `a` and `b` and the file
 * as `fd`; removes the file after.
 */
async function withFile(
  seed: number,
  fn: (dir: string, preamble: string) => Promise<void>,
): Promise<void> {
  await withTempDir("udpswarm-sendfile-", async (dir) => {
    const data = new Uint8Array(FILE_SIZE);
    new Prng(seed).fill(data);
    const path = `${dir}/f.bin`;
    await Deno.writeFile(path, data);
    await fn(
      dir,
      `
        import { closeSync, fstatSync, openSync } from "node:fs";
        const data = await Deno.readFile(${JSON.stringify(path)});
        const a = UdpEndpoint.open();
        const b = UdpEndpoint.open();
        const fast = a.useFastPath();
        const fd = openSync(${JSON.stringify(path)}, "r");
        const st = fstatSync(fd);`,
    );
  });
}

Deno.test({
  name:
    "UdpEndpoint.trySendFile: header + file bytes in one datagram; a failed send sends nothing and leaves nothing corked",
  ignore: Deno.build.os !== "linux" || libcPath === undefined,
  fn: () =>
    withFile(9, async (dir, preamble) => {
      const size = FILE_SIZE;
      const r = await inFfiChild(
        `${preamble}
        const can = a.canSendFile(fd, { dev: st.dev, ino: st.ino });
        const wrongFile = a.canSendFile(fd, { dev: st.dev, ino: st.ino + 1 });
        const got = [];
        const done = Promise.withResolvers();
        b.onDatagram((bytes, from) => {
          got.push({ bytes: bytes.slice(), port: from.port });
          if (got.length === 4) done.resolve();
        });
        const header = (k) => new Uint8Array(16).fill(k);
        const to = b.localAddr;
        const results = [
          a.trySendFile(header(1), fd, 0, 32768, to),
          // a descriptor sendfile refuses, after the header was corked: nothing goes out
          a.trySendFile(header(2), 1_000_000, 0, 32768, to),
        ];
        a.send(new Uint8Array([9, 9, 9]), to); // must go alone, not appended to header 2
        results.push(a.trySendFile(header(3), fd, 65536, 20000, to));
        results.push(a.trySendFile(header(4), fd, ${size} - 16384, 16384, to));
        await timeout(done.promise);
        await new Promise((r) => setTimeout(r, 100)); // anything more would arrive by now
        const expect = [
          [1, 0, 32768], [9, -1, 3], [3, 65536, 20000], [4, ${size} - 16384, 16384],
        ];
        const wrong = [];
        got.forEach((g, i) => {
          const [k, off, len] = expect[i] ?? [0, 0, 0];
          const want = off < 0
            ? new Uint8Array([9, 9, 9])
            : new Uint8Array([...header(k), ...data.subarray(off, off + len)]);
          if (g.port !== a.localAddr.port || g.bytes.length !== want.length ||
            g.bytes.some((v, j) => v !== want[j])) wrong.push(i);
        });
        const fileSize = a.fileSize(fd);
        closeSync(fd);
        const sent = a.sent;
        await a.close();
        await b.close();
        console.log(JSON.stringify({ fast, can, wrongFile, results, count: got.length, wrong, sent, fileSize, shapes: got.map((g) => [g.bytes[0], g.bytes.length]) }));
      `,
        [`--allow-read=${dir}`],
      );
      assert.equal(r.fast, true);
      assert.equal(r.can, true);
      assert.equal(r.wrongFile, false, "a descriptor of another file is refused");
      assert.deepEqual(r.results, [true, false, true, true]);
      assert.equal(r.count, 4, `nothing partial left the host: ${JSON.stringify(r)}`);
      assert.deepEqual(r.wrong, []);
      assert.equal(r.sent, 4);
      assert.equal(r.fileSize, size);
    }),
});

/** Runs the child in a network namespace of its own whose loopback has a 1500-byte MTU. */
const MTU_1500 = [
  "unshare",
  "-n",
  "sh",
  "-c",
  'ip link set lo mtu 1500 up && exec "$0" "$@"',
];

/** Why a namespace cannot be made here (not root, no unshare or ip), or undefined. */
async function noNamespace(): Promise<string | undefined> {
  try {
    const r = await new Deno.Command(MTU_1500[0]!, {
      args: [...MTU_1500.slice(1), "true"],
      stdout: "null",
      stderr: "piped",
    }).output();
    return r.success ? undefined : new TextDecoder().decode(r.stderr).trim();
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

const noNs = Deno.build.os === "linux" && libcPath !== undefined ? await noNamespace() : "linux";
if (noNs) console.log(`file_send_test: the MTU test is skipped: ${noNs}`);

Deno.test({
  name:
    "UdpEndpoint.trySendFile over a 1500-byte MTU: a datagram the route refuses is tried once, then only smaller ones",
  ignore: noNs !== undefined,
  fn: () =>
    withFile(11, async (dir, preamble) => {
      const r = await inFfiChild(
        `${preamble}
        const can = a.canSendFile(fd, { dev: st.dev, ino: st.ino });
        const got = [];
        const done = Promise.withResolvers();
        b.onDatagram((bytes) => {
          got.push(bytes.slice());
          if (got.length === 3) done.resolve();
        });
        const header = (k) => new Uint8Array(16).fill(k);
        const to = b.localAddr;
        const before = [a.fileSendFits(8952), a.fileSendFits(1400)];
        const results = [a.trySendFile(header(1), fd, 0, 8936, to)];
        const after = [a.fileSendFits(8952), a.fileSendFits(8951), a.fileSendFits(1400)];
        // the ordinary way: a copy the kernel fragments
        a.send(new Uint8Array([...header(1), ...data.subarray(0, 8936)]), to);
        results.push(a.trySendFile(header(2), fd, 8936, 8936, to)); // not tried again
        results.push(a.trySendFile(header(3), fd, 1000, 1400, to));
        a.send(new Uint8Array([7]), to);
        await timeout(done.promise);
        await new Promise((r) => setTimeout(r, 100));
        closeSync(fd);
        const on = a.fileSend;
        await a.close();
        await b.close();
        const same = (g, k, off, len) => g !== undefined && g.length === 16 + len &&
          g.subarray(0, 16).every((v) => v === k) &&
          g.subarray(16).every((v, j) => v === data[off + j]);
        console.log(JSON.stringify({
          can, before, results, after, on, count: got.length,
          ok: [same(got[0], 1, 0, 8936), same(got[1], 3, 1000, 1400), got[2]?.length === 1],
        }));
      `,
        [`--allow-read=${dir}`],
        { under: MTU_1500 },
      );
      assert.equal(r.can, true);
      assert.deepEqual(r.before, [true, true]);
      assert.deepEqual(r.results, [false, false, true]);
      assert.deepEqual(r.after, [false, true, true]);
      assert.equal(r.on, true, "a refusal for size does not turn file sends off");
      assert.equal(r.count, 3, `nothing else left the host: ${JSON.stringify(r)}`);
      assert.deepEqual(r.ok, [true, true, true]);
    }),
});
