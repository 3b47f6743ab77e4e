/**
 * The operators' commands of `cairn authority`: `backup` / `restore` of the authority itself and
 * `agent-package add|list|remove` (packages offered by "Upgrade Clients"). They work while
 * `serve` runs on the same data directory, except `restore`, which needs it stopped.
 */
import type { CommandContext } from "@cairn/protocol";
import type { Command } from "commander";
import { dataDirOf, passphraseOf } from "./cli-config.js";
import { addAgentPackage, listAgentPackages, packagePublicKey, removeAgentPackage } from "./ops/agent-packages.js";
import { backupAuthority, restoreAuthority } from "./ops/authority-backup.js";

/** Adds the commands to the `authority` command. */
export function registerOpsCommands(cmd: Command, ctx: CommandContext): void {
  const data = "data directory (or CAIRN_DATA, or data in --config)";
  cmd
    .command("backup")
    .description("write a consistent copy of the database and the keys into one file (0600; works while serve runs)")
    .option("--data <dir>", data)
    .requiredOption("--to <file>", "the backup file to write (replaced atomically)")
    .option("--passphrase-file <file>", "seal the backup with the passphrase in this file (or CAIRN_BACKUP_PASSPHRASE[_FILE])")
    .action(async (o: { data?: string; to: string; passphraseFile?: string }) => {
      const passphrase = passphraseOf(ctx, o.passphraseFile);
      const m = await backupAuthority({ dataDir: dataDirOf(ctx, o.data), to: o.to, ...(passphrase !== undefined ? { passphrase } : {}) });
      const bytes = m.files.reduce((a, f) => a + f.size, 0);
      ctx.print(
        { to: o.to, ...m },
        `backup of authority ${m.authorityGuid} (schema ${m.schemaVersion}) written to ${o.to}: ${m.files.length} files, ${bytes.toLocaleString("en-US")} bytes${m.encrypted ? ", sealed with the passphrase" : ""}`,
      );
    });

  cmd
    .command("restore")
    .description("bring a backup back into a data directory (stop serve first; a non-empty directory needs --force)")
    .requiredOption("--from <file>", "the backup file")
    .option("--data <dir>", data)
    .option("--passphrase-file <file>", "the backup's passphrase (or CAIRN_BACKUP_PASSPHRASE[_FILE])")
    .option("--force", "replace a non-empty data directory (its contents are moved to <dir>.replaced-<time>)")
    .action((o: { from: string; data?: string; passphraseFile?: string; force?: boolean }) => {
      const passphrase = passphraseOf(ctx, o.passphraseFile);
      const r = restoreAuthority({
        from: o.from,
        dataDir: dataDirOf(ctx, o.data),
        ...(passphrase !== undefined ? { passphrase } : {}),
        ...(o.force ? { force: true } : {}),
      });
      ctx.print(
        r,
        [
          `restored authority ${r.authorityGuid} (schema ${r.schemaVersion}, backed up ${r.createdAt}) into ${r.dataDir}`,
          ...(r.replacedDir ? [`the previous contents are in ${r.replacedDir}`] : []),
        ].join("\n"),
      );
    });

  const pkg = cmd.command("agent-package").description("agent packages the authority signs and offers with Upgrade Clients");
  pkg
    .command("add")
    .description("import and sign an agent package (a .tar.gz of the agent's runnable tree)")
    .argument("<file>")
    .requiredOption("--version <version>", "the package's version (MAJOR.MINOR.PATCH[-pre])")
    .option("--data <dir>", data)
    .action(async (file: string, o: { version: string; data?: string }) => {
      const dataDir = dataDirOf(ctx, o.data);
      const p = await addAgentPackage({ dataDir, file, version: o.version });
      const key = packagePublicKey(dataDir);
      ctx.print({ ...p, packageKey: key.publicKey }, `agent package ${p.version} added (sha256 ${p.sha256}); package-signing key ${key.publicKey}`);
    });
  pkg
    .command("list")
    .description("imported agent packages, oldest first, and the package-signing key")
    .option("--data <dir>", data)
    .action((o: { data?: string }) => {
      const dataDir = dataDirOf(ctx, o.data);
      const list = listAgentPackages(dataDir);
      const key = packagePublicKey(dataDir);
      ctx.print(
        { packageKey: key.publicKey, keyId: key.keyId, packages: list },
        [`package-signing key ${key.publicKey}`, ...list.map((p) => `${p.version}  ${p.sha256}  ${p.size} bytes  ${p.fileName}`)].join("\n"),
      );
    });
  pkg
    .command("remove")
    .description("remove an imported agent package")
    .argument("<version>")
    .option("--data <dir>", data)
    .action((version: string, o: { data?: string }) => {
      removeAgentPackage(dataDirOf(ctx, o.data), version);
      ctx.print({ removed: version }, `agent package ${version} removed`);
    });
}
