/**
 * How the authority's command line reads its configuration: the global `--config FILE` (or
 * `CAIRN_CONFIG`) parsed as TOML, `CAIRN_*` variables, and the flags a command was given, through
 * the protocol's `resolveConfig`. `serve` resolves every key; the other commands only `data`.
 */
import { readFileSync } from "node:fs";
import { CairnError, type CommandContext, type ResolvedConfig, resolveConfig } from "@cairn/protocol";
import type { Command } from "commander";
import { parse as parseToml } from "smol-toml";
import { AUTHORITY_DATA_CONFIG, AUTHORITY_SERVE_CONFIG } from "./serve-config.js";

/** The parsed configuration file, if one was given (CONFIG_INVALID when unreadable or not TOML). */
export function readConfigFile(ctx: CommandContext): unknown {
  if (!ctx.configFile) return undefined;
  let text: string;
  try {
    text = readFileSync(ctx.configFile, "utf8");
  } catch (cause) {
    throw new CairnError("CONFIG_INVALID", `cannot read the configuration file ${ctx.configFile}`, { cause });
  }
  try {
    return parseToml(text);
  } catch (cause) {
    throw new CairnError("CONFIG_INVALID", `${ctx.configFile} is not valid TOML: ${(cause as Error).message}`, { cause });
  }
}

/** The flags given on the command line (not commander's defaults). */
export function givenFlags(command: Command): Record<string, unknown> {
  const flags: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(command.opts())) if (command.getOptionValueSource(name) === "cli") flags[name] = value;
  return flags;
}

/** Resolves `serve`'s configuration. */
export function serveConfig(ctx: CommandContext, command: Command): ResolvedConfig {
  return resolveConfig(AUTHORITY_SERVE_CONFIG, {
    flags: givenFlags(command),
    env: ctx.env,
    file: readConfigFile(ctx),
    ...(ctx.configFile ? { fileName: ctx.configFile } : {}),
    readFile: (p) => readFileSync(p, "utf8"),
  });
}

/** The data directory of a command: `--data`, `CAIRN_DATA`, `data` in the configuration file. */
export function dataDirOf(ctx: CommandContext, flag: string | undefined): string {
  const file = readConfigFile(ctx) as Record<string, unknown> | undefined;
  const r = resolveConfig(AUTHORITY_DATA_CONFIG, {
    flags: flag !== undefined ? { data: flag } : {},
    env: ctx.env,
    ...(file !== undefined ? { file: file.data !== undefined ? { data: file.data } : {} } : {}),
    ...(ctx.configFile ? { fileName: ctx.configFile } : {}),
  });
  return r.values.data as string;
}

/** Splits `HOST:PORT` (IPv6 in brackets); CONFIG_INVALID otherwise. */
export function hostPort(key: string, v: string): { host: string; port: number } {
  const m = /^(.*):(\d+)$/.exec(v);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m?.[1] || !Number.isInteger(port) || port < 0 || port > 65535) throw new CairnError("CONFIG_INVALID", `${key} is HOST:PORT, got ${JSON.stringify(v)}`);
  return { host: (m[1] as string).replace(/^\[|\]$/g, ""), port };
}

/** A passphrase from `--passphrase-file`, `CAIRN_BACKUP_PASSPHRASE` or `CAIRN_BACKUP_PASSPHRASE_FILE`. */
export function passphraseOf(ctx: CommandContext, file: string | undefined): string | undefined {
  const path = file ?? ctx.env.CAIRN_BACKUP_PASSPHRASE_FILE;
  if (path !== undefined) {
    try {
      return readFileSync(path, "utf8").replace(/\r?\n$/, "");
    } catch (cause) {
      throw new CairnError("CONFIG_INVALID", `cannot read the passphrase file ${path}`, { cause });
    }
  }
  return ctx.env.CAIRN_BACKUP_PASSPHRASE;
}
