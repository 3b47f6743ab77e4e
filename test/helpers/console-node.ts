/**
 * A storage node for the console's browser tests, set up the way an administrator does it in the
 * console: a destination "Primary" of the authority's own servers, a one-time enroll key for it,
 * and a node initialized with that key (store point `<root>/sp1`) and serving on 127.0.0.1.
 */
import { join } from "node:path";
import { initStorenode, type StorenodeHandle, startStorenode } from "@cairn/storenode";
import type { Logger } from "pino";
import type { ConsoleEnv } from "../../authority/console/e2e/harness.js";

export async function enrollPrimaryNode(env: ConsoleEnv, root: string, logger: Logger): Promise<StorenodeHandle> {
  const primary = await env.api.post<{ destinationId: number }>("/api/v1/destinations", { destinationName: "Primary", providerKey: null });
  const enroll = await env.api.post<{ enrollKey: string }>("/api/v1/enroll-keys", { destinationId: primary.destinationId });
  const nodeDir = join(root, "node");
  await initStorenode({
    dataDir: nodeDir,
    storePoints: [join(root, "sp1")],
    name: "node1",
    authority: { url: env.url, fingerprint: env.fingerprint, enrollKey: enroll.enrollKey },
    logger,
  });
  return startStorenode({ dataDir: nodeDir, host: "127.0.0.1", port: 0, logger });
}
