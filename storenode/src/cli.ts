/**
 * `cairn storenode …`: the thin command line over this daemon's library. The only module of the
 * package that reads flags and the environment.
 */
import type { CommandContext } from "@cairn/protocol";
import { Command } from "commander";

/** Builds the `storenode` subcommand tree. */
export function createCommand(_ctx: CommandContext): Command {
  const cmd = new Command("storenode").description("a storage node: store points, archives, versions, retention and verification");
  return cmd;
}
