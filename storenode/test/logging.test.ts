import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { generateSigningKey, ManualClock } from "@cairn/protocol";
import { initStorenode, startStorenode, type StorenodeHandle } from "../src/index.js";
import { connectTenant, DataClient, randomBlocks, storageToken, testPlacement } from "../src/testing.js";

let node: StorenodeHandle | undefined;
let dir = "";
afterEach(async () => {
  await node?.close();
  node = undefined;
  rmSync(dir, { recursive: true, force: true });
});

describe("logs", () => {
  it("are pino JSON with the storenode component and never contain a secret or token", async () => {
    dir = mkdtempSync(join(tmpdir(), "cairn-log-"));
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(...String(chunk).split("\n").filter(Boolean));
        cb();
      },
    });
    const logger = pino({ level: "trace" }, sink);
    const clock = new ManualClock();
    await initStorenode({ dataDir: join(dir, "data"), storePoints: [join(dir, "sp")], clock, logger });
    node = await startStorenode({
      dataDir: join(dir, "data"),
      host: "127.0.0.1",
      port: 0,
      clock,
      logger,
      maintenanceSchedule: null,
      verifySchedule: null,
      reserveBytes: 0,
    });
    const key = generateSigningKey();
    const t = await connectTenant(node.url, { dataDir: join(dir, "data"), key, tenantName: "logged" });
    const p = testPlacement();
    await t.peer.call("place-archive", p);
    const token = storageToken(key, p, clock);
    const c = await DataClient.connect(node.url, token);
    await c.peer.call("open", { archiveGuid: p.archiveGuid, mode: "backup", sessionId: null, agentVersion: "t" });
    await c.put(randomBlocks(2));
    await DataClient.connect(node.url, `${token}x`).catch(() => undefined);
    await c.close();
    await t.close();
    await node.close();
    node = undefined;
    const all = lines.join("\n");
    expect(lines.some((l) => JSON.parse(l).msg === "listening" && JSON.parse(l).component === "storenode")).toBe(true);
    expect(all).not.toContain(t.tenantSecret);
    expect(all).not.toContain(token.split(".")[2]);
    expect(all).not.toContain("cnp_");
  });
});
