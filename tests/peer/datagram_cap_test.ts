import assert from "node:assert/strict";
import {
  defaultDatagramCap,
  isLoopback,
  REMOTE_MAX_DATAGRAM,
} from "../../lib/peer/core/datagram_cap.ts";

Deno.test({
  name: "isLoopback knows 127.0.0.0/8, ::1 and IPv4-mapped loopback, and nothing else",
  permissions: "none",
  fn() {
    for (const h of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "::ffff:127.0.0.1", "localhost"]) {
      assert.ok(isLoopback(h), h);
    }
    for (
      const h of ["10.0.0.1", "192.0.2.7", "128.0.0.1", "::2", "::ffff:10.0.0.1", "1127.0.0.1"]
    ) {
      assert.ok(!isLoopback(h), h);
    }
  },
});

Deno.test({
  name: "defaultDatagramCap: no cap when every owner is on loopback, 8,952 bytes otherwise",
  permissions: "none",
  fn() {
    assert.equal(REMOTE_MAX_DATAGRAM, 8952);
    assert.equal(defaultDatagramCap([]), undefined);
    assert.equal(defaultDatagramCap(["127.0.0.1", "::1"]), undefined);
    assert.equal(defaultDatagramCap(["127.0.0.1", "10.0.0.2"]), 8952);
  },
});
