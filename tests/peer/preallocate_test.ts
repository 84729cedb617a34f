import assert from "node:assert/strict";
import { libcPath as findLibc } from "../../lib/net/socket_buffer.ts";
import { preallocate } from "../../lib/peer/preallocate.ts";
import { withTempDir } from "../_harness/temp_dir.ts";

const libcPath = findLibc();
const SIZE = 4 * 1024 * 1024;

/** A sparse file of SIZE bytes with 7s in its first 4 KiB. */
async function sparseFile(dir: string): Promise<string> {
  const path = `${dir}/f.part`;
  using f = await Deno.open(path, { create: true, write: true });
  await f.write(new Uint8Array(4096).fill(7));
  await f.truncate(SIZE);
  return path;
}

Deno.test("preallocate without an FFI grant does nothing and says so", async () => {
  await withTempDir("udpswarm-preallocate-", async (dir) => {
    const path = await sparseFile(dir);
    const before = await Deno.stat(path);
    assert.equal(preallocate(path, SIZE), false);
    const after = await Deno.stat(path);
    assert.equal(after.size, SIZE);
    assert.equal(after.blocks, before.blocks);
  });
});

Deno.test({
  name:
    "preallocate with FFI access to libc: the blocks of a sparse file are allocated, its data and size kept; a link is not followed",
  ignore: Deno.build.os !== "linux" || libcPath === undefined,
  async fn() {
    await withTempDir("udpswarm-preallocate-", async (dir) => {
      const path = await sparseFile(dir);
      const target = `${dir}/target`;
      await Deno.writeFile(target, new Uint8Array(0));
      await Deno.symlink(target, `${dir}/link`);
      const script = `
        import { preallocate } from ${
        JSON.stringify(import.meta.resolve("../../lib/peer/preallocate.ts"))
      };
        console.log(JSON.stringify({
          file: preallocate(${JSON.stringify(path)}, ${SIZE}),
          link: preallocate(${JSON.stringify(`${dir}/link`)}, ${SIZE}),
          missing: preallocate(${JSON.stringify(`${dir}/missing`)}, ${SIZE}),
        }));
      `;
      const sparseBlocks = (await Deno.stat(path)).blocks!;
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["eval", "--no-prompt", `--allow-ffi=${libcPath}`, script],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(out.success, new TextDecoder().decode(out.stderr));
      const r = JSON.parse(new TextDecoder().decode(out.stdout));
      assert.deepEqual(r, { file: true, link: false, missing: false });
      const after = await Deno.stat(path);
      assert.equal(after.size, SIZE);
      assert.ok(sparseBlocks * 512 < SIZE, `the file was sparse (${sparseBlocks} blocks)`);
      assert.ok(after.blocks! * 512 >= SIZE, `allocated: ${after.blocks} blocks of 512 bytes`);
      const data = await Deno.readFile(path);
      assert.ok(data.subarray(0, 4096).every((b) => b === 7), "data kept");
      assert.ok(data.subarray(4096).every((b) => b === 0), "the rest reads as zeros");
      assert.equal((await Deno.stat(target)).size, 0, "the link's target is untouched");
    });
  },
});

Deno.test({
  name:
    "preallocate with the libc grant but a read grant that does not cover libc's directory (the benchmarks' peers): still allocates",
  ignore: Deno.build.os !== "linux" || libcPath === undefined,
  async fn() {
    await withTempDir("udpswarm-preallocate-", async (dir) => {
      const path = await sparseFile(dir);
      const child = `${dir}/child.js`;
      await Deno.writeTextFile(
        child,
        `import { preallocate } from ${
          JSON.stringify(import.meta.resolve("../../lib/peer/preallocate.ts"))
        };
        console.log(JSON.stringify(preallocate(${JSON.stringify(path)}, ${SIZE})));`,
      );
      const root = new URL("../../", import.meta.url).pathname;
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--no-prompt",
          `--allow-ffi=${libcPath}`,
          `--allow-read=${dir},${root}`,
          child,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(out.success, new TextDecoder().decode(out.stderr));
      assert.equal(JSON.parse(new TextDecoder().decode(out.stdout)), true);
      assert.ok((await Deno.stat(path)).blocks! * 512 >= SIZE, "allocated");
    });
  },
});
