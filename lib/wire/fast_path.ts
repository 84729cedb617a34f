/**
 * Allocation-light parsing and encoding of the tracker's hot messages (REGISTER and NEED in,
 * REGISTERED and OWNERS out). The reference codec (lib/wire/codec.ts) costs 4–5 µs per decode
 * and ~50 µs per 8-owner OWNERS encode here, mostly in TextEncoder/TextDecoder calls; these
 * do the same in well under a microsecond. They accept only what the reference codec accepts
 * (property-tested against it): anything unusual returns false and the caller falls back to
 * `decodeMessage`, which also produces the exact error.
 * @module
 */
import { encodeMessage } from "./codec.ts";
import {
  HEADER_SIZE,
  MAGIC,
  MAX_DATAGRAM,
  MAX_NAME_BYTES,
  MAX_NODE_ID_BYTES,
  REGISTER_MIN_SIZE,
  VERSION,
} from "./limits.ts";
import { MessageType, type OwnerEntry } from "./messages.ts";

/** A parsed REGISTER or NEED (reused between calls: copy what you keep). */
export interface FastRequest {
  txid: number;
  /** High and low 32 bits of the cookie. */
  cookieHi: number;
  cookieLo: number;
  nodeId: string;
  /** NEED only. */
  maxOwners: number;
  /** NEED only: 1 = by name, 2 = by content id. */
  wantKind: number;
  /** NEED by name: the name, and where its UTF-8 bytes are in the datagram. */
  name: string;
  nameStart: number;
  nameLength: number;
  /** NEED by content id: where the 32 bytes are in the datagram. */
  contentIdStart: number;
}

/** A fresh {@link FastRequest}. */
export function newFastRequest(): FastRequest {
  return {
    txid: 0,
    cookieHi: 0,
    cookieLo: 0,
    nodeId: "",
    maxOwners: 0,
    wantKind: 0,
    name: "",
    nameStart: 0,
    nameLength: 0,
    contentIdStart: 0,
  };
}

/** Type byte of a datagram with a valid magic and version, or -1. */
export function fastType(b: Uint8Array): number {
  if (
    b.length < HEADER_SIZE || b.length > MAX_DATAGRAM || ((b[0]! << 8) | b[1]!) !== MAGIC ||
    b[2] !== VERSION
  ) return -1;
  return b[3]!;
}

function u32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

function isIdChar(c: number): boolean {
  // [A-Za-z0-9._-]
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) ||
    c === 0x2e || c === 0x5f || c === 0x2d;
}

/** Reads a node id (u8 length + ASCII) at `at`; returns the end offset or -1. */
function nodeIdAt(b: Uint8Array, at: number, out: FastRequest): number {
  if (at >= b.length) return -1;
  const n = b[at]!;
  const end = at + 1 + n;
  if (n < 1 || n > MAX_NODE_ID_BYTES || end > b.length) return -1;
  let s = "";
  for (let i = at + 1; i < end; i++) {
    const c = b[i]!;
    if (!isIdChar(c)) return -1;
    s += String.fromCharCode(c);
  }
  out.nodeId = s;
  return end;
}

/**
 * Parses a well-formed REGISTER.
 *
 * @param b the datagram
 * @param out receives the fields
 * @returns false when the datagram is anything else (use the reference codec)
 */
export function parseRegister(b: Uint8Array, out: FastRequest): boolean {
  if (b.length < REGISTER_MIN_SIZE || fastType(b) !== MessageType.register) return false;
  const end = nodeIdAt(b, 16, out);
  if (end < 0) return false;
  for (let i = end; i < b.length; i++) if (b[i] !== 0) return false;
  out.txid = u32(b, 4);
  out.cookieHi = u32(b, 8);
  out.cookieLo = u32(b, 12);
  return true;
}

/**
 * Parses a well-formed NEED whose name (if any) is ASCII.
 *
 * @param b the datagram
 * @param out receives the fields
 * @returns false when the datagram is anything else (use the reference codec)
 */
export function parseNeed(b: Uint8Array, out: FastRequest): boolean {
  if (fastType(b) !== MessageType.need || b.length < 16) return false;
  let at = nodeIdAt(b, 16, out);
  if (at < 0 || at + 2 > b.length) return false;
  out.maxOwners = b[at]!;
  const kind = b[at + 1]!;
  at += 2;
  if (kind === 1) {
    if (at >= b.length) return false;
    const n = b[at]!;
    const start = at + 1;
    if (n < 1 || n > MAX_NAME_BYTES || start + n !== b.length) return false;
    let s = "";
    for (let i = start; i < start + n; i++) {
      const c = b[i]!;
      if (c > 0x7f) return false; // non-ASCII: let the reference codec check the UTF-8
      s += String.fromCharCode(c);
    }
    out.name = s;
    out.nameStart = start;
    out.nameLength = n;
  } else if (kind === 2) {
    if (at + 32 !== b.length) return false;
    out.contentIdStart = at;
  } else {
    return false;
  }
  out.wantKind = kind;
  out.txid = u32(b, 4);
  out.cookieHi = u32(b, 8);
  out.cookieLo = u32(b, 12);
  return true;
}

const SLAB_BYTES = 4 << 20;
const CHUNK_SHIFT = 18; // 256 KiB chunks
const CHUNKS = SLAB_BYTES >> CHUNK_SHIFT;

/**
 * Reply buffers carved from one 4 MiB ring instead of a fresh ArrayBuffer per reply (an
 * ArrayBuffer allocation costs ~0.7–2 µs here, more than the rest of a heartbeat).
 *
 * `Deno.DatagramConn.send` reads the buffer when the datagram actually leaves, which is later
 * than the call when the socket would block (docs/STORAGE.md measured it), so a region must not
 * be rewritten while a send from it is pending. The ring is cut into 16 chunks of 256 KiB with a
 * count of pending sends each ({@link ReplySlab.sending}/{@link ReplySlab.sent}); the ring moves
 * into a chunk only when that chunk has nothing pending, and otherwise hands out a fresh
 * buffer. Without a driver that counts (pure tests), a reply stays intact until 4 MiB of later
 * replies have been taken.
 */
export class ReplySlab {
  readonly #bytes = new Uint8Array(SLAB_BYTES);
  readonly #pending = new Int32Array(CHUNKS);
  #at = 0;
  #chunk = 0;
  /** Replies that got a fresh buffer because the ring's next chunk was still being sent. */
  fallbacks = 0;

  /**
   * @param n bytes needed (≤ 256 KiB)
   * @returns a zero-filled buffer of `n` bytes, usually a view into the ring
   */
  take(n: number): Uint8Array {
    let at = this.#at;
    if (at + n > SLAB_BYTES) at = 0;
    const first = at >> CHUNK_SHIFT, last = (at + n - 1) >> CHUNK_SHIFT;
    if (first !== this.#chunk || last !== first) {
      // Entering a chunk from an earlier lap: only when none of its sends is pending.
      if (this.#pending[first] !== 0 || this.#pending[last] !== 0) {
        this.fallbacks++;
        return new Uint8Array(n);
      }
      this.#chunk = last;
    }
    const v = this.#bytes.subarray(at, at + n);
    this.#at = (at + n + 7) & ~7;
    v.fill(0);
    return v;
  }

  /**
   * Records that `b` is being sent. Call {@link ReplySlab.sent} with the returned token once the
   * send has completed (or failed).
   *
   * @param b a buffer from {@link ReplySlab.take}
   * @returns a token, or -1 when `b` is not from the ring (nothing to track)
   */
  sending(b: Uint8Array): number {
    if (b.buffer !== this.#bytes.buffer) return -1;
    const c = b.byteOffset >> CHUNK_SHIFT;
    this.#pending[c]!++;
    return c;
  }

  /**
   * Records that a send has completed.
   *
   * @param token what {@link ReplySlab.sending} returned
   */
  sent(token: number): void {
    if (token >= 0) this.#pending[token]!--;
  }
}

function put32(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

function header(b: Uint8Array, type: number, txid: number): void {
  b[0] = MAGIC >> 8;
  b[1] = MAGIC & 0xff;
  b[2] = VERSION;
  b[3] = type;
  put32(b, 4, txid);
}

/**
 * Encodes REGISTERED (24 bytes).
 *
 * @returns the datagram, a view into `slab`
 */
export function encodeRegistered(
  slab: ReplySlab,
  txid: number,
  cookieHi: number,
  cookieLo: number,
  intervalMs: number,
  evictAfterMs: number,
): Uint8Array {
  const b = slab.take(24);
  header(b, MessageType.registered, txid);
  put32(b, 8, cookieHi);
  put32(b, 12, cookieLo);
  put32(b, 16, intervalMs);
  put32(b, 20, evictAfterMs);
  return b;
}

/**
 * The wire bytes of one OWNERS entry without its rate (node id, address), made once per peer
 * with the reference codec.
 *
 * @param entry the entry (its rate is ignored)
 * @returns nodeId str8 ‖ family ‖ address ‖ port
 */
export function encodeOwnerEntry(entry: OwnerEntry): Uint8Array {
  const zero = new Uint8Array(32);
  const full = encodeMessage({
    type: "owners",
    txid: 0,
    contentId: zero,
    size: 0,
    alternatives: 0,
    name: "x",
    owners: [{ ...entry, rate: 0 }],
  });
  // header 8 + contentId 32 + size 8 + alternatives 2 + name (1 + 1) + count 1 = 53
  return full.slice(53, full.length - 4);
}

/**
 * Encodes OWNERS.
 *
 * @param slab where the reply is carved from
 * @param txid the request's txid
 * @param contentId 32 bytes
 * @param size file size (≤ 2^53−1)
 * @param alternatives other contents with the name (≤ 65535)
 * @param name the datagram holding the UTF-8 name bytes (1..255) at `nameStart`
 * @param nameStart offset of the name in `name`
 * @param nameLength length of the name
 * @param entries pre-encoded entries (see {@link encodeOwnerEntry})
 * @param rates wire rates, one per entry
 * @param count entries to write (≤ 16)
 * @returns the datagram, a view into `slab`
 */
export function encodeOwners(
  slab: ReplySlab,
  txid: number,
  contentId: Uint8Array,
  size: number,
  alternatives: number,
  name: Uint8Array,
  nameStart: number,
  nameLength: number,
  entries: readonly Uint8Array[],
  rates: readonly number[],
  count: number,
): Uint8Array {
  let len = HEADER_SIZE + 32 + 8 + 2 + 1 + nameLength + 1;
  for (let i = 0; i < count; i++) len += entries[i]!.length + 4;
  const b = slab.take(len);
  header(b, MessageType.owners, txid);
  for (let i = 0; i < 32; i++) b[8 + i] = contentId[i]!;
  put32(b, 40, Math.floor(size / 0x100000000));
  put32(b, 44, size >>> 0);
  b[48] = alternatives >> 8;
  b[49] = alternatives & 0xff;
  b[50] = nameLength;
  for (let i = 0; i < nameLength; i++) b[51 + i] = name[nameStart + i]!;
  let at = 51 + nameLength;
  b[at++] = count;
  for (let i = 0; i < count; i++) {
    const e = entries[i]!;
    for (let j = 0; j < e.length; j++) b[at + j] = e[j]!;
    at += e.length;
    put32(b, at, rates[i]!);
    at += 4;
  }
  return b;
}
