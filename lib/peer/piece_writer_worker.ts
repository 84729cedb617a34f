/**
 * Worker body for {@link PieceWriter}: hashes complete pieces with SHA-256, compares them with the
 * manifest, and writes good ones at their offset in the `.part` file — off the main thread, so
 * the receive loop keeps running. Buffers travel by transfer, never by copy.
 *
 * This module imports nothing but `node:` built-ins, on purpose: a peer's permission grant names
 * this one file (docs/CLI.md, deno.json `peer`), and Deno checks a Worker's every local import
 * against the peer's read grants. So its hash check is the one place that does not call
 * `pieceHashMatches` (lib/peer/core/piece_hash.ts); {@link hashMatches} here is the same rule,
 * line for line.
 * @module
 */
/// <reference lib="deno.worker" />
import { createHash } from "node:crypto";
import { closeSync, constants, fstatSync, openSync, writeSync } from "node:fs";

/** Messages from the main thread. */
export type PieceWriterRequest =
  | {
    type: "init";
    path: string;
    hashes: Uint8Array;
    /** The `.part` the main thread opened: the worker writes only to that same file. */
    identity?: { dev: number; ino: number } | undefined;
  }
  | {
    type: "piece";
    index: number;
    offset: number;
    length: number;
    buffer: ArrayBuffer | SharedArrayBuffer;
  }
  | { type: "close" };

/** Messages to the main thread. */
export type PieceWriterReply =
  | { type: "done"; index: number; ok: boolean; buffer: ArrayBuffer | SharedArrayBuffer }
  | {
    type: "error";
    index: number;
    code: string;
    message: string;
    buffer: ArrayBuffer | SharedArrayBuffer;
  }
  | { type: "closed" };

let fd = -1;

/** A plain buffer travels back by transfer; a SharedArrayBuffer is shared and never transferred. */
function transferOf(buffer: ArrayBuffer | SharedArrayBuffer): Transferable[] {
  return buffer instanceof ArrayBuffer ? [buffer] : [];
}
let hashes: Uint8Array = new Uint8Array(0);
let openError: { code: string; message: string } | undefined;

/** `pieceHashMatches(data, hashes, index)` of core/piece_hash.ts (see the module doc). */
function hashMatches(data: Uint8Array, index: number): boolean {
  const at = index * 32;
  if (!(at >= 0) || at + 32 > hashes.byteLength) return false;
  const digest = createHash("sha256").update(data).digest();
  for (let i = 0; i < 32; i++) {
    if (digest[i] !== hashes[at + i]) return false;
  }
  return true;
}

function errInfo(e: unknown): { code: string; message: string } {
  const code = (e as { code?: unknown })?.code;
  return {
    code: typeof code === "string" ? code : "EIO",
    message: e instanceof Error ? e.message : String(e),
  };
}

self.onmessage = (ev: MessageEvent<PieceWriterRequest>) => {
  const msg = ev.data;
  switch (msg.type) {
    case "init":
      hashes = msg.hashes;
      try {
        // Never through a link, and only into the file the main thread opened (a `.part`
        // replaced by a link or another file since then is refused: ELOOP / ESTALE)
        fd = openSync(msg.path, constants.O_RDWR | (constants.O_NOFOLLOW ?? 0));
        const st = fstatSync(fd);
        const id = msg.identity;
        if (!st.isFile() || (id !== undefined && (st.dev !== id.dev || st.ino !== id.ino))) {
          closeSync(fd);
          fd = -1;
          throw Object.assign(
            new Error(`${msg.path} is no longer the file this download opened`),
            { code: "ESTALE" },
          );
        }
      } catch (e) {
        openError = errInfo(e);
      }
      return;
    case "piece": {
      const data = new Uint8Array(msg.buffer, 0, msg.length);
      const ok = hashMatches(data, msg.index);
      try {
        if (openError) throw Object.assign(new Error(openError.message), { code: openError.code });
        if (ok) {
          let done = 0;
          while (done < msg.length) {
            done += writeSync(fd, data, done, msg.length - done, msg.offset + done);
          }
        }
        const reply: PieceWriterReply = { type: "done", index: msg.index, ok, buffer: msg.buffer };
        self.postMessage(reply, transferOf(msg.buffer));
      } catch (e) {
        const reply: PieceWriterReply = {
          type: "error",
          index: msg.index,
          ...errInfo(e),
          buffer: msg.buffer,
        };
        self.postMessage(reply, transferOf(msg.buffer));
      }
      return;
    }
    case "close":
      if (fd >= 0) closeSync(fd);
      fd = -1;
      self.postMessage({ type: "closed" } satisfies PieceWriterReply);
      self.close();
      return;
  }
};
