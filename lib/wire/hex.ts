const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push(i.toString(16).padStart(2, "0"));

/** Lowercase hex of `bytes` (or of `length` bytes from `start`). */
export function toHex(bytes: Uint8Array, start = 0, length = bytes.length - start): string {
  let s = "";
  for (let i = start; i < start + length; i++) s += HEX[bytes[i]!]!;
  return s;
}
