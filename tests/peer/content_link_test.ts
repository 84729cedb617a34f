/** formatContentLink() / parseContentLink(): round trips, encoding, and strict parsing. */
import assert from "node:assert/strict";
import { formatContentLink, isContentLink, parseContentLink } from "../../lib/peer/content_link.ts";

const none = { permissions: "none" } as const;
const ID = "0123456789abcdef".repeat(4);

Deno.test("formatContentLink() and parseContentLink() round-trip any name", none, () => {
  for (
    const name of ["a.iso", "my film (2024).mkv", "caf\u00e9 & co?.txt", "a=b&c#d%e", "\u{1f600}"]
  ) {
    const link = formatContentLink({ contentId: ID, name, size: 2 ** 53 - 1 });
    assert.ok(!/[\s&?#]/.test(link.slice(link.indexOf("name=") + 5, link.indexOf("&size="))));
    assert.deepEqual(parseContentLink(link), { contentId: ID, name, size: 2 ** 53 - 1 });
  }
  assert.equal(formatContentLink({ contentId: ID }), `udpswarm:${ID}`);
  assert.deepEqual(parseContentLink(`udpswarm:${ID}`), { contentId: ID });
  assert.deepEqual(parseContentLink(`UDPSWARM:${ID.toUpperCase()}?size=0&x=1`), {
    contentId: ID,
    size: 0,
  });
});

Deno.test("parseContentLink() refuses what is not a well-formed link", none, () => {
  const bad: [string, RegExp][] = [
    ["a.iso", /does not start with udpswarm:/],
    [`udpswarm:${ID.slice(1)}`, /64 hex digits/],
    [`udpswarm:${ID}?size=-1`, /size must be a whole number/],
    [`udpswarm:${ID}?size=1e3`, /size must be a whole number/],
    [`udpswarm:${ID}?size=99999999999999999`, /size must be a whole number/],
    [`udpswarm:${ID}?name=a&name=b`, /"name" appears twice/],
    [`udpswarm:${ID}?name=%E0%A4%A`, /not valid URL encoding/],
    [`udpswarm:${ID}?name=`, /the name is empty/],
  ];
  for (const [text, message] of bad) {
    assert.throws(() => parseContentLink(text), { name: "TypeError", message }, text);
  }
  assert.throws(() => formatContentLink({ contentId: "xyz" }), RangeError);
  assert.throws(() => formatContentLink({ contentId: ID, size: 1.5 }), RangeError);
  assert.ok(isContentLink("udpSwarm:x") && !isContentLink("udpswarm"));
});
