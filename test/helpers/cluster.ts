/**
 * A whole Cairn cluster on 127.0.0.1 for end-to-end tests, the demo and benchmarks: a real
 * authority (`initAuthority` + `startAuthority`, cheap argon2), storage nodes enrolled with
 * one-time enroll keys (`createEnrollKey`, the command line's path, then `initStorenode` with
 * the authority), and agents registered with the org's registration key (their users are created
 * at registration). Everything runs in one temporary folder, removed by `dispose()`.
 *
 *   const c = await startCluster({ agents: 1 });
 *   writeFileSync(join(c.agents[0].home, "a.txt"), "hello");
 *   await c.agents[0].select();          // the agent backs up its home folder
 *   await c.agents[0].backup();
 *   await c.dispose();
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { changeSelection, type RegisterResult, type RunBackupResult, type RunRestoreOptions, registerAgent, runBackup, runRestore } from "@cairn/agent";
import { createEnrollKey } from "@cairn/authority";
import { startTestAuthority, type TestAuthority } from "@cairn/authority/testing";
import { type Clock, systemClock } from "@cairn/protocol";
import { initStorenode, type StorenodeHandle, startStorenode } from "@cairn/storenode";
import { type Logger, pino } from "pino";

/** Options of {@link startCluster}. */
export interface ClusterOptions {
  /** Agents to register (default 1). */
  agents?: number;
  /** Storage nodes enrolled into the first destination (default 1). */
  nodes?: number;
  /** The destination the nodes enroll into (created by the first enroll key; default `Primary`). */
  destinationName?: string;
  clock?: Clock;
  logger?: Logger;
  /** Use this folder (not removed by dispose). */
  dir?: string;
}

/** A storage node of the cluster. */
export interface ClusterNode {
  dataDir: string;
  storePointDir: string;
  serverGuid: string;
  /** The running node (replaced by `restart`). */
  readonly handle: StorenodeHandle;
  /** The authority's server id of this node. */
  serverId: number;
  /** Restarts the node on its port, or with `newPort` on another one (a node that moved). */
  restart(o?: { newPort?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

/** A registered agent of the cluster. */
export interface ClusterAgent {
  dataDir: string;
  /** A folder the test fills; `select()` adds it to the agent's selection. */
  home: string;
  username: string;
  password: string;
  registration: RegisterResult;
  /** Adds paths (default: `home`) to the local selection. */
  select(paths?: string[]): void;
  backup(): Promise<RunBackupResult>;
  restore(o: Omit<RunRestoreOptions, "dataDir">): ReturnType<typeof runRestore>;
}

/** A running cluster. */
export interface Cluster {
  dir: string;
  authority: TestAuthority;
  destination: { destinationGuid: string; destinationName: string };
  nodes: ClusterNode[];
  agents: ClusterAgent[];
  logger: Logger;
  clock: Clock;
  /** Enrolls one more node into a destination (default: the cluster's). */
  addNode(o?: { destinationName?: string }): Promise<ClusterNode>;
  /**
   * Adds a destination from a provider key (another operator's node: `createProviderKey` of
   * `@cairn/storenode`) through the API, and waits until this authority's link to it is up.
   */
  addProviderDestination(destinationName: string, providerKey: string): Promise<{ destinationId: number; destinationGuid: string; serverId: number }>;
  /** Registers one more agent (its user is created at registration unless it exists). */
  addAgent(o?: { username?: string; password?: string; registrationKey?: string; deviceName?: string }): Promise<ClusterAgent>;
  dispose(): Promise<void>;
}

/** Each agent selects its home folder, which holds one small file of its own, and backs it up (throws on a file not backed up). */
export async function backUpOneFileEach(agents: readonly ClusterAgent[]): Promise<void> {
  for (const a of agents) {
    writeFileSync(join(a.home, "keep.txt"), `kept by ${a.username}\n`);
    a.select();
    const r = await a.backup();
    if (r.errors !== 0) throw new Error(`${a.username}: ${r.errors} file(s) not backed up`);
  }
}

/** Resolves once `serverId` holds a control link other than `before` (the one before a restart). */
export async function relinked(authority: TestAuthority, serverId: number, before: unknown, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const now = authority.ctx.nodes.get(serverId);
    if (now !== undefined && now !== before) return;
    if (Date.now() > until) throw new Error(`server ${serverId} did not reconnect`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Starts an authority, `nodes` storage nodes and `agents` agents. */
export async function startCluster(o: ClusterOptions = {}): Promise<Cluster> {
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), "cairn-cluster-"));
  const logger = o.logger ?? pino({ level: "silent" });
  const clock = o.clock ?? systemClock;
  const authority = await startTestAuthority({ dataDir: join(dir, "authority"), logger, ...(o.clock ? { clock: o.clock } : {}) });
  const nodes: ClusterNode[] = [];
  const agents: ClusterAgent[] = [];
  let destination = { destinationGuid: "", destinationName: o.destinationName ?? "Primary" };

  const addNode = async (n: { destinationName?: string } = {}): Promise<ClusterNode> => {
    const i = nodes.length + 1;
    const key = await createEnrollKey({ dataDir: authority.dataDir, destination: n.destinationName ?? destination.destinationName, clock });
    if (destination.destinationGuid === "") destination = { destinationGuid: key.destinationGuid, destinationName: key.destinationName };
    const dataDir = join(dir, `node${i}`);
    const storePointDir = join(dir, `node${i}-sp1`);
    const init = await initStorenode({
      dataDir,
      storePoints: [storePointDir],
      name: `node${i}`,
      authority: { url: authority.url, fingerprint: authority.fingerprint, enrollKey: key.enrollKey },
      clock,
      logger,
    });
    const server = await authority.ctx.store.getServerByGuid(init.serverGuid);
    if (server === undefined) throw new Error("the enrolled server is not in the authority");
    const start = (port = 0) =>
      startStorenode({ dataDir, host: "127.0.0.1", port, clock, logger, maintenanceSchedule: null, verifySchedule: null, reserveBytes: 0 });
    let handle = await start();
    await authority.ctx.nodes.waitFor(server.serverId);
    const node: ClusterNode = {
      dataDir,
      storePointDir,
      serverGuid: init.serverGuid,
      serverId: server.serverId,
      get handle() {
        return handle;
      },
      async restart(o: { newPort?: boolean } = {}) {
        const port = handle.port;
        const before = authority.ctx.nodes.get(server.serverId);
        await handle.close();
        // the same port: tenant authorities dial the URL they were given
        handle = await start(o.newPort ? 0 : port);
        await relinked(authority, server.serverId, before);
      },
      async stop() {
        await handle.close();
      },
    };
    nodes.push(node);
    return node;
  };

  const addAgent = async (a: { username?: string; password?: string; registrationKey?: string; deviceName?: string } = {}): Promise<ClusterAgent> => {
    const i = agents.length + 1;
    const dataDir = join(dir, `agent${i}`);
    const home = join(dir, `home${i}`);
    mkdirSync(home, { recursive: true });
    const username = a.username ?? `user${i}@example.com`;
    const password = a.password ?? `password-${i}-cluster`;
    const registration = await registerAgent({
      dataDir,
      authorityUrl: authority.url,
      authorityFingerprint: authority.fingerprint,
      registrationKey: a.registrationKey ?? authority.registrationKey,
      username,
      password,
      deviceName: a.deviceName ?? `device-${i}`,
      clock,
      logger,
    });
    const agent: ClusterAgent = {
      dataDir,
      home,
      username,
      password,
      registration,
      select: (paths = [`${home}/`]) => {
        changeSelection({ dataDir, op: "add", items: paths, logger });
      },
      backup: () => runBackup({ dataDir, clock, logger }),
      restore: (r) => runRestore({ ...r, dataDir, clock, logger }),
    };
    agents.push(agent);
    return agent;
  };

  const addProviderDestination = async (destinationName: string, providerKey: string) => {
    const py = authority.py42();
    const d = (await py.data("POST", "/api/v1/destinations", { destinationName, providerKey })) as { destinationId: number; guid: string };
    const server = (await authority.ctx.store.listServers({ destinationId: d.destinationId }, { offset: 0, limit: 10 })).items[0];
    if (server === undefined) throw new Error("the provider destination has no server");
    await authority.ctx.nodes.waitFor(server.serverId);
    if (destination.destinationGuid === "") destination = { destinationGuid: d.guid, destinationName };
    return { destinationId: d.destinationId, destinationGuid: d.guid, serverId: server.serverId };
  };

  try {
    for (let i = 0; i < (o.nodes ?? 1); i++) await addNode();
    for (let i = 0; i < (o.agents ?? 1); i++) await addAgent();
  } catch (err) {
    await Promise.allSettled(nodes.map((n) => n.stop()));
    await authority.dispose();
    if (o.dir === undefined) rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    dir,
    authority,
    get destination() {
      return destination;
    },
    nodes,
    agents,
    logger,
    clock,
    addNode,
    addProviderDestination,
    addAgent,
    async dispose() {
      await Promise.allSettled(nodes.map((n) => n.stop()));
      await authority.dispose();
      if (o.dir === undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}
