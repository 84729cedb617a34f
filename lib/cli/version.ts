/**
 * The version line `--version` prints on both entrypoints: the package version from deno.json
 * and the Deno that runs it.
 * @module
 */
import config from "../../deno.json" with { type: "json" };

/** The package version, from deno.json. */
export const VERSION: string = config.version;

/**
 * The `--version` line.
 *
 * @param program `peer` or `tracker`.
 * @returns e.g. `udpswarm peer 0.1.0 (deno 2.9.6)`.
 */
export function versionLine(program: "peer" | "tracker"): string {
  return `udpswarm ${program} ${VERSION} (deno ${Deno.version.deno})`;
}
