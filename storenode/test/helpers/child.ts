import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { generateSigningKey, type SigningKey } from "@cairn/protocol";
import { initStorenode } from "../../src/index.js";
import { connectTenant, type TenantClient } from "../../src/testing.js";

/** The real `cairn` binary (cli/ is another package: we only spawn it). */
export const CAIRN_BIN = resolve(dirname(fileURLToPath(import.meta.url)), "../../../cli/bin/cairn.js");

/** A node running in a child process. */
export interface ChildNode {
  proc: ChildProcess;
  port: number;
  url: string;
  /** Resolves with the exit code and signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout: string[];
}

const children = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of children) c.kill("SIGKILL");
});

/** Kills every child node still running (a failed test must not leave one behind). */
export function killChildren(): void {
  for (const c of children) c.kill("SIGKILL");
}

/** Spawns `cairn storenode serve --port 0` and waits for its `listening` log line. */
export function spawnNode(dataDir: string, opts: { crashAt?: string; extraArgs?: string[] } = {}): Promise<ChildNode> {
  const env: Record<string, string | undefined> = { ...process.env, CAIRN_LOG_LEVEL: "info" };
  delete env.FAULT_CRASH_AT;
  if (opts.crashAt) env.FAULT_CRASH_AT = opts.crashAt;
  const proc = spawn(
    process.execPath,
    [
      CAIRN_BIN,
      "--json",
      "storenode",
      "serve",
      "--data",
      dataDir,
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--reserve-bytes",
      "0",
      "--gc-grace",
      "0",
      ...(opts.extraArgs ?? []),
    ],
    { env, stdio: ["ignore", "pipe", "pipe"] },
  );
  children.add(proc);
  proc.once("exit", () => children.delete(proc));
  const stdout: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => proc.once("exit", (code, signal) => r({ code, signal })));
  return new Promise((resolveP, reject) => {
    let buf = "";
    let err = "";
    proc.stderr?.on("data", (d: Buffer) => {
      err += d.toString();
    });
    proc.stdout?.on("data", (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        stdout.push(line);
        try {
          const j = JSON.parse(line) as { msg?: string; port?: number };
          if (j.msg === "listening" && typeof j.port === "number") resolveP({ proc, port: j.port, url: `wss://127.0.0.1:${j.port}`, exited, stdout });
        } catch {
          // not a log line
        }
      }
    });
    void exited.then(({ code, signal }) => reject(new Error(`node exited (${code ?? signal}) before listening: ${err}`)));
  });
}

/** A data directory with a registered tenant, for child-process tests. */
export interface ChildFixture {
  dir: string;
  dataDir: string;
  storePoint: string;
  key: SigningKey;
  tenantSecret: string;
  tenantId: string;
  /** Connects the tenant's control link to a running child. */
  tenant(node: ChildNode): Promise<TenantClient>;
  teardown(): void;
}

/** Initializes a standalone node and registers a tenant through a first child run. */
export async function childFixture(): Promise<ChildFixture> {
  const dir = mkdtempSync(join(tmpdir(), "cairn-child-"));
  const dataDir = join(dir, "data");
  const storePoint = join(dir, "sp1");
  await initStorenode({ dataDir, storePoints: [storePoint], name: "child-node" });
  const key = generateSigningKey();
  const first = await spawnNode(dataDir);
  const t = await connectTenant(first.url, { dataDir, key, tenantName: "tenant" });
  await t.close();
  first.proc.kill("SIGTERM");
  await first.exited;
  return {
    dir,
    dataDir,
    storePoint,
    key,
    tenantSecret: t.tenantSecret,
    tenantId: t.tenantId,
    tenant: (node) => connectTenant(node.url, { key, secret: t.tenantSecret }),
    teardown: () => rmSync(dir, { recursive: true, force: true }),
  };
}
