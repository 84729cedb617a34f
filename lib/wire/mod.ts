/**
 * The udpswarm wire codec: every message of the tracker and peer protocols.
 * Byte layouts: docs/PROTOCOL.md.
 * @module
 */
export * from "./address.ts";
export * from "./block_data.ts";
export * from "./codec.ts";
export * from "./limits.ts";
export * from "./messages.ts";
export * from "./wire_error.ts";
