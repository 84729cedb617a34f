/**
 * A minimal BEP 15 client for real-socket tests of the tracker.
 * @module
 */
import { type Bep15Reply, decodeBep15Reply } from "../../lib/wire/bep15.ts";
import { withTimeout } from "../_harness/wait.ts";

/**
 * A BEP 15 client on a real socket: one request, one reply (retried on loss, 5 tries a second
 * apart).
 *
 * @param conn the client's socket
 * @param to the tracker
 * @param request the request
 * @returns the decoded reply (IPv4 peers)
 */
export async function ask(
  conn: Deno.DatagramConn,
  to: Deno.NetAddr,
  request: Uint8Array,
): Promise<Bep15Reply> {
  for (let attempt = 0; attempt < 5; attempt++) {
    await conn.send(request, to);
    try {
      const [bytes] = await withTimeout(conn.receive(), 1000, "BEP 15 reply");
      return decodeBep15Reply(bytes, 4);
    } catch (e) {
      if (attempt === 4) throw e;
    }
  }
  throw new Error("unreachable");
}
