/**
 * `cairn agent …`: the thin command line over this daemon's library. The only module of the
 * package that reads flags and the environment.
 */
import type { CommandContext } from "@cairn/protocol";
import { Command } from "commander";

/** Builds the `agent` subcommand tree. */
export function createCommand(_ctx: CommandContext): Command {
  const cmd = new Command("agent").description("the device agent: selection, real-time backup and restore");
  return cmd;
}
