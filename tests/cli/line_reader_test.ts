import assert from "node:assert/strict";
import { LineReader } from "../../lib/cli/line_reader.ts";

const pure = { permissions: "none" } as const;

Deno.test(
  "LineReader.next() splits lines across chunks, handles CRLF and a bare last line",
  pure,
  async () => {
    const enc = new TextEncoder();
    const chunks = ["sen", "d a\r\nstat", "us\n\nexit"];
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (const ch of chunks) c.enqueue(enc.encode(ch));
        c.close();
      },
    });
    const r = new LineReader(stream);
    const got: (string | null)[] = [];
    for (let i = 0; i < 5; i++) got.push(await r.next());
    assert.deepEqual(got, ["send a", "status", "", "exit", null]);
    await r.cancel();
  },
);
