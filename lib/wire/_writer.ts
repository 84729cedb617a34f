/**
 * The codec's big-endian writer over a `DataView`, growing its buffer as needed; internal to
 * lib/wire.
 * @module
 */
import { WireError } from "./wire_error.ts";

const utf8 = new TextEncoder();

/** A cursor over an output buffer that refuses values that do not fit the wire format. */
export class Writer {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  pos = 0;
  readonly what: string;

  constructor(bytes: Uint8Array, what: string) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.what = what;
  }

  room(n: number): void {
    if (this.bytes.byteLength - this.pos < n) {
      throw new WireError(
        "too_large",
        -1,
        `Cannot encode ${this.what}: needs more than the ${this.bytes.byteLength}-byte buffer`,
      );
    }
  }

  private int(field: string, v: number, max: number): void {
    if (!Number.isInteger(v) || v < 0 || v > max) {
      throw new RangeError(
        `Cannot encode ${this.what}: ${field} must be an integer in 0..${max}, got ${v}`,
      );
    }
  }

  u8(v: number, field: string): void {
    this.int(field, v, 0xff);
    this.room(1);
    this.view.setUint8(this.pos++, v);
  }

  u16(v: number, field: string): void {
    this.int(field, v, 0xffff);
    this.room(2);
    this.view.setUint16(this.pos, v);
    this.pos += 2;
  }

  u32(v: number, field: string): void {
    this.int(field, v, 0xffffffff);
    this.room(4);
    this.view.setUint32(this.pos, v);
    this.pos += 4;
  }

  u64(v: number, field: string): void {
    this.int(field, v, Number.MAX_SAFE_INTEGER);
    this.room(8);
    this.view.setUint32(this.pos, Math.floor(v / 0x100000000));
    this.view.setUint32(this.pos + 4, v >>> 0);
    this.pos += 8;
  }

  bigU64(v: bigint, field: string): void {
    if (typeof v !== "bigint" || v < 0n || v > 0xffffffffffffffffn) {
      throw new RangeError(`Cannot encode ${this.what}: ${field} must be a 64-bit unsigned bigint`);
    }
    this.room(8);
    this.view.setBigUint64(this.pos, v);
    this.pos += 8;
  }

  fixed(b: Uint8Array, len: number, field: string): void {
    if (!(b instanceof Uint8Array) || b.byteLength !== len) {
      throw new RangeError(`Cannot encode ${this.what}: ${field} must be ${len} bytes`);
    }
    this.raw(b);
  }

  raw(b: Uint8Array): void {
    this.room(b.byteLength);
    this.bytes.set(b, this.pos);
    this.pos += b.byteLength;
  }

  str8(s: string, field: string, min: number, max: number): void {
    // TextEncoder would silently turn a lone surrogate into U+FFFD: the peer would then see
    // a different name than the sender meant.
    if (typeof s !== "string" || !s.isWellFormed()) {
      throw new TypeError(
        `Cannot encode ${this.what}: ${field} must be a well-formed Unicode string`,
      );
    }
    const b = utf8.encode(s);
    if (b.byteLength < min || b.byteLength > max) {
      throw new RangeError(
        `Cannot encode ${this.what}: ${field} is ${b.byteLength} bytes of UTF-8, expected ${min}..${max}`,
      );
    }
    this.u8(b.byteLength, field + " length");
    this.raw(b);
  }

  zeros(n: number): void {
    this.room(n);
    this.bytes.fill(0, this.pos, this.pos + n);
    this.pos += n;
  }

  done(): Uint8Array {
    return this.bytes.subarray(0, this.pos);
  }
}
