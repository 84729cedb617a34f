import assert from "node:assert/strict";
import {
  libcPath as findLibc,
  raiseReceiveBuffer,
  receiveBufferNote,
} from "../../lib/net/socket_buffer.ts";

const libcPath = findLibc();

Deno.test("raiseReceiveBuffer() leaves the socket alone without an FFI grant", async () => {
  const conn = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    assert.equal(raiseReceiveBuffer(conn.addr as Deno.NetAddr, 1 << 20), undefined);
  } finally {
    conn.close();
  }
  assert.match(receiveBufferNote(undefined, undefined), /kernel default .*--allow-ffi=/);
  assert.match(receiveBufferNote(undefined, 0), /receiveBuffer 0/);
  await Promise.resolve();
});

Deno.test({
  name: "raiseReceiveBuffer() with FFI access to libc only: the socket's SO_RCVBUF grows",
  ignore: Deno.build.os !== "linux" || libcPath === undefined,
  async fn() {
    // A child process with the narrow grant: the socket is found by its port, the buffer read back
    const script = `
      import { raiseReceiveBuffer, udpSocketFd } from ${
      JSON.stringify(import.meta.resolve("../../lib/net/socket_buffer.ts"))
    };
      const other = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
      const conn = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
      const got = raiseReceiveBuffer(conn.addr, 1 << 20);
      const missing = raiseReceiveBuffer({ transport: "udp", hostname: "127.0.0.1", port: 1 }, 1 << 20);
      // The same port on another loopback address is another socket
      const twin = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.2", port: conn.addr.port });
      const fds = [udpSocketFd(conn.addr), udpSocketFd(twin.addr)];
      console.log(JSON.stringify({ got, missing: missing ?? null, fds }));
      other.close();
      conn.close();
      twin.close();
    `;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--no-prompt", `--allow-ffi=${libcPath}`, "--allow-net=127.0.0.1", script],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.ok(out.success, stderr);
    const { got, missing, fds } = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.ok(fds[0] > 2 && fds[1] > 2 && fds[0] !== fds[1], `descriptors ${fds}`);
    // The kernel doubles what is asked, capped by net.core.rmem_max (at least the 208 KiB
    // default): more than the default buffer either way
    assert.ok(got >= 2 * 212_992 && got <= 2 * (1 << 20), `SO_RCVBUF ${got}`);
    assert.equal(missing, null);
  },
});
