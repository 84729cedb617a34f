import assert from "node:assert/strict";
import { closeSync, openSync } from "node:fs";
import { ReadAhead } from "../../lib/peer/read_ahead.ts";

Deno.test("ReadAhead: one read per range, copies exact bytes, refills on a miss, short reads fail", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const data = new Uint8Array(10_000).map((_, i) => (i * 7 + 3) & 255);
    await Deno.writeFile(`${dir}/f`, data);
    const fd = openSync(`${dir}/f`, "r");
    try {
      const ahead = new ReadAhead(4096);
      const out = new Uint8Array(2000);
      // Blocks of 1000 bytes in the range [0, 3000): the first read fetches the whole range.
      for (let off = 0; off < 3000; off += 1000) {
        assert.ok(ahead.copy(fd, off, 1000, 3000, out, 500));
        assert.deepEqual(out.subarray(500, 1500), data.subarray(off, off + 1000));
      }
      // The file changes under it: without reset it still serves what it read (one read per
      // range is the point); after reset the next copy reads again.
      const changed = data.map((b) => b ^ 0xff);
      await Deno.writeFile(`${dir}/f`, changed);
      assert.ok(ahead.copy(fd, 2000, 1000, 3000, out, 0));
      assert.deepEqual(out.subarray(0, 1000), data.subarray(2000, 3000));
      ahead.reset();
      assert.ok(ahead.copy(fd, 2000, 1000, 3000, out, 0));
      assert.deepEqual(out.subarray(0, 1000), changed.subarray(2000, 3000));
      // A block past the read (a different range, beyond the capacity) refills.
      assert.ok(ahead.copy(fd, 9000, 1000, 10_000, out, 1000));
      assert.deepEqual(out.subarray(1000, 2000), changed.subarray(9000, 10_000));
      // Past the end of the file: a short read.
      assert.equal(ahead.copy(fd, 9500, 1000, 10_500, out, 0), false);
    } finally {
      closeSync(fd);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
