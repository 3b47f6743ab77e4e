/**
 * `cairn demo`: how a newcomer first meets Cairn. In a temporary folder, on 127.0.0.1 with free
 * ports and the embedded defaults (SQLite, a directory store point, TLS on):
 *
 * 1. initialize and start an authority;
 * 2. create a small organization tree and a user through the REST API, as an administrator would;
 * 3. enroll and start a storage node with a one-time enroll key;
 * 4. register an agent with the organization's registration key and the user's credentials;
 * 5. back up a generated sample tree, change it, back up again;
 * 6. restore both versions into fresh folders and compare them byte for byte and mode for mode;
 * 7. print what it did (or one JSON summary) and shut everything down, unless `--keep`.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { changeSelection, registerAgent, runBackup, runRestore, startAgent } from "@cairn/agent";
import { createEnrollKey, initAuthority, startAuthority } from "@cairn/authority";
import { CairnError, type CommandContext, systemClock } from "@cairn/protocol";
import { initStorenode, startStorenode } from "@cairn/storenode";
import { Command } from "commander";
import { pino } from "pino";
import { ApiClient, changeSampleTree, diffSnapshots, snapshotTree, writeSampleTree } from "./demo-support.js";

/** What the demo reports. */
export interface DemoSummary {
  ok: boolean;
  dir: string;
  authorityUrl: string;
  /** SHA-256 fingerprint of the authority's self-signed certificate (pin it with --authority-fingerprint). */
  authorityFingerprint: string;
  consoleUrl: string;
  storenodeUrl: string;
  orgs: string[];
  user: string;
  device: string;
  backups: { versionTime: string; files: number; bytes: number; uploadedBytes: number; errors: number }[];
  restores: { versionTime: string; files: number; bytes: number; identical: boolean; differences: string[] }[];
  admin?: { username: string; password: string };
  kept: boolean;
}

/** Options of {@link runDemo}. */
export interface DemoOptions {
  dir?: string;
  keep?: boolean;
  say?: (line: string) => void;
  logLevel?: string;
}

/** A running demo (when kept) and its summary. */
export interface DemoResult {
  summary: DemoSummary;
  /** Stops the daemons and removes the folder (unless a folder was given). */
  close(): Promise<void>;
}

/** Runs the demo; with `keep`, the daemons stay up until {@link DemoResult.close}. */
export async function runDemo(o: DemoOptions = {}): Promise<DemoResult> {
  const say = o.say ?? (() => {});
  const clock = systemClock;
  const logger = pino({ level: o.logLevel ?? "silent" });
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), "cairn-demo-"));
  const cleanups: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    cleanups.length = 0;
    if (o.dir === undefined) rmSync(dir, { recursive: true, force: true });
  };
  try {
    const adminPassword = `demo-${randomBytes(9).toString("base64url")}`;
    const init = await initAuthority({
      dataDir: join(dir, "authority"),
      adminUsername: "admin",
      adminEmail: "admin@example.com",
      adminPassword,
      orgName: "Cairn Demo",
      clock,
      logger,
    });
    // every restore method of the console, the server's file system included (`--restore-dir`)
    const authority = await startAuthority({
      dataDir: join(dir, "authority"),
      host: "127.0.0.1",
      port: 0,
      clock,
      logger,
      operations: { restores: { serverRestoreDir: join(dir, "server-restores") } },
    });
    cleanups.push(() => authority.close());
    say(`authority   ${authority.url} (certificate ${init.certFingerprint.slice(0, 23)}…)`);

    const api = new ApiClient(authority.url, authority.fingerprint);
    await api.login("admin", adminPassword);
    const eng = await api.call<{ orgUid: string; orgName: string }>("POST", "/api/Org/", {
      orgName: "Engineering",
      orgExtRef: null,
      notes: "created by cairn demo",
      parentOrgUid: init.orgUid,
    });
    const laptops = await api.call<{ orgUid: string; orgName: string; registrationKey: string }>("POST", "/api/Org/", {
      orgName: "Engineering Laptops",
      orgExtRef: null,
      notes: null,
      parentOrgUid: eng.orgUid,
    });
    const userPassword = `ana-${randomBytes(9).toString("base64url")}`;
    const user = await api.call<{ username: string }>("POST", "/api/User", {
      orgUid: laptops.orgUid,
      username: "ana@example.com",
      email: "ana@example.com",
      password: userPassword,
      firstName: "Ana",
      lastName: "Diaz",
      notes: null,
    });
    say(`orgs        Cairn Demo > ${eng.orgName} > ${laptops.orgName}; user ${user.username}`);

    const key = await createEnrollKey({ dataDir: join(dir, "authority"), destination: "Primary", clock });
    const nodeInit = await initStorenode({
      dataDir: join(dir, "storenode"),
      storePoints: [join(dir, "storepoint-1")],
      name: "demo-node",
      authority: { url: authority.url, fingerprint: authority.fingerprint, enrollKey: key.enrollKey },
      clock,
      logger,
    });
    const node = await startStorenode({ dataDir: join(dir, "storenode"), host: "127.0.0.1", port: 0, clock, logger });
    cleanups.push(() => node.close());
    await authority.ctx.nodes.waitFor((await authority.ctx.store.getServerByGuid(nodeInit.serverGuid))?.serverId ?? -1);
    say(`storenode   ${node.url} in destination ${key.destinationName}`);

    const agentDir = join(dir, "agent");
    const reg = await registerAgent({
      dataDir: agentDir,
      authorityUrl: authority.url,
      authorityFingerprint: authority.fingerprint,
      registrationKey: laptops.registrationKey,
      username: "ana@example.com",
      password: userPassword,
      deviceName: "ana-laptop",
      clock,
      logger,
    });
    say(`agent       device ${reg.deviceName} (${reg.guid}) registered in ${laptops.orgName}`);

    const home = join(dir, "home");
    mkdirSync(home);
    const sample = writeSampleTree(home);
    changeSelection({ dataDir: agentDir, op: "add", items: [`${home}/`], logger });
    const v1Tree = snapshotTree(home);
    const b1 = await runBackup({ dataDir: agentDir, clock, logger });
    say(`backup 1    ${b1.files} files, ${(b1.bytes / 1e6).toFixed(1)} MB, uploaded ${(b1.uploadedBytes / 1e6).toFixed(1)} MB at ${b1.versionTime}`);
    // Versions are stamped by the node's clock in milliseconds; make the second one distinct.
    await new Promise((r) => setTimeout(r, 20));
    changeSampleTree(home);
    const v2Tree = snapshotTree(home);
    const b2 = await runBackup({ dataDir: agentDir, clock, logger });
    say(`backup 2    ${b2.changedFiles} changed files, uploaded ${(b2.uploadedBytes / 1e6).toFixed(2)} MB at ${b2.versionTime}`);

    const restores: DemoSummary["restores"] = [];
    for (const [i, b, want] of [
      [1, b1, v1Tree],
      [2, b2, v2Tree],
    ] as const) {
      const target = join(dir, `restore-v${i}`);
      mkdirSync(target);
      const r = await runRestore({ dataDir: agentDir, at: Date.parse(b.versionTime), target, paths: [home], fullPath: false, clock, logger });
      const got = snapshotTree(join(target, "home"));
      const differences = diffSnapshots(want, got);
      restores.push({ versionTime: b.versionTime, files: r.files, bytes: r.bytes, identical: differences.length === 0, differences: differences.slice(0, 20) });
      say(
        `restore v${i}  ${r.files} files into ${target}: ${differences.length === 0 ? "identical to the original, byte for byte" : `${differences.length} differences`}`,
      );
    }
    const ok = restores.every((r) => r.identical) && b1.errors === 0 && b2.errors === 0 && b1.files >= sample.files;
    if (o.keep) {
      // all three daemons stay up: the agent's too, so the console shows the device connected and
      // can push a restore to it
      const agent = await startAgent({ dataDir: agentDir, clock, logger });
      cleanups.push(() => agent.close());
      for (let i = 0; i < 200 && !authority.ctx.agents.isConnectedGuid(reg.guid); i++) await new Promise((r) => setTimeout(r, 50));
      say(`agent       daemon running on ${agentDir}${authority.ctx.agents.isConnectedGuid(reg.guid) ? ", connected to the authority" : ""}`);
    }
    const summary: DemoSummary = {
      ok,
      dir,
      authorityUrl: authority.url,
      authorityFingerprint: authority.fingerprint,
      consoleUrl: `${authority.url}/console/`,
      storenodeUrl: node.url,
      orgs: ["Cairn Demo", eng.orgName, laptops.orgName],
      user: user.username,
      device: reg.guid,
      backups: [b1, b2].map((b) => ({ versionTime: b.versionTime, files: b.files, bytes: b.bytes, uploadedBytes: b.uploadedBytes, errors: b.errors })),
      restores,
      kept: o.keep === true,
      ...(o.keep ? { admin: { username: "admin", password: adminPassword } } : {}),
    };
    if (!o.keep) await close();
    return { summary, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Builds the `demo` command. */
export function createCommand(ctx: CommandContext): Command {
  return new Command("demo")
    .description("start all three daemons on 127.0.0.1, back up, change, back up, restore both versions and check them")
    .option("--keep", "leave the daemons running and print the console URL and the admin credentials")
    .option("--dir <dir>", "work in this folder instead of a temporary one (kept afterwards)")
    .option("--data <dir>", "the same as --dir (every cairn command takes --data)")
    .action(async (opts: { keep?: boolean; dir?: string; data?: string }) => {
      if (opts.dir && opts.data && opts.dir !== opts.data) throw new CairnError("USAGE", "--dir and --data name different folders");
      const dir = opts.dir ?? opts.data;
      // the demo sets up new daemons: a folder a previous demo kept (or anything else) is not reused
      if (dir && existsSync(dir) && readdirSync(dir).length > 0)
        throw new CairnError("USAGE", `${dir} is not empty (a previous demo's folder?): give a new or empty folder, or delete that one`);
      const say = (line: string) => {
        if (!ctx.json && !ctx.quiet) ctx.stderr.write(`${line}\n`);
      };
      const { summary, close } = await runDemo({
        keep: opts.keep === true,
        ...(dir ? { dir } : {}),
        say,
        logLevel: ctx.verbose ? "info" : "silent",
      });
      if (ctx.json) ctx.print(summary);
      else {
        ctx.stdout.write(
          `${summary.ok ? "demo passed" : "demo FAILED"}: 2 backups, 2 restores, ${summary.restores.every((r) => r.identical) ? "both identical" : "differences found"}\n`,
        );
      }
      if (!summary.ok) throw new CairnError("INTEGRITY", "the demo's restores differ from the originals");
      if (opts.keep) {
        // The one deliberate print of credentials (DECISIONS.md): throwaway demo credentials.
        ctx.stderr.write(`\nconsole:  ${summary.consoleUrl}\nlogin:    admin / ${summary.admin?.password}\ndata:     ${summary.dir}\nPress Ctrl-C to stop.\n`);
        await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
        await close();
      }
    });
}
