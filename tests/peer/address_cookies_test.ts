import assert from "node:assert/strict";
import { AddressCookies } from "../../lib/peer/core/address_cookies.ts";

/** Deterministic key material: each call gets the next byte value. */
function counter(): (n: number) => Uint8Array {
  let k = 0;
  return (n) => new Uint8Array(n).fill(++k);
}

Deno.test({
  name: "AddressCookies.check() accepts the issued cookie for its IP and port only",
  permissions: "none",
  fn() {
    const c = new AddressCookies({ randomBytes: counter() });
    const a = c.issue({ hostname: "192.0.2.1", port: 4000 }, 0);
    const b = c.issue({ hostname: "192.0.2.2", port: 4000 }, 0);
    const v6 = c.issue({ hostname: "2001:db8::1", port: 4000 }, 0);
    const mapped = c.issue({ hostname: "::ffff:192.0.2.1", port: 4000 }, 0);
    assert.equal(new Set([a, b, v6, mapped]).size, 4, "different IPs, different cookies");
    for (const x of [a, b, v6, mapped]) assert.notEqual(x, 0n);
    assert.equal(
      c.issue({ hostname: "192.0.2.1", port: 4000 }, 5),
      a,
      "same IP and epoch, same cookie",
    );
    assert.ok(c.check({ hostname: "192.0.2.1", port: 4000 }, a, 1));
    assert.ok(c.check({ hostname: "2001:db8::1", port: 4000 }, v6, 1));
    assert.ok(!c.check({ hostname: "192.0.2.1", port: 4000 }, b, 1), "another IP's cookie");
    assert.ok(!c.check({ hostname: "192.0.2.2", port: 4000 }, a, 1));
    assert.ok(!c.check({ hostname: "192.0.2.1", port: 4000 }, 0n, 1), "no cookie");
    assert.ok(!c.check({ hostname: "192.0.2.1", port: 4000 }, a ^ 1n, 1), "another epoch's parity");
    assert.ok(!c.check({ hostname: "192.0.2.1", port: 4000 }, a ^ 0x100n, 1), "one bit off");
    // The port is part of the proof: another port of the same IP (a spoofed source port, a
    // neighbour behind the same NAT) gets nothing with this cookie
    assert.ok(!c.check({ hostname: "192.0.2.1", port: 4001 }, a, 1), "another port");
    const other = c.issue({ hostname: "192.0.2.1", port: 4001 }, 1);
    assert.notEqual(other, a, "each port its own cookie");
    assert.ok(c.check({ hostname: "192.0.2.1", port: 4001 }, other, 1));
    assert.equal(c.issue({ hostname: "192.0.2.1", port: 70_000 }, 1), 0n, "no such port");
  },
});

Deno.test({
  name: "AddressCookies: a cookie lives its epoch and the next, then expires",
  permissions: "none",
  fn() {
    const c = new AddressCookies({ epochMs: 1000, now: 0, randomBytes: counter() });
    const first = c.issue({ hostname: "10.0.0.1", port: 4000 }, 999);
    assert.ok(c.check({ hostname: "10.0.0.1", port: 4000 }, first, 999));
    assert.ok(c.check({ hostname: "10.0.0.1", port: 4000 }, first, 1000), "previous epoch");
    const second = c.issue({ hostname: "10.0.0.1", port: 4000 }, 1000);
    assert.notEqual(second, first);
    assert.ok(c.check({ hostname: "10.0.0.1", port: 4000 }, first, 1999));
    assert.ok(!c.check({ hostname: "10.0.0.1", port: 4000 }, first, 2000), "two epochs on");
    assert.ok(c.check({ hostname: "10.0.0.1", port: 4000 }, second, 2000));
    // Learned by check() (not issued here) in the epoch after it was issued: still valid
    const c2 = new AddressCookies({ epochMs: 1000, now: 0, randomBytes: counter() });
    assert.ok(
      c2.check({ hostname: "10.0.0.1", port: 4000 }, first, 1500),
      "same keys: the same cookie is valid",
    );
    assert.equal(c2.hmacs, 2, "one to verify it, one for the current epoch's cookie");
    assert.ok(c2.check({ hostname: "10.0.0.1", port: 4000 }, second, 1500), "cached");
    assert.equal(c2.hmacs, 2);
    assert.ok(!c2.check({ hostname: "10.0.0.1", port: 4000 }, first, 2500));
    // A long idle time rotates both keys away
    assert.ok(!c.check({ hostname: "10.0.0.1", port: 4000 }, second, 60_000));
  },
});

Deno.test({
  name: "AddressCookies.check() costs no HMAC once an IP's cookies are cached",
  permissions: "none",
  fn() {
    const c = new AddressCookies({ epochMs: 1000, now: 0 });
    const cookie = c.issue({ hostname: "127.0.0.1", port: 4000 }, 0);
    const before = c.hmacs;
    for (let i = 0; i < 10_000; i++) {
      assert.ok(c.check({ hostname: "127.0.0.1", port: 4000 }, cookie, i / 100));
    }
    assert.equal(c.hmacs, before, "cached: comparisons only");
    // After a rotation, the first request costs one HMAC (the new current cookie); the old
    // cookie moves to the "previous" slot without another
    assert.ok(c.check({ hostname: "127.0.0.1", port: 4000 }, cookie, 1500));
    assert.equal(c.hmacs, before + 1);
    for (let i = 0; i < 100; i++) {
      assert.ok(c.check({ hostname: "127.0.0.1", port: 4000 }, cookie, 1600));
    }
    assert.equal(c.hmacs, before + 1);
  },
});

Deno.test({
  name: "AddressCookies: forged cookies from unknown IPs cost one HMAC each and fill no cache",
  permissions: "none",
  fn() {
    const c = new AddressCookies({ maxCached: 4 });
    for (let i = 0; i < 100; i++) {
      assert.ok(!c.check({ hostname: `198.51.100.${i}`, port: 4000 }, 0xdeadbeefn + BigInt(i), 0));
    }
    assert.equal(c.cached, 0);
    assert.equal(c.hmacs, 100);
    // A valid cookie learned from another instance's issue: cached after one check
    const valid = c.issue({ hostname: "203.0.113.9", port: 4000 }, 0);
    assert.equal(c.cached, 1);
    // The cache is bounded: the oldest IP goes, and comes back with HMACs, still valid
    for (let i = 0; i < 10; i++) c.issue({ hostname: `192.0.2.${i}`, port: 4000 }, 0);
    assert.equal(c.cached, 4);
    assert.ok(c.check({ hostname: "203.0.113.9", port: 4000 }, valid, 0));
  },
});

Deno.test({
  name: "AddressCookies: a host that is not an IP literal gets 0n and never passes",
  permissions: "none",
  fn() {
    const c = new AddressCookies();
    assert.equal(c.issue({ hostname: "localhost", port: 4000 }, 0), 0n);
    assert.ok(!c.check({ hostname: "localhost", port: 4000 }, 1n, 0));
    assert.throws(() => new AddressCookies({ epochMs: 0 }), RangeError);
    assert.throws(() => new AddressCookies({ maxCached: 0 }), RangeError);
  },
});
