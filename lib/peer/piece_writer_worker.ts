/**
 * Worker body for {@link PieceWriter}: hashes complete pieces with SHA-256, compares them with the
 * manifest, and writes good ones at their offset in the `.part` file — off the main thread, so
 * the receive loop keeps running. Buffers travel by transfer, never by copy.
 * @module
 */
/// <reference lib="deno.worker" />
import { closeSync, openSync, writeSync } from "node:fs";
import { pieceHashMatches } from "./core/piece_hash.ts";

/** Messages from the main thread. */
export type PieceWriterRequest =
  | { type: "init"; path: string; hashes: Uint8Array }
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
        fd = openSync(msg.path, "r+");
      } catch (e) {
        openError = errInfo(e);
      }
      return;
    case "piece": {
      const data = new Uint8Array(msg.buffer, 0, msg.length);
      const ok = pieceHashMatches(data, hashes, msg.index);
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
