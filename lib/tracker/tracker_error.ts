/**
 * The error a {@link TrackerClient} request rejects with.
 * @module
 */
import { ErrorCode } from "../wire/messages.ts";

/**
 * Codes a {@link TrackerError} carries: the wire's {@link ErrorCode} values for what the
 * tracker answered, plus local ones for what went wrong on this side.
 */
export const TrackerErrorCode = {
  ...ErrorCode,
  /** The tracker never answered within the retry budget. */
  timeout: 1000,
  /** The client was closed (or exited) while the request was outstanding. */
  closed: 1001,
  /** The tracker answered with something that makes no sense for the request. */
  protocol: 1002,
} as const;

/** A {@link TrackerErrorCode} value. */
export type TrackerErrorCodeValue = (typeof TrackerErrorCode)[keyof typeof TrackerErrorCode];

const NAMES = new Map<number, string>(
  Object.entries(TrackerErrorCode).map(([name, code]) => [code, name]),
);

/**
 * The name of a code (`"not_found"`, `"timeout"`, …).
 *
 * @param code a {@link TrackerErrorCode} value or any wire code
 * @returns its name, or `code_<n>` for an unknown wire code
 */
export function trackerErrorName(code: number): string {
  return NAMES.get(code) ?? `code_${code}`;
}

/**
 * A tracker request that failed: the tracker answered ERROR, never answered, or the client
 * closed. `message` is meant for the user (what happened and what to do).
 *
 * @example Telling "nobody has it" from "tracker down"
 * ```ts
 * import assert from "node:assert/strict";
 * import { startTracker, TrackerClient, TrackerError, TrackerErrorCode } from "@udpswarm/udpswarm";
 *
 * await using tracker = await startTracker({ port: 0 });
 * await using client = await TrackerClient.connect({ tracker: tracker.localAddr, nodeId: "me" });
 * try {
 *   await client.need({ kind: "name", name: "nothing.bin" });
 *   assert.fail("expected a TrackerError");
 * } catch (e) {
 *   assert(e instanceof TrackerError);
 *   assert.equal(e.code, TrackerErrorCode.not_found); // TrackerErrorCode.timeout: tracker down
 *   assert.equal(e.reason, "not_found");
 *   assert.equal(e.request, "need");
 * }
 * ```
 */
export class TrackerError extends Error {
  /** A {@link TrackerErrorCode} value (the wire ErrorCode for tracker answers). */
  readonly code: number;
  /** The code's name: `"not_found"`, `"timeout"`, `"wrong_address"`, … */
  readonly reason: string;
  /** The request that failed: `"register"`, `"own"`, `"need"`, `"update"` or `"exit"`. */
  readonly request: string;

  /**
   * Creates a tracker error; `reason` is derived from `code`.
   *
   * @param code a {@link TrackerErrorCode} value
   * @param request the request that failed
   * @param message what happened, for the user
   * @param options the underlying cause
   */
  constructor(code: number, request: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TrackerError";
    this.code = code;
    this.reason = trackerErrorName(code);
    this.request = request;
  }
}
