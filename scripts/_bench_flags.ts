/**
 * Command-line flags of the benchmark scripts: one parser over `Deno.args` that adds `--help`
 * (`-h`), prints the script's usage line for it and exits 0, and rejects unknown flags.
 * @module
 */
import { parseArgs } from "node:util";

/** One flag as `parseArgs` takes it: a string (numbers too, parsed by the script) or a boolean. */
export type BenchFlag =
  | { type: "string"; default?: string; short?: string; multiple?: false }
  | { type: "string"; multiple: true; default?: string[] }
  | { type: "boolean"; default?: boolean; short?: string };

/**
 * Parses `Deno.args` against `options` plus `--help`; with `--help` prints `usage` and exits 0.
 *
 * @param usage the usage line (`deno run -P=test scripts/NAME.ts [--flag N] …`)
 * @param options the script's flags
 * @returns the parsed values
 */
export function benchFlags<const O extends Record<string, BenchFlag>>(usage: string, options: O) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { ...options, help: { type: "boolean", short: "h", default: false } },
  });
  if ((values as { help?: boolean }).help) {
    console.log(`Usage: ${usage}`);
    Deno.exit(0);
  }
  return values;
}

/**
 * The flags every transfer benchmark has: `--size-mib` (the file's size, default 1024) and
 * `--runs` (repetitions, default `runs`).
 */
export function transferFlags(runs: number) {
  return {
    "size-mib": { type: "string", default: "1024" },
    runs: { type: "string", default: String(runs) },
  } as const;
}

/** Bytes in `mib` MiB (a flag's text), rounded. */
export function mibToBytes(mib: string | undefined): number {
  return Math.round(Number(mib) * 2 ** 20);
}
