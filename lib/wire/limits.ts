/** Limits of the wire format. Decoders reject anything beyond them; encoders refuse it. */

/** Magic number at the start of every datagram: ASCII "US". */
export const MAGIC = 0x5553;
/** Protocol version carried in every datagram. */
export const VERSION = 1;
/** Bytes in the common header: magic u16, version u8, type u8, txid u32. */
export const HEADER_SIZE = 8;
/** Largest datagram either side accepts (the IPv4 UDP payload limit). */
export const MAX_DATAGRAM = 65507;
/** A UDP payload size that every IPv4/IPv6 path carries. */
export const SAFE_DATAGRAM = 1200;
/** Node ids: 1..24 bytes of `[A-Za-z0-9._-]`. */
export const MAX_NODE_ID_BYTES = 24;
/** File names: 1..255 bytes of UTF-8. */
export const MAX_NAME_BYTES = 255;
/** ERROR text: 0..200 bytes of UTF-8. */
export const MAX_ERROR_TEXT_BYTES = 200;
/** Owners in one NEED reply; chosen so the largest reply stays under {@link SAFE_DATAGRAM}. */
export const MAX_OWNERS = 16;
/** Entries in one LISTING reply (a tracker fills a reply only as far as its size allows). */
export const MAX_LIST_ENTRIES = 32;
/** Bytes of a LISTING before its entries: header, total u32, nextCursor u32, count u8. */
export const LISTING_HEADER_SIZE: number = 8 + 4 + 4 + 1;
/** Bytes of a LISTING entry besides its name's UTF-8: contentId, size u64, owners u32, length u8. */
export const LISTING_ENTRY_BASE_SIZE: number = 32 + 8 + 4 + 1;
/** LIST patterns: 0..255 bytes of UTF-8. */
export const MAX_PATTERN_BYTES = 255;
/** Node ids a NEED may ask the tracker to leave out (keeps the NEED under 1,200 bytes). */
export const MAX_NEED_EXCLUDE = 32;
/** Owners in one REPORT (keeps it under 1,200 bytes). */
export const MAX_REPORT_ENTRIES = 32;
/** Ranges in one block request. */
export const MAX_RANGES = 64;
/** Bytes of bitfield in one HAVE message (8192 pieces). */
export const MAX_HAVE_BYTES = 1024;
/** Content ids are SHA-256 digests. */
export const CONTENT_ID_BYTES = 32;
/** Address cookies are 8 bytes. */
export const COOKIE_BYTES = 8;
/** REGISTER requests are padded to at least this size so the reply never exceeds the request. */
export const REGISTER_MIN_SIZE = 64;
/** Largest value of a 64-bit field that decodes to an exact JS number (2^53 - 1). */
export const MAX_U64_NUMBER: number = Number.MAX_SAFE_INTEGER;
/** Largest encoded manifest a downloader accepts (64 MiB: 2 Mi pieces). */
export const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;
/** Bytes before the data in a BLOCK_DATA datagram: header + offset u64. */
export const BLOCK_DATA_HEADER_SIZE = 16;
/** Smallest PROBE: header and size u32. */
export const PROBE_MIN_SIZE = 12;
/** Smallest PROBE_ACK: header, size u32 and cookie u64 (an owner answers only PROBEs this large). */
export const PROBE_ACK_MIN_SIZE = 20;
/** Bytes before the data in a MANIFEST_DATA datagram: header, contentId, total u32, offset u32. */
export const MANIFEST_DATA_HEADER_SIZE: number = 8 + 32 + 4 + 4;
