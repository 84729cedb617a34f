import assert from "node:assert/strict";
import { isIPv6 } from "node:net";
import fc from "fast-check";
import { canonicalAddress, formatIPv6, parseIPv4, parseIPv6 } from "../../lib/wire/address.ts";
import { port, uncompressedIPv6, v6Bytes } from "./_arbitraries.ts";

function bytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const isMapped = (b: Uint8Array) =>
  b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;

Deno.test({
  name: "parseIPv4() reads dotted quads",
  permissions: "none",
  fn() {
    assert.deepEqual(parseIPv4("0.0.0.0"), Uint8Array.of(0, 0, 0, 0));
    assert.deepEqual(parseIPv4("192.0.2.1"), Uint8Array.of(192, 0, 2, 1));
    assert.deepEqual(parseIPv4("255.255.255.255"), Uint8Array.of(255, 255, 255, 255));
  },
});

Deno.test({
  name: "parseIPv4() rejects anything else",
  permissions: "none",
  fn() {
    for (
      const s of [
        "",
        "1.2.3",
        "1.2.3.4.5",
        "256.0.0.1",
        "1.2.3.-1",
        "1.2.3.1000",
        "1..2.3",
        "1.2.3.4.",
        " 1.2.3.4",
        "1.2.3.4 ",
        "0x1.2.3.4",
        "1.2.3.a",
        "01.2.3.4", // leading zeros are ambiguous (octal to inet_aton)
        "1.2.3.00",
        "١.٢.٣.٤", // Arabic-Indic digits
        "localhost",
        "::1",
      ]
    ) {
      assert.equal(parseIPv4(s), null, JSON.stringify(s));
    }
  },
});

Deno.test({
  name: "parseIPv6() reads every textual form",
  permissions: "none",
  fn() {
    const cases: [string, string][] = [
      ["::", "00000000000000000000000000000000"],
      ["::1", "00000000000000000000000000000001"],
      ["1::", "00010000000000000000000000000000"],
      ["2001:db8::1", "20010db8000000000000000000000001"],
      ["2001:DB8::A:b", "20010db80000000000000000000a000b"],
      ["2001:0db8:0000:0000:0000:0000:0000:0001", "20010db8000000000000000000000001"],
      ["1:2:3:4:5:6:7:8", "00010002000300040005000600070008"],
      ["1:2:3:4:5:6:7::", "00010002000300040005000600070000"],
      ["::2:3:4:5:6:7:8", "00000002000300040005000600070008"],
      ["::ffff:192.0.2.1", "00000000000000000000ffffc0000201"],
      ["::ffff:c000:201", "00000000000000000000ffffc0000201"],
      ["::192.0.2.1", "000000000000000000000000c0000201"],
      ["64:ff9b::192.0.2.33", "0064ff9b0000000000000000c0000221"],
      ["1:2:3:4:5:6:1.2.3.4", "00010002000300040005000601020304"],
      ["[::1]", "00000000000000000000000000000001"],
      ["fe80::1%eth0", "fe800000000000000000000000000001"],
      ["[fe80::1%25eth0]", "fe800000000000000000000000000001"],
    ];
    for (const [text, hex] of cases) assert.deepEqual(parseIPv6(text), bytes(hex), text);
  },
});

Deno.test({
  name: "parseIPv6() rejects invalid literals",
  permissions: "none",
  fn() {
    for (
      const s of [
        "",
        ":",
        ":::",
        "1::2::3",
        ":1::",
        "::1:",
        "1:2:3:4:5:6:7",
        "1:2:3:4:5:6:7:8:9",
        "1:2:3:4:5:6:7:8::",
        "::1:2:3:4:5:6:7:8",
        "12345::",
        "g::",
        "::-1",
        "::ffff:1.2.3",
        "::ffff:256.1.1.1",
        "::ffff:1.2.3.04",
        "::1.2.3.4:5", // an IPv4 tail must end the address
        "1.2.3.4::", // … and cannot precede "::"
        "1.2.3.4::1",
        "1:2:3:4:5:6:7:1.2.3.4", // 9 groups
        "1.2.3.4",
        "[::1",
        " ::1",
        "::1 ",
        "localhost",
        "0000:0000:0000:0000:0000:0000:0000:0000:0000",
      ]
    ) {
      assert.equal(parseIPv6(s), null, JSON.stringify(s));
    }
  },
});

Deno.test({
  name: "formatIPv6() writes RFC 5952 canonical text",
  permissions: "none",
  fn() {
    const cases: [string, string][] = [
      ["00000000000000000000000000000000", "::"],
      ["00000000000000000000000000000001", "::1"],
      ["00010000000000000000000000000000", "1::"],
      ["20010db8000000000000000000000001", "2001:db8::1"], // leading zeros dropped, lower case
      ["20010db8000000010001000100010001", "2001:db8:0:1:1:1:1:1"], // one zero group stays
      ["20010db8000000000001000000000001", "2001:db8::1:0:0:1"], // equal runs: the first
      ["20010000000000010000000000000001", "2001:0:0:1::1"], // the longest run wins
      ["abcdef0000000000000000000000ffff", "abcd:ef00::ffff"],
      ["00000000000000000000ffffc0000201", "::ffff:192.0.2.1"], // IPv4-mapped, RFC 5952 §5
      ["00000000000000000000ffff00000000", "::ffff:0.0.0.0"],
      ["000000000000000000000000c0000201", "::c000:201"], // IPv4-compatible is not special
      ["00000000000000000001ffffc0000201", "::1:ffff:c000:201"],
    ];
    for (const [hex, text] of cases) assert.equal(formatIPv6(bytes(hex)), text, hex);
  },
});

Deno.test({
  name: "formatIPv6() agrees with the WHATWG URL serializer and parseIPv6() inverts it",
  permissions: "none",
  fn() {
    fc.assert(
      fc.property(v6Bytes, (b) => {
        const text = formatIPv6(b);
        assert.deepEqual(parseIPv6(text), b);
        assert.ok(isIPv6(text), text);
        assert.equal(canonicalAddress(text, 1).host, text);
        assert.equal(canonicalAddress(uncompressedIPv6(b), 1).host, text);
        // URL writes mapped addresses in hex groups; everything else must match exactly.
        if (!isMapped(b)) assert.equal(new URL(`http://[${text}]/`).hostname, `[${text}]`);
      }),
      { seed: 0x5553a001, numRuns: 5000 },
    );
  },
});

/**
 * Near-IPv6 strings: 0..9 groups (mostly valid, some empty, too long or not hex), "::" at up
 * to two places, and sometimes a dotted IPv4 part anywhere (mostly valid, some malformed).
 */
const v6ish = fc.tuple(
  fc.array(
    fc.oneof(
      { weight: 12, arbitrary: fc.constantFrom("0", "1", "ff", "FFFF", "abcd", "0db8") },
      { weight: 1, arbitrary: fc.constantFrom("00000", "12345", "g", "", " ") },
    ),
    { maxLength: 9 },
  ),
  fc.array(fc.nat({ max: 9 }), { maxLength: 2 }),
  fc.option(
    fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom("1.2.3.4", "255.0.0.1", "0.0.0.0") },
      {
        weight: 1,
        arbitrary: fc.constantFrom("256.1.1.1", "1.2.3", "01.2.3.4", "1.2.3.4.5", "1.2..3"),
      },
    ),
    { freq: 3 },
  ),
  fc.nat({ max: 12 }),
).map(([groups, doubles, v4, v4At]) => {
  const parts: string[] = [...groups];
  if (v4 !== null) parts.splice(Math.min(v4At, parts.length), 0, v4);
  let s = doubles.includes(0) ? "::" : "";
  parts.forEach((p, i) => {
    if (i > 0) s += doubles.includes(i) ? "::" : ":";
    s += p;
  });
  if (parts.length > 0 && doubles.includes(parts.length)) s += "::";
  return s;
});

Deno.test({
  name: "parseIPv6() accepts exactly what the WHATWG URL parser accepts",
  permissions: "none",
  fn() {
    fc.assert(
      fc.property(v6ish, (s) => {
        let url: string | null;
        try {
          url = new URL(`http://[${s}]/`).hostname;
        } catch {
          url = null;
        }
        const ours = parseIPv6(s);
        assert.equal(ours !== null, url !== null, `${JSON.stringify(s)}: URL says ${url}`);
        if (ours && url && !isMapped(ours)) assert.equal(`[${formatIPv6(ours)}]`, url);
      }),
      { seed: 0x5553a002, numRuns: 5000 },
    );
  },
});

Deno.test({
  name: "canonicalAddress() normalizes IPv4 and IPv6 literals",
  permissions: "none",
  fn() {
    assert.deepEqual(canonicalAddress("192.0.2.1", 80), { family: 4, host: "192.0.2.1", port: 80 });
    assert.deepEqual(canonicalAddress("2001:0DB8:0:0::1", 443), {
      family: 6,
      host: "2001:db8::1",
      port: 443,
    });
    assert.deepEqual(canonicalAddress("[::1]", 1), { family: 6, host: "::1", port: 1 });
    assert.deepEqual(canonicalAddress("fe80::1%eth0", 1), { family: 6, host: "fe80::1", port: 1 });
    // How Deno reports an IPv4 sender on a dual-stack socket stays as it is.
    assert.deepEqual(canonicalAddress("::ffff:127.0.0.1", 9), {
      family: 6,
      host: "::ffff:127.0.0.1",
      port: 9,
    });
    assert.deepEqual(canonicalAddress("::ffff:7f00:1", 9).host, "::ffff:127.0.0.1");
  },
});

Deno.test({
  name: "canonicalAddress() refuses host names and malformed literals",
  permissions: "none",
  fn() {
    for (const host of ["localhost", "", "1.2.3", "1.2.3.4::", "::1::"]) {
      assert.throws(() => canonicalAddress(host, 1), {
        name: "TypeError",
        message: `Cannot parse address: "${host}" is not an IPv4 or IPv6 literal`,
      });
    }
  },
});

Deno.test({
  name: "canonicalAddress() keeps IPv4 dotted quads made from any 4 bytes",
  permissions: "none",
  fn() {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), port, (b, p) => {
        const text = Array.from(b).join(".");
        assert.deepEqual(parseIPv4(text), b);
        assert.deepEqual(canonicalAddress(text, p), { family: 4, host: text, port: p });
      }),
      { seed: 0x5553a003, numRuns: 2000 },
    );
  },
});
