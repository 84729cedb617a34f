import type { PeerAddress } from "./address.ts";

/** Message type codes (the fourth header byte). */
export const MessageType = {
  register: 0x01,
  registered: 0x02,
  own: 0x03,
  need: 0x04,
  owners: 0x05,
  update: 0x06,
  exit: 0x07,
  ack: 0x08,
  error: 0x09,
  list: 0x0a,
  listing: 0x0b,
  report: 0x0c,
  manifest_request: 0x20,
  manifest_data: 0x21,
  block_request: 0x22,
  block_data: 0x23,
  have: 0x24,
  probe: 0x25,
  probe_ack: 0x26,
  bitfield: 0x27,
  sharer: 0x29,
} as const;

/** Name of a message type. */
export type MessageTypeName = keyof typeof MessageType;

/** ERROR reason codes, shared by tracker and peers. */
export const ErrorCode = {
  /** The request parsed but makes no sense (bad field combination). */
  malformed: 1,
  /** The node id is not registered (evicted, or the tracker restarted): register again. */
  unknown_node: 2,
  /**
   * The address cookie is stale or wrong for this address: register again (tracker), or send a
   * PROBE for a fresh one (peer).
   */
  bad_cookie: 3,
  /** The node id was registered from a different address. */
  wrong_address: 4,
  /** The tracker has reached its peer limit. */
  too_many_peers: 5,
  /** This peer has reached its per-peer file limit. */
  too_many_files: 6,
  /** Too many requests from this source; slow down. */
  rate_limited: 7,
  /** Nobody shares that name or content id. */
  not_found: 8,
  /** The uploader does not share that content id. */
  unknown_content: 9,
  /** The uploader is at its limit for this requester; retry later. */
  busy: 10,
  /** A field is out of range (offset past the end of the file, …). */
  out_of_range: 11,
  /**
   * The source address, or its network prefix (IPv4 /24, IPv6 /64), already holds its share of
   * the tracker's peers or files: other hosts come first.
   */
  address_limit: 14,
  /**
   * The file name is refused: a path, `.` or `..`, a device name reserved on Windows,
   * `.udpswarm`, or control, line-break, bidirectional or invisible characters.
   */
  bad_name: 15,
  /**
   * The uploader serves other requesters now (its upload slots are full): ask other owners and
   * this one again in a while (upload_slots.ts). Older downloaders take it as `busy`.
   */
  choked: 18,
  /**
   * The uploader answers no larger path MTU probes now (many downloaders probe it at once): use
   * the largest size it acknowledged. Sent only in answer to a PROBE larger than an Ethernet
   * frame.
   */
  probe_refused: 19,
} as const;

/** Numeric ERROR reason code. */
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Fields common to every message: a 32-bit transaction (tracker) or transfer (peer) id. */
export interface Base {
  /** Transaction id (tracker protocol) or transfer id (peer protocol), u32. */
  txid: number;
}

/** Peer → tracker: first contact (cookie 0n) or heartbeat (the cookie from the last reply). */
export interface RegisterMessage extends Base {
  /** Message type: REGISTER. */
  type: "register";
  /** Address cookie; 0n on first contact. */
  cookie: bigint;
  /** Node id chosen by the peer. */
  nodeId: string;
}

/** Tracker → peer: reply to REGISTER. */
export interface RegisteredMessage extends Base {
  /** Message type: REGISTERED. */
  type: "registered";
  /** Cookie to present in every later message. */
  cookie: bigint;
  /** Heartbeat interval T in milliseconds. */
  intervalMs: number;
  /** Milliseconds of silence after which the tracker evicts this peer. */
  evictAfterMs: number;
}

/** Peer → tracker: this peer now shares a file. */
export interface OwnMessage extends Base {
  /** Message type: OWN. */
  type: "own";
  /** Address cookie from the last REGISTERED. */
  cookie: bigint;
  /** Node id of the sender. */
  nodeId: string;
  /** File name for people, 1..255 bytes of UTF-8. */
  name: string;
  /** File size in bytes (up to 2^53-1). */
  size: number;
  /** SHA-256 of the encoded manifest, 32 bytes. */
  contentId: Uint8Array;
  /**
   * A download in progress: the sender has verified `have` of `pieces` pieces (0 ≤ have <
   * pieces; 0: it has opened the download and will serve its pieces as it verifies them) and
   * serves those. Absent: it has the whole file. On the wire: an optional 8-byte
   * tail (docs/PROTOCOL.md).
   */
  progress?: OwnProgress;
}

/** How much of a file a partial owner has (see {@link OwnMessage.progress}). */
export interface OwnProgress {
  /** Pieces verified, u32. */
  have: number;
  /** Pieces in the file, u32, more than `have`. */
  pieces: number;
}

/** NEED flag: the asker takes partial owners (OWNERS then carries each owner's share). */
export const NEED_PARTIAL = 1;

/** What a NEED asks for. */
export type NeedTarget =
  | { kind: "name"; name: string }
  | { kind: "content"; contentId: Uint8Array };

/** Peer → tracker: who owns this file? */
export interface NeedMessage extends Base {
  /** Message type: NEED. */
  type: "need";
  /** Address cookie from the last REGISTERED. */
  cookie: bigint;
  /** Node id of the sender. */
  nodeId: string;
  /** The file asked for, by name or by content id. */
  want: NeedTarget;
  /** At most this many owners, 0..255; 0 asks for the tracker's default (which also caps it). */
  maxOwners: number;
  /**
   * Flags, an optional trailing byte ({@link NEED_PARTIAL}); absent or 0: complete owners only.
   * @default 0
   */
  flags?: number;
  /**
   * Node ids the asker found dead or failing: the tracker leaves them out of the reply. Up to
   * 32 (`MAX_NEED_EXCLUDE`); absent or empty encodes nothing (the NEED of before).
   */
  exclude?: string[];
}

/** One owner in a NEED reply. */
export interface OwnerEntry {
  /** The owner's node id. */
  nodeId: string;
  /** Where to send peer-protocol requests to this owner (the address it registered from). */
  address: PeerAddress;
  /** Current upload rate in bytes/s, saturated at 2^32-1. */
  rate: number;
  /**
   * Share of the file it has: 255 = all of it; 0..254 = a partial owner with about `have`/254
   * of the pieces. Present (on every entry) only in answer to a NEED with {@link NEED_PARTIAL}.
   */
  have?: number;
}

/** Tracker → peer: reply to NEED. */
export interface OwnersMessage extends Base {
  /** Message type: OWNERS. */
  type: "owners";
  /** Content id of the file found, 32 bytes (by name: the content most owners announce). */
  contentId: Uint8Array;
  /** File name, 1..255 bytes of UTF-8. */
  name: string;
  /** File size in bytes (up to 2^53-1). */
  size: number;
  /** How many other content ids share this name (0 when asked by content id). */
  alternatives: number;
  /** Best first. */
  owners: OwnerEntry[];
}

/** Peer → tracker: bytes uploaded since the last UPDATE. */
export interface UpdateMessage extends Base {
  /** Message type: UPDATE. */
  type: "update";
  /** Address cookie from the last REGISTERED. */
  cookie: bigint;
  /** Node id of the sender. */
  nodeId: string;
  /** Bytes uploaded to other peers since the previous UPDATE (up to 2^53-1). */
  uploaded: number;
}

/** One owner's share in a REPORT. */
export interface ReportEntry {
  /** The owner's node id. */
  nodeId: string;
  /** Bytes received from it and verified (in pieces whose hash matched), up to 2^53-1. */
  bytes: number;
}

/**
 * Downloader → tracker: the bytes it received and verified from each owner of one content
 * since its previous REPORT for it. The tracker ranks owners by these, not by their own UPDATE.
 */
export interface ReportMessage extends Base {
  /** Message type: REPORT. */
  type: "report";
  /** Address cookie from the last REGISTERED. */
  cookie: bigint;
  /** Node id of the sender (the downloader). */
  nodeId: string;
  /** The content downloaded, 32 bytes. */
  contentId: Uint8Array;
  /** 1..32 (`MAX_REPORT_ENTRIES`) owners with their verified bytes. */
  entries: ReportEntry[];
}

/** Peer → tracker: forget me. */
export interface ExitMessage extends Base {
  /** Message type: EXIT. */
  type: "exit";
  /** Address cookie from the last REGISTERED. */
  cookie: bigint;
  /** Node id of the sender. */
  nodeId: string;
}

/** Tracker → peer: the request with this txid was applied. */
export interface AckMessage extends Base {
  /** Message type: ACK (the header alone). */
  type: "ack";
}

/** Either side: the request with this txid failed. */
export interface ErrorMessage extends Base {
  /** Message type: ERROR. */
  type: "error";
  /** Reason, u16: one of {@link ErrorCode} (the codec accepts any value). */
  code: number;
  /** Short human-readable text, 0..200 bytes. */
  text: string;
}

/** Downloader → owner: send the encoded manifest from `offset`. */
export interface ManifestRequestMessage extends Base {
  /** Message type: MANIFEST_REQUEST. */
  type: "manifest_request";
  /** The owner's address cookie for the downloader's IP, from its PROBE_ACK. */
  cookie: bigint;
  /** Content id whose manifest is wanted, 32 bytes. */
  contentId: Uint8Array;
  /** Byte offset into the encoded manifest to send from. */
  offset: number;
  /** Largest datagram the downloader accepts, 64..65507. */
  maxDatagram: number;
}

/** Owner → downloader: a slice of the encoded manifest. */
export interface ManifestDataMessage extends Base {
  /** Message type: MANIFEST_DATA. */
  type: "manifest_data";
  /** Content id the manifest belongs to, 32 bytes. */
  contentId: Uint8Array;
  /** Length of the whole encoded manifest in bytes, at most 64 MiB. */
  total: number;
  /** Where `data` starts in the encoded manifest; `offset + data.byteLength ≤ total`. */
  offset: number;
  /** The slice; when decoded, a view into the datagram (copy it to keep it). */
  data: Uint8Array;
}

/** A byte range of a file. */
export interface ByteRange {
  /** First byte, counted from the start of the file. */
  offset: number;
  /** Length in bytes, 1..2^32-1; the range must end at or before 2^53-1. */
  length: number;
}

/** Downloader → owner: send these ranges, `blockSize` data bytes per datagram. */
export interface BlockRequestMessage extends Base {
  /** Message type: BLOCK_REQUEST. */
  type: "block_request";
  /** The owner's address cookie for the downloader's IP, from its PROBE_ACK. */
  cookie: bigint;
  /** Content id of the file, 32 bytes. */
  contentId: Uint8Array;
  /** Data bytes per BLOCK_DATA datagram, 1..65491. */
  blockSize: number;
  /** The ranges wanted, 1..64 of them. */
  ranges: ByteRange[];
}

/** Owner → downloader: file bytes at `offset`; `txid` is the downloader's transfer id. */
export interface BlockDataMessage extends Base {
  /** Message type: BLOCK_DATA. */
  type: "block_data";
  /** File offset of the first byte of `data`. */
  offset: number;
  /** File bytes, to the end of the datagram; when decoded, a view into it (copy it to keep it). */
  data: Uint8Array;
}

/** Either peer: which pieces of a content the sender has verified (bit i = piece firstPiece+i). */
export interface HaveMessage extends Base {
  /** Message type: HAVE. */
  type: "have";
  /** Content id of the file, 32 bytes. */
  contentId: Uint8Array;
  /** Total pieces of the content. */
  pieceCount: number;
  /** Index of the piece that bit 0 describes, at most `pieceCount`. */
  firstPiece: number;
  /** MSB-first bitfield, up to 1024 bytes. */
  bits: Uint8Array;
}

/**
 * Either peer: piece availability, as a request (the sender's own bits, carrying the receiver's
 * address cookie) or its reply (the replier's bits for the same slice, the same size).
 */
export interface BitfieldMessage extends Base {
  /** Message type: BITFIELD. */
  type: "bitfield";
  /** The receiver's address cookie for the sender's IP (requests); 0n in replies. */
  cookie: bigint;
  /** Content id of the file, 32 bytes. */
  contentId: Uint8Array;
  /** An answer to a BITFIELD request. */
  reply: boolean;
  /**
   * The bits are what the sender offers now, not all it has (a seed sending each piece to the
   * swarm about once): ask again once they are fetched.
   */
  offer: boolean;
  /** Total pieces of the content. */
  pieceCount: number;
  /** Index of the piece that bit 0 describes, at most `pieceCount`. */
  firstPiece: number;
  /** MSB-first bitfield, up to 1024 bytes. */
  bits: Uint8Array;
}

/**
 * Downloader → owner, with its first BITFIELD request: "I download this content too and serve
 * what I verify, on `port` of the address this comes from, as `nodeId`". A claim for the
 * receiver's own download of the same content (peer discovery: it learns the sharers that ask
 * it, not only those the tracker lists); never answered.
 */
export interface SharerMessage extends Base {
  /** Message type: SHARER. */
  type: "sharer";
  /** The receiver's address cookie for the sender's address (proves the source address). */
  cookie: bigint;
  /** Content id of the file, 32 bytes. */
  contentId: Uint8Array;
  /** The UDP port the sender serves on, at the address this datagram came from. */
  port: number;
  /** The sender's node id. */
  nodeId: string;
}

/** Path MTU probe, padded to `size` bytes in total. */
export interface ProbeMessage extends Base {
  /** Message type: PROBE. */
  type: "probe";
  /** Total datagram size in bytes, header included, 12..65507. */
  size: number;
}

/** Reply to a probe, padded to the same `size`; carries the replier's address cookie. */
export interface ProbeAckMessage extends Base {
  /** Message type: PROBE_ACK. */
  type: "probe_ack";
  /** Total datagram size in bytes, the same as the probe's, 20..65507. */
  size: number;
  /**
   * The replier's address cookie for the prober's IP address: present it in MANIFEST_REQUEST
   * and BLOCK_REQUEST to this peer. 0n from a peer that does not hand out cookies.
   */
  cookie: bigint;
}

/** How a LIST pattern is matched against names. */
export type ListMatch =
  /** The name contains the pattern, ignoring case ("" matches every name). */
  | "substring"
  /** The whole name matches the glob, ignoring case: `*` any run, `?` one character. */
  | "glob"
  /** The name is exactly the pattern (case and all). */
  | "exact";

/** Peer → tracker: which files (name, content id) match this pattern? One page of them. */
export interface ListMessage extends Base {
  /** Message type: LIST. */
  type: "list";
  /** Address cookie from the last REGISTERED. */
  cookie: bigint;
  /** Node id of the sender. */
  nodeId: string;
  /** Position in the listing to start at: 0, or the `nextCursor` of the previous page. */
  cursor: number;
  /** At most this many entries, 0..255; 0 asks for as many as fit one reply. */
  maxEntries: number;
  /** How `pattern` is matched. */
  match: ListMatch;
  /** The pattern, 0..255 bytes of UTF-8. */
  pattern: string;
}

/** One file in a LISTING: a content id announced under a name. */
export interface ListingEntry {
  /** Content id, 32 bytes. */
  contentId: Uint8Array;
  /** File size in bytes (up to 2^53-1). */
  size: number;
  /** Owners of the content (peers that announced it complete), saturated at 2^32-1. */
  owners: number;
  /** The name it is announced under, 1..255 bytes of UTF-8. */
  name: string;
}

/** Tracker → peer: reply to LIST, one page of the entries sorted by name, then content id. */
export interface ListingMessage extends Base {
  /** Message type: LISTING. */
  type: "listing";
  /** Entries matching the pattern in the whole listing. */
  total: number;
  /** Cursor of the next page; 0 when this page is the last. */
  nextCursor: number;
  /** This page's entries, at most `MAX_LIST_ENTRIES` (32). */
  entries: ListingEntry[];
}

/** Messages of the tracker protocol. */
export type TrackerMessage =
  | RegisterMessage
  | RegisteredMessage
  | OwnMessage
  | NeedMessage
  | OwnersMessage
  | UpdateMessage
  | ExitMessage
  | ReportMessage
  | AckMessage
  | ErrorMessage
  | ListMessage
  | ListingMessage;

/** Messages of the peer protocol (ERROR is shared). */
export type PeerMessage =
  | ManifestRequestMessage
  | ManifestDataMessage
  | BlockRequestMessage
  | BlockDataMessage
  | HaveMessage
  | BitfieldMessage
  | SharerMessage
  | ProbeMessage
  | ProbeAckMessage
  | ErrorMessage;

/** Every message of both protocols. */
export type Message = TrackerMessage | PeerMessage;
