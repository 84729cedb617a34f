/**
 * Allocation-light parsing and encoding of the tracker's hot messages (REGISTER and NEED in,
 * REGISTERED and OWNERS out): the tracker's heartbeats and NEEDs go through here instead of
 * the reference codec (lib/wire/codec.ts), whose TextEncoder/TextDecoder calls dominate the
 * cost at this size (figures: docs/TRACKER.md and `deno task bench`). The layouts are the
 * reference codec's, with offsets derived from the same limits.ts sizes. They accept only
 * what the reference codec accepts (property-tested against it): anything unusual returns
 * false and the caller falls back to `decodeMessage`, which also produces the exact error.
 * @module
 */
import { encodeMessage } from "./codec.ts";
import {
  CONTENT_ID_BYTES,
  COOKIE_BYTES,
  HEADER_SIZE,
  MAGIC,
  MAX_DATAGRAM,
  MAX_NAME_BYTES,
  MAX_NODE_ID_BYTES,
  REGISTER_MIN_SIZE,
  VERSION,
} from "./limits.ts";
import { MessageType, type OwnerEntry } from "./messages.ts";

// Field offsets, from the layouts in docs/PROTOCOL.md and the sizes in limits.ts (the
// reference codec writes the same fields in the same order).
/** The txid: the header's last field. */
const TXID_AT = 4;
/** REGISTER and NEED: the cookie follows the header, the node id (str8) the cookie. */
const COOKIE_AT = HEADER_SIZE;
const NODE_ID_AT = COOKIE_AT + COOKIE_BYTES;
/** REGISTERED: cookie, intervalMs u32, evictAfterMs u32. */
const INTERVAL_AT = COOKIE_AT + COOKIE_BYTES;
const REGISTERED_SIZE = INTERVAL_AT + 4 + 4;
/** OWNERS: contentId, size u64, alternatives u16, name str8, count u8, then the entries. */
const OWNERS_SIZE_AT = HEADER_SIZE + CONTENT_ID_BYTES;
const OWNERS_ALTERNATIVES_AT = OWNERS_SIZE_AT + 8;
const OWNERS_NAME_AT = OWNERS_ALTERNATIVES_AT + 2;
/** NEED's want kinds. */
const WANT_NAME = 1, WANT_CONTENT_ID = 2;

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
  /** NEED only: the optional trailing flags byte (0 when absent). */
  flags: number;
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
    flags: 0,
  };
}

/**
 * The header check of the fast paths (the one non-throwing twin of `decodeHeader`): the type
 * byte of a datagram of 8..65507 bytes with our magic and version.
 *
 * @param b a datagram
 * @returns its type byte, or -1
 */
export function fastType(b: Uint8Array): number {
  if (
    b.length < HEADER_SIZE || b.length > MAX_DATAGRAM || ((b[0]! << 8) | b[1]!) !== MAGIC ||
    b[2] !== VERSION
  ) return -1;
  return b[3]!;
}

/**
 * The txid of a datagram of at least {@link HEADER_SIZE} bytes, whatever its type.
 *
 * @param b a datagram (its length checked by the caller)
 * @returns the u32 txid
 */
export function headerTxid(b: Uint8Array): number {
  return u32(b, TXID_AT);
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
  const end = nodeIdAt(b, NODE_ID_AT, out);
  if (end < 0) return false;
  for (let i = end; i < b.length; i++) if (b[i] !== 0) return false;
  readTxidAndCookie(b, out);
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
  if (fastType(b) !== MessageType.need || b.length < NODE_ID_AT) return false;
  let at = nodeIdAt(b, NODE_ID_AT, out);
  if (at < 0 || at + 2 > b.length) return false;
  out.maxOwners = b[at]!;
  const kind = b[at + 1]!;
  at += 2;
  if (kind === WANT_NAME) {
    if (at >= b.length) return false;
    const n = b[at]!;
    const start = at + 1;
    if (n < 1 || n > MAX_NAME_BYTES || (start + n !== b.length && start + n + 1 !== b.length)) {
      return false;
    }
    let s = "";
    for (let i = start; i < start + n; i++) {
      const c = b[i]!;
      if (c > 0x7f) return false; // non-ASCII: let the reference codec check the UTF-8
      s += String.fromCharCode(c);
    }
    out.name = s;
    out.nameStart = start;
    out.nameLength = n;
    at = start + n;
  } else if (kind === WANT_CONTENT_ID) {
    if (at + CONTENT_ID_BYTES !== b.length && at + CONTENT_ID_BYTES + 1 !== b.length) return false;
    out.contentIdStart = at;
    at += CONTENT_ID_BYTES;
  } else {
    return false;
  }
  out.flags = at < b.length ? b[at]! : 0;
  out.wantKind = kind;
  readTxidAndCookie(b, out);
  return true;
}

function readTxidAndCookie(b: Uint8Array, out: FastRequest): void {
  out.txid = u32(b, TXID_AT);
  out.cookieHi = u32(b, COOKIE_AT);
  out.cookieLo = u32(b, COOKIE_AT + 4);
}

const SLAB_BYTES = 4 << 20;
const CHUNK_SHIFT = 18; // 256 KiB chunks
const CHUNKS = SLAB_BYTES >> CHUNK_SHIFT;

/**
 * Reply buffers carved from one 4 MiB ring instead of a fresh ArrayBuffer per reply (an
 * ArrayBuffer allocation costs more than the rest of a heartbeat).
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
   * Takes a buffer for one reply.
   *
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
  put32(b, TXID_AT, txid);
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
  const b = slab.take(REGISTERED_SIZE);
  header(b, MessageType.registered, txid);
  put32(b, COOKIE_AT, cookieHi);
  put32(b, COOKIE_AT + 4, cookieLo);
  put32(b, INTERVAL_AT, intervalMs);
  put32(b, INTERVAL_AT + 4, evictAfterMs);
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
  const zero = new Uint8Array(CONTENT_ID_BYTES);
  const full = encodeMessage({
    type: "owners",
    txid: 0,
    contentId: zero,
    size: 0,
    alternatives: 0,
    name: "x",
    owners: [{ nodeId: entry.nodeId, address: entry.address, rate: 0 }],
  });
  // The one entry follows the one-byte name "x" and the count; its rate is the last 4 bytes.
  return full.slice(OWNERS_NAME_AT + 1 + 1 + 1, full.length - 4);
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
 * @param entries pre-encoded entries (see {@link encodeOwnerEntry}), as bytes or as one-byte
 *   strings
 * @param rates wire rates, one per entry
 * @param count entries to write (≤ 16)
 * @param haves each entry's share of the file (255: all of it), written as the optional tail
 *   when given (an answer to a NEED with the partial flag)
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
  entries: readonly (Uint8Array | string)[],
  rates: readonly number[],
  count: number,
  haves?: readonly number[],
): Uint8Array {
  let len = OWNERS_NAME_AT + 1 + nameLength + 1;
  for (let i = 0; i < count; i++) len += entries[i]!.length + 4;
  if (haves !== undefined) len += count;
  const b = slab.take(len);
  header(b, MessageType.owners, txid);
  for (let i = 0; i < CONTENT_ID_BYTES; i++) b[HEADER_SIZE + i] = contentId[i]!;
  put32(b, OWNERS_SIZE_AT, Math.floor(size / 0x100000000));
  put32(b, OWNERS_SIZE_AT + 4, size >>> 0);
  b[OWNERS_ALTERNATIVES_AT] = alternatives >> 8;
  b[OWNERS_ALTERNATIVES_AT + 1] = alternatives & 0xff;
  b[OWNERS_NAME_AT] = nameLength;
  for (let i = 0; i < nameLength; i++) b[OWNERS_NAME_AT + 1 + i] = name[nameStart + i]!;
  let at = OWNERS_NAME_AT + 1 + nameLength;
  b[at++] = count;
  for (let i = 0; i < count; i++) {
    const e = entries[i]!;
    if (typeof e === "string") {
      for (let j = 0; j < e.length; j++) b[at + j] = e.charCodeAt(j);
    } else {
      for (let j = 0; j < e.length; j++) b[at + j] = e[j]!;
    }
    at += e.length;
    put32(b, at, rates[i]!);
    at += 4;
  }
  if (haves !== undefined) { for (let i = 0; i < count; i++) b[at++] = haves[i]!; }
  return b;
}
