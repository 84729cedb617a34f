/**
 * Hex text of bytes and back: content ids in logs, replies and file names.
 * @module
 */
import { CONTENT_ID_BYTES } from "./limits.ts";

const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push(i.toString(16).padStart(2, "0"));

/**
 * Lowercase hex of `bytes` (or of `length` bytes from `start`).
 *
 * @param bytes the bytes
 * @param start the first byte to convert
 * @param length how many bytes to convert
 * @returns two lowercase hex digits per byte
 */
export function toHex(bytes: Uint8Array, start = 0, length = bytes.length - start): string {
  let s = "";
  for (let i = start; i < start + length; i++) s += HEX[bytes[i]!]!;
  return s;
}

/**
 * Parses exactly `byteLength` bytes of hex (either case); by default a content id, 64 digits.
 *
 * @param hex the text
 * @param byteLength how many bytes it must hold
 * @returns the bytes, or null for anything else
 */
export function fromHex(hex: string, byteLength: number = CONTENT_ID_BYTES): Uint8Array | null {
  if (typeof hex !== "string" || hex.length !== 2 * byteLength || !/^[0-9a-fA-F]*$/.test(hex)) {
    return null;
  }
  const out = new Uint8Array(byteLength);
  for (let i = 0; i < byteLength; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}
