import { UploadRules } from "../lib/peer/core/upload_rules.ts";
import { contentIdOf, encodeManifest } from "../lib/peer/manifest.ts";
import { decodeMessage } from "../lib/wire/codec.ts";
const MiB = 1024 * 1024;
const size = 64 * MiB;
const manifest = { size, pieceSize: 4 * MiB, pieceHashes: new Uint8Array(32 * 16) };
const encoded = encodeManifest(manifest);
const rules = new UploadRules({ randomBytes: (n) => new Uint8Array(n).fill(1), totalRate: 400e6, totalBurst: 8 * MiB });
rules.share({ path: "f", manifest, encoded });
const request = (from: Deno.NetAddr, offset: number, length: number, now: number) => {
  const plan = rules.handleRequest({ type: "block_request", txid: 1, cookie: rules.cookieFor(from, now), contentId: contentIdOf(encoded), blockSize: 32768, ranges: [{ offset, length }] }, from, now);
  let bytes = 0;
  if (plan) { while (plan.next()) bytes += plan.length; for (let i = 0; i < 1024; i++) rules.handleSendSettled(); }
  for (let t = rules.pollTransmit(); t; t = rules.pollTransmit()) {
    const m = decodeMessage(t.bytes);
    if (t.to.hostname === "198.51.100.7" && m.type === "error") console.log(now, m.text);
  }
  return bytes;
};
const attackers = Array.from({ length: 1000 }, (_, i) => ({ transport: "udp" as const, hostname: "203.0.113.66", port: 10_000 + i }));
const honest = { transport: "udp" as const, hostname: "198.51.100.7", port: 4000 };
for (let t = 0; t < 2000; t += 5) {
  for (let k = 0; k < 50; k++) request(attackers[(t / 5 * 50 + k) % attackers.length]!, 0, 4 * MiB, t);
  if (t >= 500) request(honest, (t * 256 * 1024) % size, 256 * 1024, t);
}
