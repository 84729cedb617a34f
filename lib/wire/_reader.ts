/**
 * The codec's bounds-checked big-endian reader over a `DataView`: every read checks the length
 * first and throws a `WireError` with the offset; internal to lib/wire.
 * @module
 */
import { WireError } from "./wire_error.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** A cursor over a datagram that checks the length before every read. */
export class Reader {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  pos: number;
  readonly what: string;

  constructor(bytes: Uint8Array, pos: number, what: string) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = pos;
    this.what = what;
  }

  get remaining(): number {
    return this.bytes.byteLength - this.pos;
  }

  need(n: number, field: string): void {
    if (this.remaining < n) {
      throw new WireError(
        "truncated",
        this.pos,
        `Cannot decode ${this.what}: ${field} needs ${n} bytes at offset ${this.pos}, datagram is ${this.bytes.byteLength} bytes`,
      );
    }
  }

  u8(field: string): number {
    this.need(1, field);
    return this.view.getUint8(this.pos++);
  }

  u16(field: string): number {
    this.need(2, field);
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }

  u32(field: string): number {
    this.need(4, field);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  /** A 64-bit unsigned field that must fit a JS number exactly. */
  u64(field: string): number {
    this.need(8, field);
    const hi = this.view.getUint32(this.pos);
    const lo = this.view.getUint32(this.pos + 4);
    if (hi > 0x1fffff) {
      throw new WireError(
        "bad_value",
        this.pos,
        `Cannot decode ${this.what}: ${field} exceeds 2^53-1 at offset ${this.pos}`,
      );
    }
    this.pos += 8;
    return hi * 0x100000000 + lo;
  }

  bigU64(field: string): bigint {
    this.need(8, field);
    const v = this.view.getBigUint64(this.pos);
    this.pos += 8;
    return v;
  }

  /** A copy of the next `n` bytes. */
  copy(n: number, field: string): Uint8Array {
    this.need(n, field);
    const out = this.bytes.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** A view (no copy) of the next `n` bytes. */
  view_(n: number, field: string): Uint8Array {
    this.need(n, field);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** A view of everything that is left. */
  rest(): Uint8Array {
    const out = this.bytes.subarray(this.pos);
    this.pos = this.bytes.byteLength;
    return out;
  }

  /** A string with a u8 length prefix, `min..max` bytes of valid UTF-8. */
  str8(field: string, min: number, max: number): string {
    const at = this.pos;
    const len = this.u8(field + " length");
    if (len < min || len > max) {
      throw new WireError(
        "bad_length",
        at,
        `Cannot decode ${this.what}: ${field} is ${len} bytes, expected ${min}..${max}`,
      );
    }
    const raw = this.view_(len, field);
    try {
      return utf8.decode(raw);
    } catch {
      throw new WireError(
        "bad_utf8",
        at + 1,
        `Cannot decode ${this.what}: ${field} is not valid UTF-8`,
      );
    }
  }

  /** A count that must lie in `0..max`. */
  count(field: string, max: number): number {
    const at = this.pos;
    const n = this.u8(field);
    if (n > max) {
      throw new WireError(
        "too_many",
        at,
        `Cannot decode ${this.what}: ${field} is ${n}, at most ${max} allowed`,
      );
    }
    return n;
  }

  fail(reason: "bad_value" | "bad_length", at: number, detail: string): never {
    throw new WireError(reason, at, `Cannot decode ${this.what}: ${detail}`);
  }

  end(): void {
    if (this.remaining !== 0) {
      throw new WireError(
        "trailing_bytes",
        this.pos,
        `Cannot decode ${this.what}: ${this.remaining} unexpected bytes after offset ${this.pos}`,
      );
    }
  }
}
