/**
 * Address-cookie benchmarks (`deno bench lib/peer/core/address_cookies_bench.ts`): what the uploader's
 * check adds to each MANIFEST_REQUEST and BLOCK_REQUEST. A cached address costs a map lookup and two
 * comparisons; the HMAC it replaces, and what a forged cookie from an unknown address costs, for scale.
 */
import { AddressCookies } from "./address_cookies.ts";
import { CookieJar, packAddress } from "../../net/cookie_jar.ts";

const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));
const cookies = new AddressCookies({ epochMs: 3_600_000, now: 0 });
const ip = { hostname: "192.0.2.10", port: 40_000 };
const valid = cookies.issue(ip, 0);
let sink = 0;

Deno.bench({
  name: "AddressCookies.check(), cached address, valid cookie (every request of a downloader)",
  group: "cookie check",
  baseline: true,
  fn() {
    if (cookies.check(ip, valid, 1)) sink++;
  },
});

let n = 0;
Deno.bench({
  name: "AddressCookies.check(), unknown address, forged cookie (one HMAC, nothing cached)",
  group: "cookie check",
  fn() {
    n = (n + 1) & 0xffff;
    if (cookies.check({ hostname: `198.51.${n >> 8}.${n & 0xff}`, port: 7 }, 0x1234n, 1)) sink++;
  },
});

const jar = new CookieJar(3_600_000, random, 0);
const packed = packAddress(ip.hostname, ip.port)!;
const jarCookie = jar.issue(packed, "session");
Deno.bench({
  name: "CookieJar.verify() (an HMAC-SHA256 per request, what the cache avoids)",
  group: "cookie check",
  fn() {
    if (jar.verify(jarCookie, packed)) sink++;
  },
});

addEventListener("unload", () => {
  if (sink < 0) console.log(sink);
});
