/**
 * `cairn authority …`: the thin command line over this daemon's library. The only module of the
 * package that reads flags and the environment.
 */
import type { CommandContext } from "@cairn/protocol";
import { Command } from "commander";

/** Builds the `authority` subcommand tree. */
export function createCommand(_ctx: CommandContext): Command {
  const cmd = new Command("authority").description("the authority server: organizations, users, devices, settings, REST API and console");
  return cmd;
}
