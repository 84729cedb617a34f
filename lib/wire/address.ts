/**
 * Peer addresses on the wire: an IPv4 or IPv6 literal with its family and a port, canonicalised
 * (`::ffff:a.b.c.d` is IPv4), with their encode/decode and IP literal parsers.
 * @module
 */
import type { Reader } from "./_reader.ts";
import type { Writer } from "./_writer.ts";

/** A UDP endpoint as carried on the wire. `host` is a canonical IPv4 or IPv6 literal. */
export interface PeerAddress {
  /** Address family: 4 or 6. */
  family: 4 | 6;
  /** IPv4 dotted quad or canonical (RFC 5952) IPv6 text, without brackets. */
  host: string;
  /** UDP port, 0..65535. */
  port: number;
}

/**
 * Parses a dotted IPv4 literal into 4 bytes, or returns null. Leading zeros are refused, as
 * inet_pton, Rust and the URL standard do: "010.0.0.1" is 8.0.0.1 to inet_aton.
 */
export function parseIPv4(host: string): Uint8Array | null {
  const parts = host.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^(?:0|[1-9][0-9]{0,2})$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    out[i] = n;
  }
  return out;
}

/** Parses an IPv6 literal (with `::` and an optional embedded IPv4 tail) into 16 bytes, or null. */
export function parseIPv6(host: string): Uint8Array | null {
  let h = host;
  if (h.startsWith("[") && h.endsWith("]")) h = h.slice(1, -1);
  const pct = h.indexOf("%");
  if (pct >= 0) h = h.slice(0, pct);
  if (h.length === 0 || h.length > 45) return null;
  const halves = h.split("::");
  if (halves.length > 2) return null;
  // An embedded IPv4 tail may only end the whole address, never precede "::".
  const groups = (s: string, last: boolean): number[] | null => {
    if (s === "") return [];
    const out: number[] = [];
    const parts = s.split(":");
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (last && i === parts.length - 1 && p.includes(".")) {
        const v4 = parseIPv4(p);
        if (!v4) return null;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return null;
        out.push(parseInt(p, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0]!, halves.length === 1);
  const tail = halves.length === 2 ? groups(halves[1]!, true) : [];
  if (!head || !tail) return null;
  const total = head.length + tail.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return null;
  const all = [...head, ...new Array<number>(8 - total).fill(0), ...tail];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = all[i]! >> 8;
    out[2 * i + 1] = all[i]! & 0xff;
  }
  return out;
}

/**
 * Formats 16 bytes as canonical RFC 5952 IPv6 text (longest zero run compressed, lower case;
 * IPv4-mapped addresses as `::ffff:a.b.c.d`, RFC 5952 §5, which is also how Deno reports
 * IPv4 senders on a dual-stack socket).
 */
export function formatIPv6(b: Uint8Array): string {
  if (isIPv4Mapped(b)) return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[2 * i]! << 8) | b[2 * i + 1]!);
  let bestStart = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(":");
  if (bestStart < 0) return hex(g);
  return hex(g.slice(0, bestStart)) + "::" + hex(g.slice(bestStart + bestLen));
}

function isIPv4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/** Normalizes a host literal to the canonical form the codec produces; throws on a non-literal. */
export function canonicalAddress(host: string, port: number): PeerAddress {
  const v4 = parseIPv4(host);
  if (v4) return { family: 4, host: Array.from(v4).join("."), port };
  const v6 = parseIPv6(host);
  if (v6) return { family: 6, host: formatIPv6(v6), port };
  throw new TypeError(`Cannot parse address: "${host}" is not an IPv4 or IPv6 literal`);
}

/** Writes family u8 (4|6), 4 or 16 address bytes, port u16. */
export function writeAddress(w: Writer, a: PeerAddress, field: string): void {
  if (a.family === 4) {
    const b = parseIPv4(a.host);
    if (!b) throw new TypeError(`Cannot encode ${w.what}: ${field} host "${a.host}" is not IPv4`);
    w.u8(4, field + " family");
    w.raw(b);
  } else if (a.family === 6) {
    const b = parseIPv6(a.host);
    if (!b) throw new TypeError(`Cannot encode ${w.what}: ${field} host "${a.host}" is not IPv6`);
    w.u8(6, field + " family");
    w.raw(b);
  } else {
    throw new RangeError(`Cannot encode ${w.what}: ${field} family must be 4 or 6`);
  }
  w.u16(a.port, field + " port");
}

/** Reads an address written by {@link writeAddress}. */
export function readAddress(r: Reader, field: string): PeerAddress {
  const at = r.pos;
  const family = r.u8(field + " family");
  if (family === 4) {
    const b = r.view_(4, field);
    const host = `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
    return { family: 4, host, port: r.u16(field + " port") };
  }
  if (family === 6) {
    const host = formatIPv6(r.view_(16, field));
    return { family: 6, host, port: r.u16(field + " port") };
  }
  return r.fail("bad_value", at, `${field} family is ${family}, expected 4 or 6`);
}
