import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateSigningKey, ManualClock, type SigningKey } from "@cairn/protocol";
import { initStorenode, type StartStorenodeOptions, startStorenode, type StorenodeHandle } from "../../src/index.js";
import { connectTenant, type TenantClient, testPlacement } from "../../src/testing.js";

/** A standalone node on 127.0.0.1:0 in a temp dir, plus a tenant authority connected to it. */
export interface NodeFixture {
  dir: string;
  dataDir: string;
  storePoint: string;
  clock: ManualClock;
  node: StorenodeHandle;
  key: SigningKey;
  tenant: TenantClient;
  restart(extra?: Partial<StartStorenodeOptions>): Promise<StorenodeHandle>;
  teardown(): Promise<void>;
}

/** Starts a fresh node and registers one tenant. */
export async function startNode(extra: Partial<StartStorenodeOptions> = {}, o: { storePoints?: number } = {}): Promise<NodeFixture> {
  const dir = mkdtempSync(join(tmpdir(), "cairn-node-"));
  const dataDir = join(dir, "data");
  const storePoint = join(dir, "sp1");
  const clock = new ManualClock(Date.UTC(2026, 0, 10));
  const more = Array.from({ length: Math.max(0, (o.storePoints ?? 1) - 1) }, (_, i) => join(dir, `sp${i + 2}`));
  await initStorenode({ dataDir, storePoints: [storePoint, ...more], name: "test-node", clock });
  const opts = (): StartStorenodeOptions => ({
    dataDir,
    host: "127.0.0.1",
    port: 0,
    clock,
    reserveBytes: 0,
    maintenanceSchedule: null,
    verifySchedule: null,
    ...extra,
  });
  const fx: NodeFixture = {
    dir,
    dataDir,
    storePoint,
    clock,
    node: await startStorenode(opts()),
    key: generateSigningKey(),
    tenant: undefined as unknown as TenantClient,
    async restart(more = {}) {
      await fx.tenant.close();
      await fx.node.close();
      fx.node = await startStorenode({ ...opts(), ...more });
      fx.tenant = await connectTenant(fx.node.url, { key: fx.key, secret: fx.tenant.tenantSecret });
      return fx.node;
    },
    async teardown() {
      await fx.tenant?.close();
      await fx.node.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  fx.tenant = await connectTenant(fx.node.url, { dataDir, key: fx.key, tenantName: "tenant-a" });
  return fx;
}

export { testPlacement };
