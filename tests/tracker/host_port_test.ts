import assert from "node:assert/strict";
import { formatHostPort, parseHostPort } from "../../lib/net/host_port.ts";

const none = { permissions: "none" } as const;

Deno.test("parseHostPort() parses IPv4, host names and bracketed IPv6", none, () => {
  assert.deepEqual(parseHostPort("127.0.0.1:6969"), {
    host: "127.0.0.1",
    hostname: "127.0.0.1",
    port: 6969,
    family: 4,
  });
  assert.deepEqual(parseHostPort("[::1]:1"), { host: "::1", hostname: "::1", port: 1, family: 6 });
  assert.deepEqual(parseHostPort("[2001:db8::7]:65535").port, 65535);
  assert.deepEqual(parseHostPort("tracker.example.org:80"), {
    host: "tracker.example.org",
    hostname: "tracker.example.org",
    port: 80,
    family: undefined,
  });
  assert.equal(parseHostPort("localhost:6969").hostname, "localhost");
  assert.equal(parseHostPort("0.0.0.0:0", { allowPortZero: true }).port, 0);
});

Deno.test("parseHostPort() throws a clear TypeError on bad input", none, () => {
  for (
    const [text, re] of [
      ["", /is empty/],
      ["127.0.0.1", /port is missing/],
      ["127.0.0.1:", /port "" is not a number/],
      ["127.0.0.1:99999", /port 99999 is outside 1\.\.65535/],
      ["127.0.0.1:0", /port 0 is outside 1\.\.65535/],
      ["127.0.0.1:-1", /is not a number/],
      ["::1:6969", /IPv6 address must be in brackets/],
      ["[::1:6969", /no closing bracket/],
      ["[::1]6969", /port is missing after the IPv6 address/],
      ["[nope]:1", /"nope" is not an IPv6 address/],
      ["300.1.1.1:5", /"300\.1\.1\.1" is not an IPv4 address/],
      [":6969", /host is missing/],
      ["bad_host!:1", /is not a host name/],
    ] as const
  ) {
    assert.throws(() => parseHostPort(text), (e: unknown) => {
      assert.ok(e instanceof TypeError, text);
      assert.match(e.message, /^Cannot parse address ".*": /);
      assert.match(e.message, re, text);
      assert.match(e.message, /expected HOST:PORT or \[IPv6\]:PORT$/);
      return true;
    });
  }
});

Deno.test("formatHostPort() brackets IPv6 and round-trips through parseHostPort()", none, () => {
  assert.equal(formatHostPort({ hostname: "::1", port: 5 }), "[::1]:5");
  assert.equal(formatHostPort({ host: "10.0.0.1", port: 6969 }), "10.0.0.1:6969");
  for (const text of ["[fe80::1]:9", "1.2.3.4:6969", "a-b.c:1"]) {
    assert.equal(formatHostPort(parseHostPort(text)), text);
  }
});
