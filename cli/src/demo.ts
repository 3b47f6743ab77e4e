/**
 * `cairn demo`: all three daemons on 127.0.0.1 in a temporary folder, a backup, a change, a
 * second backup, restores of both versions, and a byte-for-byte check.
 */
import type { CommandContext } from "@cairn/protocol";
import { Command } from "commander";

/** Builds the `demo` command. */
export function createCommand(_ctx: CommandContext): Command {
  return new Command("demo").description("start all three daemons on 127.0.0.1, back up, restore and check").option("--keep", "leave the daemons running");
}
