/**
 * fast-check arbitraries for valid wire messages, shared by the wire tests. Every value they
 * produce respects lib/wire/limits.ts, so `encodeMessage` must accept it.
 */
import fc from "fast-check";
import {
  canonicalAddress,
  ErrorCode,
  type Message,
  type MessageTypeName,
  type PeerAddress,
} from "../../lib/wire/mod.ts";
import * as limits from "../../lib/wire/limits.ts";

const U32_MAX = 0xffffffff;

/** u8 with its edges. */
export const u8 = fc.integer({ min: 0, max: 0xff });
/** u16 (fc.integer already biases towards both ends). */
export const u16 = fc.integer({ min: 0, max: 0xffff });
/** u32, with the sign-bit edges that a careless `| 0` would break. */
export const u32 = fc.oneof(
  fc.constantFrom(0, 1, 0x7fffffff, 0x80000000, U32_MAX),
  fc.integer({ min: 0, max: U32_MAX }),
);
/** 64-bit fields carried as JS numbers: 0..2^53-1, biased to the 32-bit boundary and the top. */
export const u64 = fc.oneof(
  fc.constantFrom(
    0,
    U32_MAX,
    U32_MAX + 1,
    2 ** 52,
    limits.MAX_U64_NUMBER - 1,
    limits.MAX_U64_NUMBER,
  ),
  fc.integer({ min: 0, max: U32_MAX + 1 }),
  fc.maxSafeNat(),
);
/** Address cookies: the full unsigned 64-bit range. */
export const cookie = fc.oneof(
  fc.constantFrom(0n, 1n, 2n ** 32n, 2n ** 63n, 2n ** 64n - 1n),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
);
/** Transaction / transfer ids. */
export const txid = u32;

/**
 * A small deterministic PRNG (xorshift32). Strings are built from a drawn seed rather than one
 * fast-check draw per character: the property suites generate ~100,000 messages, and that
 * keeps them at a few seconds.
 */
function xorshift(seed: number): () => number {
  let x = (seed ^ 0x9e3779b9) | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

const NODE_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-";
/** Node ids: 1..24 characters of `[A-Za-z0-9._-]`. */
export const nodeId = fc.tuple(fc.integer({ min: 1, max: limits.MAX_NODE_ID_BYTES }), fc.nat())
  .map(([len, seed]) => {
    const next = xorshift(seed);
    let out = "";
    for (let i = 0; i < len; i++) out += NODE_ID_CHARS[next() % NODE_ID_CHARS.length];
    return out;
  });

/**
 * A well-formed string of exactly `bytes` UTF-8 bytes. `mix` (0..4) is the share, in quarters,
 * of non-ASCII characters: 2-byte (U+0080..U+07FF), 3-byte (U+0800..U+FFFF without
 * surrogates, sometimes a BOM) and 4-byte (U+10000..U+10FFFF) alike.
 */
export function utf8Text(bytes: number, seed: number, mix: number): string {
  const next = xorshift(seed);
  let out = "";
  let left = bytes;
  while (left > 0) {
    const r = next();
    const len = r % 4 < mix ? 2 + (r >>> 2) % 3 : 1;
    const v = r >>> 4;
    let cp: number;
    if (len > left || len === 1) cp = v % 0x80;
    else if (len === 2) cp = 0x80 + v % 0x780;
    else if (len === 3) {
      cp = v % 16 === 0 ? 0xfeff : 0x800 + (v >>> 4) % 0xf800;
      if (cp >= 0xd800 && cp <= 0xdfff) cp += 0x800;
    } else cp = 0x10000 + v % 0x100000;
    out += String.fromCodePoint(cp);
    left -= cp < 0x80 ? 1 : len;
  }
  return out;
}

/** Well-formed Unicode strings of `min..max` UTF-8 bytes (multi-byte characters included). */
export function utf8String(min: number, max: number): fc.Arbitrary<string> {
  return fc.tuple(fc.integer({ min, max }), fc.nat(), fc.integer({ min: 0, max: 4 }))
    .map(([bytes, seed, mix]) => utf8Text(bytes, seed, mix));
}

/** File names: 1..255 bytes of UTF-8. */
export const name = utf8String(1, limits.MAX_NAME_BYTES);
/** ERROR texts: 0..200 bytes of UTF-8. */
export const errorText = utf8String(0, limits.MAX_ERROR_TEXT_BYTES);
/** `n` bytes from the PRNG seeded with `seed`. */
export function randomBytes(n: number, seed: number): Uint8Array {
  const next = xorshift(seed);
  const out = new Uint8Array(n);
  const words = new Uint32Array(out.buffer, 0, n >> 2);
  for (let i = 0; i < words.length; i++) words[i] = next();
  for (let i = words.length * 4; i < n; i++) out[i] = next() & 0xff;
  return out;
}

/** Content ids: 32 bytes, sometimes all zeros or all ones. */
export const contentId = fc.oneof(
  { weight: 6, arbitrary: fc.nat().map((seed) => randomBytes(limits.CONTENT_ID_BYTES, seed)) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(0, 0xff).map((b) => new Uint8Array(limits.CONTENT_ID_BYTES).fill(b)),
  },
);

/** Byte strings of `0..max` bytes, biased to short ones, with `max` itself now and then. */
export function bytesUpTo(max: number): fc.Arbitrary<Uint8Array> {
  const length = fc.oneof(
    { weight: 12, arbitrary: fc.integer({ min: 0, max: Math.min(64, max) }) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max }) },
    { weight: 1, arbitrary: fc.constant(max) },
  );
  return fc.tuple(length, fc.nat()).map(([n, seed]) => randomBytes(n, seed));
}

/** A UDP port. */
export const port = fc.integer({ min: 0, max: 0xffff });

const v4Bytes = fc.nat().map((seed) => randomBytes(4, seed));
/**
 * 16 IPv6 address bytes: random groups with a random set of them zeroed (so zero runs of every
 * length and position occur, "::" included), and IPv4-mapped addresses.
 */
export const v6Bytes = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.tuple(fc.integer({ min: 0, max: 0xff }), fc.nat()).map(([zeroMask, seed]) => {
      const out = randomBytes(16, seed);
      for (let i = 0; i < 8; i++) {
        if (zeroMask & (1 << i)) out[2 * i] = out[2 * i + 1] = 0;
      }
      return out;
    }),
  },
  {
    weight: 1,
    arbitrary: v4Bytes.map((b) => Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...b)),
  },
);

/** The uncompressed, zero-padded text of 16 address bytes ("0000:0000:…"). */
export function uncompressedIPv6(b: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) {
    groups.push(((b[i]! << 8) | b[i + 1]!).toString(16).padStart(4, "0"));
  }
  return groups.join(":");
}

/** Wire addresses made from random bytes and canonicalized by `canonicalAddress`. */
export const address: fc.Arbitrary<PeerAddress> = fc.oneof(
  fc.tuple(v4Bytes, port).map(([b, p]) => canonicalAddress(Array.from(b).join("."), p)),
  fc.tuple(v6Bytes, port).map(([b, p]) => canonicalAddress(uncompressedIPv6(b), p)),
);

/** fc.record, but with plain objects: decoded messages have Object.prototype. */
function record<T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model, { noNullPrototype: true });
}

type Of<K extends MessageTypeName> = Extract<Message, { type: K }>;

/** One arbitrary of valid messages per message type. */
const needFields = {
  type: fc.constant("need" as const),
  txid,
  cookie,
  nodeId,
  want: fc.oneof(
    record({ kind: fc.constant("name" as const), name }),
    record({ kind: fc.constant("content" as const), contentId }),
  ),
  maxOwners: u8,
};
const needExclude = fc.array(nodeId, { minLength: 1, maxLength: limits.MAX_NEED_EXCLUDE });

export const messages: { [K in MessageTypeName]: fc.Arbitrary<Of<K>> } = {
  register: record({
    type: fc.constant("register"),
    txid,
    cookie,
    nodeId,
  }),
  registered: record({
    type: fc.constant("registered"),
    txid,
    cookie,
    intervalMs: u32,
    evictAfterMs: u32,
  }),
  own: fc.tuple(
    record({
      type: fc.constant("own"),
      txid,
      cookie,
      nodeId,
      name,
      size: u64,
      contentId,
    }),
    fc.option(fc.tuple(fc.integer({ min: 1, max: U32_MAX - 1 }), fc.nat())),
  ).map(([m, p]) =>
    p === null
      ? m
      : { ...m, progress: { have: p[0], pieces: p[0] + 1 + (p[1] % (U32_MAX - p[0])) } }
  ),
  need: fc.tuple(
    fc.oneof(record(needFields), record({ ...needFields, exclude: needExclude })),
    fc.option(u8),
  ).map(([m, flags]) => (flags === null ? m : { ...m, flags })),
  owners: fc.tuple(
    record({
      type: fc.constant("owners"),
      txid,
      contentId,
      name,
      size: u64,
      alternatives: u16,
      owners: fc.array(record({ nodeId, address, rate: u32 }), {
        maxLength: limits.MAX_OWNERS,
        size: "max",
      }),
    }),
    fc.boolean(),
    fc.nat(),
  ).map(([m, partial, seed]) =>
    !partial || m.owners.length === 0
      ? m
      : { ...m, owners: m.owners.map((o, i) => ({ ...o, have: (seed + i * 37) % 256 })) }
  ),
  update: record({
    type: fc.constant("update"),
    txid,
    cookie,
    nodeId,
    uploaded: u64,
  }),
  exit: record({ type: fc.constant("exit"), txid, cookie, nodeId }),
  report: record({
    type: fc.constant("report"),
    txid,
    cookie,
    nodeId,
    contentId,
    entries: fc.array(record({ nodeId, bytes: u64 }), {
      minLength: 1,
      maxLength: limits.MAX_REPORT_ENTRIES,
    }),
  }),
  ack: record({ type: fc.constant("ack"), txid }),
  error: record({
    type: fc.constant("error"),
    txid,
    code: fc.oneof(fc.constantFrom(...Object.values(ErrorCode)), u16),
    text: errorText,
  }),
  list: record({
    type: fc.constant("list"),
    txid,
    cookie,
    nodeId,
    cursor: u32,
    maxEntries: u8,
    match: fc.constantFrom("substring" as const, "glob" as const, "exact" as const),
    pattern: utf8String(0, limits.MAX_PATTERN_BYTES),
  }),
  listing: record({
    type: fc.constant("listing"),
    txid,
    total: u32,
    nextCursor: u32,
    entries: fc.array(record({ contentId, size: u64, owners: u32, name }), {
      maxLength: limits.MAX_LIST_ENTRIES,
      size: "max",
    }),
  }),
  manifest_request: record({
    type: fc.constant("manifest_request"),
    txid,
    cookie,
    contentId,
    offset: u32,
    maxDatagram: fc.integer({ min: 64, max: limits.MAX_DATAGRAM }),
  }),
  manifest_data: fc.tuple(
    txid,
    contentId,
    bytesUpTo(limits.MAX_DATAGRAM - limits.MANIFEST_DATA_HEADER_SIZE),
    fc.integer({ min: 0, max: limits.MAX_MANIFEST_BYTES }),
    fc.integer({ min: 0, max: limits.MAX_MANIFEST_BYTES }),
  ).map(([txid, contentId, data, t, o]) => {
    const total = Math.max(t, data.byteLength);
    const offset = o % (total - data.byteLength + 1);
    return { type: "manifest_data" as const, txid, contentId, total, offset, data };
  }),
  block_request: record({
    type: fc.constant("block_request"),
    txid,
    cookie,
    contentId,
    blockSize: fc.integer({ min: 1, max: limits.MAX_DATAGRAM - limits.BLOCK_DATA_HEADER_SIZE }),
    ranges: fc.array(
      fc.tuple(u64, fc.integer({ min: 1, max: U32_MAX })).map(([o, length]) => ({
        offset: Math.min(o, limits.MAX_U64_NUMBER - length),
        length,
      })),
      { minLength: 1, maxLength: limits.MAX_RANGES, size: "max" },
    ),
  }),
  block_data: record({
    type: fc.constant("block_data"),
    txid,
    offset: u64,
    data: bytesUpTo(limits.MAX_DATAGRAM - limits.BLOCK_DATA_HEADER_SIZE),
  }),
  have: fc.tuple(txid, contentId, u32, u32, bytesUpTo(limits.MAX_HAVE_BYTES)).map(
    ([txid, contentId, pieceCount, f, bits]) => ({
      type: "have" as const,
      txid,
      contentId,
      pieceCount,
      firstPiece: f % (pieceCount + 1),
      bits,
    }),
  ),
  bitfield: fc.tuple(
    txid,
    cookie,
    contentId,
    fc.boolean(),
    fc.boolean(),
    u32,
    u32,
    bytesUpTo(limits.MAX_HAVE_BYTES),
  ).map(([txid, cookie, contentId, reply, offer, pieceCount, f, bits]) => ({
    type: "bitfield" as const,
    txid,
    cookie,
    contentId,
    reply,
    offer,
    pieceCount,
    firstPiece: f % (pieceCount + 1),
    bits,
  })),
  sharer: record({
    type: fc.constant("sharer"),
    txid,
    cookie,
    contentId,
    port: fc.integer({ min: 1, max: 65535 }),
    nodeId,
  }),
  probe: record({
    type: fc.constant("probe"),
    txid,
    size: fc.integer({ min: limits.PROBE_MIN_SIZE, max: limits.MAX_DATAGRAM }),
  }),
  probe_ack: record({
    type: fc.constant("probe_ack"),
    txid,
    size: fc.integer({ min: limits.PROBE_ACK_MIN_SIZE, max: limits.MAX_DATAGRAM }),
    cookie,
  }),
};

/** Any valid message of either protocol. */
export const anyMessage: fc.Arbitrary<Message> = fc.oneof(
  ...(Object.values(messages) as fc.Arbitrary<Message>[]),
);
