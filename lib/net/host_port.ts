/**
 * `host:port` parsing for command-line flags such as `--tracker`, and the address conversions
 * and keys that pure cores and drivers share (no socket here, so cores may import it).
 * @module
 */
import { canonicalAddress, parseIPv4, parseIPv6, type PeerAddress } from "../wire/address.ts";

/** A parsed `host:port`. */
export interface HostPort {
  /** Host name or address literal, without brackets (same as {@link HostPort.hostname}). */
  host: string;
  /** Host name or address literal, without brackets: what `Deno.NetAddr.hostname` takes. */
  hostname: string;
  /** UDP port. */
  port: number;
  /** 4 or 6 for an address literal, undefined for a host name. */
  family: 4 | 6 | undefined;
}

/** Options for {@link parseHostPort}. */
export interface ParseHostPortOptions {
  /** Accept port 0 (for bind addresses). @default false */
  allowPortZero?: boolean;
}

const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/**
 * Parses `host:port`, `1.2.3.4:port` or `[v6]:port`.
 *
 * @param text the text to parse
 * @param options accept port 0 or not
 * @returns the host (without brackets) and the port
 * @throws {TypeError} when the text is not of that form, or the port is out of range
 *
 * @example Parsing a tracker address
 * ```ts
 * import { parseHostPort } from "./host_port.ts";
 * parseHostPort("[::1]:6969"); // { host: "::1", hostname: "::1", port: 6969, family: 6 }
 * ```
 */
export function parseHostPort(text: string, options: ParseHostPortOptions = {}): HostPort {
  const fail = (why: string): never => {
    throw new TypeError(
      `Cannot parse address "${text}": ${why}, expected HOST:PORT or [IPv6]:PORT`,
    );
  };
  if (typeof text !== "string" || text.length === 0) return fail("it is empty");
  let host: string;
  let portText: string;
  let family: 4 | 6 | undefined;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0) return fail("the IPv6 address has no closing bracket");
    host = text.slice(1, close);
    if (text[close + 1] !== ":") return fail("the port is missing after the IPv6 address");
    portText = text.slice(close + 2);
    if (parseIPv6(host) === null) return fail(`"${host}" is not an IPv6 address`);
    family = 6;
  } else {
    const colon = text.lastIndexOf(":");
    if (colon < 0) return fail("the port is missing");
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(":")) return fail("an IPv6 address must be in brackets");
    if (host.length === 0) return fail("the host is missing");
    if (/^[0-9.]+$/.test(host)) {
      if (parseIPv4(host) === null) return fail(`"${host}" is not an IPv4 address`);
      family = 4;
    } else if (!HOST_NAME.test(host)) {
      return fail(`"${host}" is not a host name`);
    }
  }
  if (!/^[0-9]{1,5}$/.test(portText)) return fail(`port "${portText}" is not a number`);
  const port = Number(portText);
  const min = options.allowPortZero ? 0 : 1;
  if (port < min || port > 65535) return fail(`port ${port} is outside ${min}..65535`);
  return { host, hostname: host, port, family };
}

/**
 * Formats a host and port as `host:port`, with brackets around IPv6 literals.
 *
 * @param a the address
 * @returns `host:port` or `[v6]:port`
 *
 * @example Formatting an IPv6 address
 * ```ts
 * import { formatHostPort } from "./host_port.ts";
 * formatHostPort({ hostname: "::1", port: 6969 }); // "[::1]:6969"
 * ```
 */
export function formatHostPort(a: { hostname?: string; host?: string; port: number }): string {
  const h = a.hostname ?? a.host ?? "";
  return h.includes(":") ? `[${h}]:${a.port}` : `${h}:${a.port}`;
}

/** Converts a wire address to the form `Deno.DatagramConn.send` takes. */
export function toNetAddr(a: PeerAddress): Deno.NetAddr {
  return { transport: "udp", hostname: a.host, port: a.port };
}

/** Converts a Deno address to a canonical wire address. */
export function fromNetAddr(a: Deno.NetAddr): PeerAddress {
  return canonicalAddress(a.hostname, a.port);
}

/** A stable string key for an address: `host|port`. */
export function addressKey(a: { hostname?: string; host?: string; port: number }): string {
  return `${a.hostname ?? a.host}|${a.port}`;
}
