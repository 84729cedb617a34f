/**
 * `peer.ts`: a udpswarm peer. With no command it is the seed's interactive node (`send`,
 * `download`, `status`, `files`, `help`, `exit`); `share FILE...` and `get NAME_OR_ID` are
 * the one-shot modes for scripts. `--help` lists the flags and exit codes; docs/CLI.md has
 * the details.
 *
 * @example Share a file, then fetch it from another terminal
 * ```sh
 * deno task peer share ./files/a.iso
 * deno task peer get a.iso --out ./downloads
 * ```
 * @module
 */
import { denoEnv, runPeerCli } from "./lib/cli/peer_cli.ts";
import { startPeer } from "./lib/peer/peer.ts";

if (import.meta.main) {
  Deno.exit(await runPeerCli(denoEnv(startPeer)));
}
