/**
 * The ERROR side of the tracker core (tracker_core.ts): {@link IncidentLog} (what they log about what they drop or refuse,
 * throttled), {@link decodeRequest}, {@link errorReply} (an ERROR cut to a byte budget), the
 * event a logged refusal becomes, the LIST event, and the texts of its refusals.
 * @module
 */
import { decodeMessage, encodeMessage } from "../wire/codec.ts";
import { WireError } from "../wire/wire_error.ts";
import { headerTxid } from "../wire/fast_path.ts";
import {
  ErrorCode,
  type ErrorCodeValue,
  type ListMessage,
  type Message,
} from "../wire/messages.ts";
import { HEADER_SIZE, MAX_ERROR_TEXT_BYTES } from "../wire/limits.ts";
import { formatHostPort } from "../net/host_port.ts";
import type { TrackerEvent } from "./tracker_event.ts";
import { LogThrottle } from "../log/log_throttle.ts";
import { MAX_INCIDENT_LINES_PER_MINUTE } from "./limits.ts";
import type { ListingPage } from "./file_listing.ts";

const utf8 = new TextEncoder();

/**
 * Bytes of `s` in UTF-8, without encoding it when it is ASCII.
 *
 * @param s the text
 * @returns its UTF-8 length
 */
export function utf8Length(s: string): number {
  // Fast path: an ASCII string is as many bytes as UTF-16 units.
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0x7f) return utf8.encode(s).byteLength;
  }
  return s.length;
}

/**
 * Cuts `text` to at most `max` bytes of UTF-8 without splitting a character.
 *
 * @param text the text
 * @param max the byte budget
 * @returns `text`, or its longest prefix of whole characters that fits
 */
export function fitText(text: string, max: number): string {
  if (max <= 0) return "";
  if (utf8Length(text) <= max) return text;
  let out = "";
  let bytes = 0;
  for (const ch of text) {
    const n = utf8Length(ch);
    if (bytes + n > max) break;
    out += ch;
    bytes += n;
  }
  return out;
}

/**
 * An ERROR of at most `maxBytes` bytes: the request's size for a source that has not proven
 * its address (anti-amplification), Infinity for a verified peer. The text is cut to fit.
 *
 * @param txid the request's txid
 * @param code the ERROR code
 * @param text the ERROR text
 * @param maxBytes the largest reply allowed
 * @param counters the core's counters: `errors` counts each ERROR made
 * @returns the ERROR, or undefined when not even an empty text fits
 */
export function errorReply(
  txid: number,
  code: ErrorCodeValue,
  text: string,
  maxBytes: number,
  counters: { errors: number },
): Uint8Array | undefined {
  const room = Math.min(MAX_ERROR_TEXT_BYTES, maxBytes - HEADER_SIZE - 3);
  if (room < 0) return undefined;
  counters.errors++;
  return encodeMessage({ type: "error", txid, code, text: fitText(text, room) });
}

/**
 * Decodes a request; a malformed one (a {@link WireError}) gives what to log instead.
 *
 * @param bytes the datagram
 * @returns the message, or `{ malformed }` with the decoder's reason
 */
export function decodeRequest(bytes: Uint8Array): Message | { malformed: string } {
  try {
    return decodeMessage(bytes);
  } catch (e) {
    return { malformed: e instanceof WireError ? e.message : String(e) };
  }
}

/**
 * The ERROR rate_limited to a dropped datagram, no larger than it: one a source per minute (the
 * caller's throttle), so that a well-behaved client learns why it is dropped.
 *
 * @param bytes the dropped datagram
 * @param counters the core's counters (`errors`)
 * @returns the ERROR, or undefined for a datagram too short to carry a txid
 */
export function rateLimitedReply(
  bytes: Uint8Array,
  counters: { errors: number },
): Uint8Array | undefined {
  if (bytes.byteLength < HEADER_SIZE) return undefined;
  const text = "Too many requests: slow down";
  return errorReply(headerTxid(bytes), ErrorCode.rate_limited, text, bytes.byteLength, counters);
}

const CODE_NAMES: Record<number, string> = {};
for (const [name, code] of Object.entries(ErrorCode)) CODE_NAMES[code] = name;

/**
 * The event of a logged refusal.
 *
 * @param from the request's source
 * @param request the request's type
 * @param code the ERROR code
 * @param detail the ERROR text
 * @returns a `refused` event
 */
export function refusedEvent(
  from: { hostname: string; port: number },
  request: string,
  code: ErrorCodeValue,
  detail: string,
): TrackerEvent {
  const name = CODE_NAMES[code] ?? String(code);
  return { type: "refused", source: formatHostPort(from), request, code: name, detail };
}

/**
 * The event of a LIST answered.
 *
 * @param nodeId the asker
 * @param msg the LIST
 * @param page the page returned
 * @returns a `list` event
 */
export function listEvent(nodeId: string, msg: ListMessage, page: ListingPage): TrackerEvent {
  const { match, pattern, cursor } = msg;
  return {
    type: "list",
    nodeId,
    match,
    pattern,
    cursor,
    returned: page.entries.length,
    total: page.total,
  };
}

/**
 * The detail logged for a message type a tracker does not serve.
 *
 * @param type the message's type
 * @returns the log detail
 */
export function unexpectedDetail(type: string): string {
  return `unexpected ${type} message (the tracker serves register, own, need, list, update, report, exit)`;
}

/** The texts of the refusals both cores share. */
export const refusalText = {
  /** ERROR unknown_node. */
  notRegistered: (nodeId: string): string => `Node ${nodeId} is not registered: register again`,
  /** ERROR wrong_address; for a REGISTER (`registering`) it says what to do instead. */
  otherAddress: (nodeId: string, registering: boolean): string =>
    `Node ${nodeId} is registered from another address` +
    (registering ? ": pick another node id, or wait for it to expire" : ""),
  /** ERROR bad_cookie. */
  badCookie: "Cookie is stale or wrong: register again",
} as const;

/** The counters an {@link IncidentLog} adds to (a core's `RegistryCounters`). */
export interface IncidentCounters {
  /** ERROR replies made. */
  errors: number;
  /** Datagrams that did not decode. */
  malformed: number;
  /** Messages of a type the tracker does not serve. */
  unexpected: number;
}

/** A refusal to answer with an ERROR: see {@link IncidentLog.refuse}. */
export interface RefusalReply {
  /** The request's type. */
  request: string;
  /** Its txid. */
  txid: number;
  /** The ERROR code. */
  code: ErrorCodeValue;
  /** The ERROR text. */
  text: string;
  /** The request's size for an unproven source (anti-amplification), Infinity for a verified one. */
  maxBytes: number;
  /** Whether to log it. */
  log: boolean;
}

/**
 * What both tracker cores log about what they drop or refuse, throttled: once per source and
 * kind a minute, {@link MAX_INCIDENT_LINES_PER_MINUTE} lines a minute in all (the rest counted
 * in a `log_suppressed` event at {@link IncidentLog.sweep}); and the ERROR replies that go with
 * them.
 */
export class IncidentLog {
  readonly #throttle = new LogThrottle(60_000, 65_536, MAX_INCIDENT_LINES_PER_MINUTE);
  readonly #report: (e: TrackerEvent) => void;
  readonly #counters: IncidentCounters;

  /**
   * @param report where the events go
   * @param counters the core's counters
   */
  constructor(report: (e: TrackerEvent) => void, counters: IncidentCounters) {
    this.#report = report;
    this.#counters = counters;
  }

  /**
   * Decodes a request; a malformed one is counted, logged and comes back undefined.
   *
   * @param bytes the datagram
   * @param from its source
   * @param now the current time in ms
   * @returns the message, or undefined
   */
  decode(bytes: Uint8Array, from: { hostname: string; port: number }, now: number) {
    const msg = decodeRequest(bytes);
    if ("type" in msg) return msg;
    this.#counters.malformed++;
    this.dropped(from, "bad", msg.malformed, now);
    return undefined;
  }

  /**
   * Counts and logs a message of a type the tracker does not serve.
   *
   * @param type the message's type
   * @param from its source
   * @param now the current time in ms
   */
  unexpected(type: string, from: { hostname: string; port: number }, now: number): void {
    this.#counters.unexpected++;
    this.dropped(from, "unexpected", unexpectedDetail(type), now);
  }

  /**
   * Logs a dropped datagram (counted by the caller).
   *
   * @param from its source
   * @param kind what was wrong (the throttle's key with the source)
   * @param detail the log detail
   * @param now the current time in ms
   */
  dropped(from: { hostname: string; port: number }, kind: string, detail: string, now: number) {
    if (this.#throttle.shouldReport(kind + "|" + from.hostname, now)) {
      this.#report({ type: "malformed", source: formatHostPort(from), detail });
    }
  }

  /**
   * A rate-limited datagram: the first of a source in a minute is logged and answered with
   * {@link rateLimitedReply}, the rest are dropped silently.
   *
   * @param bytes the datagram
   * @param from its source
   * @param now the current time in ms
   * @returns the ERROR to send, or undefined
   */
  rateLimited(
    bytes: Uint8Array,
    from: { hostname: string; port: number },
    now: number,
  ): Uint8Array | undefined {
    if (!this.#throttle.shouldReport("rl|" + from.hostname, now)) return undefined;
    this.#report({ type: "rate_limited", source: formatHostPort(from) });
    return rateLimitedReply(bytes, this.#counters);
  }

  /**
   * A refusal: logged (when `r.log`, throttled per source and code) and answered with an ERROR
   * of at most `r.maxBytes` ({@link errorReply}).
   *
   * @param r the refusal
   * @param from the request's source
   * @param now the current time in ms
   * @returns the ERROR, or undefined when none fits
   */
  refuse(
    r: RefusalReply,
    from: { hostname: string; port: number },
    now: number,
  ): Uint8Array | undefined {
    if (r.log && this.#throttle.shouldReport(`refused|${r.code}|${from.hostname}`, now)) {
      this.#report(refusedEvent(from, r.request, r.code, r.text));
    }
    return errorReply(r.txid, r.code, r.text, r.maxBytes, this.#counters);
  }

  /**
   * Forgets old throttle state; reports the lines suppressed since the last sweep.
   *
   * @param now the current time in ms
   */
  sweep(now: number): void {
    this.#throttle.sweep(now);
    const suppressed = this.#throttle.takeSuppressed();
    if (suppressed > 0) this.#report({ type: "log_suppressed", count: suppressed });
  }
}
