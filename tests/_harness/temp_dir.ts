/**
 * A temporary directory for one test, removed with everything in it however the test ends.
 * @module
 */

/**
 * Runs `fn` with a new temporary directory and removes it afterwards.
 *
 * @param prefix the directory name's prefix (which test made it)
 * @param fn the test body
 */
export async function withTempDir(
  prefix: string,
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
