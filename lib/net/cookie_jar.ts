/**
 * Address cookies: the proof that a peer receives datagrams at the address it sends from.
 *
 * A cookie is 64 bits: HMAC-SHA256(key[epoch], epoch ‖ kind ‖ family ‖ address ‖ port),
 * truncated to 8 bytes, with its two lowest bits replaced by `kind << 1 | epoch & 1`. The
 * key is 32 random bytes, replaced every epoch; the jar keeps the current and the previous
 * key, so a cookie is valid during the epoch that issued it and the next one. The parity
 * bit tells which of the two keys to check, so verification costs one HMAC.
 *
 * With a shared secret (trackers of one Redis store, see docs/TRACKER.md _Storage_), the key
 * of epoch e is HMAC-SHA256(secret, "udpswarm cookie epoch" ‖ e) and the epochs are counted on
 * the wall clock (e = ⌊now / epochMs⌋), so every tracker of the store issues and accepts the
 * same cookies and a peer can move between them without registering again.
 *
 * The tracker and the peers' uploaders (lib/peer/core/address_cookies.ts) both pack the address
 * and the port ({@link packAddress}): a cookie proves one UDP source, never a whole IP.
 * @module
 */
import { createHmac } from "node:crypto";
import { parseIPv4, parseIPv6 } from "../wire/address.ts";

/** What a cookie grants: a challenge cookie may only confirm a REGISTER. */
export type CookieKind = "challenge" | "session";

/**
 * Packs an address as family ‖ bytes ‖ port (7 or 19 bytes), or returns null when the host is
 * not an IP literal.
 *
 * @param hostname IPv4 or IPv6 literal
 * @param port UDP port
 * @returns the packed bytes, or null
 */
export function packAddress(hostname: string, port: number): Uint8Array | null {
  const v4 = parseIPv4(hostname);
  const raw = v4 ?? parseIPv6(hostname);
  if (raw === null) return null;
  const out = new Uint8Array(1 + raw.length + 2);
  out[0] = v4 ? 4 : 6;
  out.set(raw, 1);
  out[raw.length + 1] = port >> 8;
  out[raw.length + 2] = port & 0xff;
  return out;
}

/** Issues and checks address cookies with a key that rotates every epoch. */
export class CookieJar {
  readonly epochMs: number;
  readonly #randomBytes: (n: number) => Uint8Array;
  #epoch = 0;
  #key: Uint8Array;
  #previousKey: Uint8Array | undefined;
  #nextRotation: number;
  readonly #input = new Uint8Array(4 + 1 + 19);
  readonly #secret: Uint8Array | undefined;

  /**
   * @param epochMs epoch length (how often the key rotates)
   * @param randomBytes source of key material (unused with a secret)
   * @param now the current time in ms (the wall clock, `Date.now()`, with a secret)
   * @param secret derive the keys from this shared secret, epochs on the wall clock
   */
  constructor(
    epochMs: number,
    randomBytes: (n: number) => Uint8Array,
    now: number,
    secret?: Uint8Array,
  ) {
    if (!(epochMs > 0)) throw new RangeError(`Cannot create cookie jar: epochMs is ${epochMs}`);
    this.epochMs = epochMs;
    this.#secret = secret;
    if (secret !== undefined) {
      this.#epoch = Math.floor(now / epochMs) >>> 0;
      this.#randomBytes = () => this.#derive(this.#epoch);
      this.#key = this.#derive(this.#epoch);
      this.#previousKey = this.#derive((this.#epoch - 1) >>> 0);
      this.#nextRotation = (Math.floor(now / epochMs) + 1) * epochMs;
      return;
    }
    this.#randomBytes = randomBytes;
    this.#key = randomBytes(32);
    this.#nextRotation = now + epochMs;
  }

  #derive(epoch: number): Uint8Array {
    const label = new TextEncoder().encode("udpswarm cookie epoch ");
    const input = new Uint8Array(label.length + 4);
    input.set(label);
    new DataView(input.buffer).setUint32(label.length, epoch);
    return new Uint8Array(createHmac("sha256", this.#secret!).update(input).digest());
  }

  /** The current epoch number (0 at construction). */
  get epoch(): number {
    return this.#epoch;
  }

  /** When the key rotates next. */
  get nextRotation(): number {
    return this.#nextRotation;
  }

  /**
   * Rotates the key as many times as epochs have passed (at most twice: after two rotations
   * no cookie issued before `now` is valid any more).
   *
   * @param now the current time in ms
   * @returns true when the key rotated
   */
  rotate(now: number): boolean {
    if (now < this.#nextRotation) return false;
    if (this.#secret !== undefined) {
      // Wall-clock epochs: every tracker of the store is at the same epoch.
      const epoch = Math.floor(now / this.epochMs) >>> 0;
      this.#epoch = epoch;
      this.#key = this.#derive(epoch);
      this.#previousKey = this.#derive((epoch - 1) >>> 0);
      this.#nextRotation = (Math.floor(now / this.epochMs) + 1) * this.epochMs;
      return true;
    }
    let turns = 0;
    while (now >= this.#nextRotation) {
      this.#epoch = (this.#epoch + 1) >>> 0;
      this.#previousKey = this.#key;
      this.#key = this.#randomBytes(32);
      this.#nextRotation += this.epochMs;
      if (++turns === 2 && now >= this.#nextRotation) {
        this.#nextRotation = now + this.epochMs;
      }
    }
    return true;
  }

  /**
   * Issues a cookie for a packed address (see {@link packAddress}).
   *
   * @param packed the packed source address
   * @param kind challenge or session
   * @returns a non-zero 64-bit cookie
   */
  issue(packed: Uint8Array, kind: CookieKind): bigint {
    return this.#mac(this.#key, this.#epoch, packed, kind === "session" ? 1 : 0);
  }

  /**
   * The cookie the previous epoch's key issued for a packed address, which {@link verify} still
   * accepts; undefined before the first rotation.
   *
   * @param packed the packed address
   * @param kind challenge or session
   * @returns a non-zero 64-bit cookie, or undefined
   */
  issuePrevious(packed: Uint8Array, kind: CookieKind): bigint | undefined {
    if (this.#previousKey === undefined) return undefined;
    return this.#mac(
      this.#previousKey,
      (this.#epoch - 1) >>> 0,
      packed,
      kind === "session" ? 1 : 0,
    );
  }

  /**
   * Checks a cookie against a packed address.
   *
   * @param cookie the cookie the peer presented
   * @param packed the packed source address of the datagram
   * @returns the cookie's kind, or undefined when it is not valid for this address now
   */
  verify(cookie: bigint, packed: Uint8Array): CookieKind | undefined {
    if (cookie === 0n) return undefined;
    const parity = Number(cookie & 1n);
    const kind = Number((cookie >> 1n) & 1n);
    let key: Uint8Array | undefined, epoch: number;
    if (parity === (this.#epoch & 1)) {
      key = this.#key;
      epoch = this.#epoch;
    } else {
      key = this.#previousKey;
      epoch = (this.#epoch - 1) >>> 0;
    }
    if (key === undefined) return undefined;
    if (this.#mac(key, epoch, packed, kind) !== cookie) return undefined;
    return kind === 1 ? "session" : "challenge";
  }

  #mac(key: Uint8Array, epoch: number, packed: Uint8Array, kind: number): bigint {
    const input = this.#input;
    input[0] = epoch >>> 24;
    input[1] = (epoch >>> 16) & 0xff;
    input[2] = (epoch >>> 8) & 0xff;
    input[3] = epoch & 0xff;
    input[4] = kind;
    input.set(packed, 5);
    const digest = createHmac("sha256", key).update(input.subarray(0, 5 + packed.length))
      .digest();
    const view = new DataView(digest.buffer, digest.byteOffset, 8);
    let c = view.getBigUint64(0);
    c = (c & ~3n) | BigInt((kind << 1) | (epoch & 1));
    if (c === 0n) c = 4n;
    return c;
  }
}
