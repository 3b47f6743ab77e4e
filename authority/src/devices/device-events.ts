/**
 * Pushes to agents and nodes after changes commit (`ctx.events`): `config-changed` to the
 * connected agents whose effective settings changed (an org's subtree, moved users, custodians
 * whose legal holds changed, a device's own settings, block, opt-in), `deauthorized` then a close for deauthorized devices, and every
 * revocation to every connected node at once, closing the agent links of devices and users whose
 * credentials are revoked outright (a block revokes restores only: backups go on).
 */
import { CairnError } from "@cairn/protocol";
import type { CoreDeps } from "../core.js";
import type { AgentRegistry } from "../ws/agent-registry.js";
import type { NodeRegistry } from "../ws/node-registry.js";

/** Subscribes; returns the unsubscribe function. */
export function wireDeviceEvents(d: CoreDeps, agents: AgentRegistry, nodes: NodeRegistry): () => void {
  const closeCode = new CairnError("DEVICE_DEAUTHORIZED", "").spec.close;
  const push = (deviceIds: Iterable<number>) => {
    const ids = [...new Set(deviceIds)].filter((id) => agents.isConnected(id));
    if (ids.length > 0) agents.emit(ids, "config-changed", { configVersion: d.clock.now() });
  };
  const connectedDevices = async () => d.store.getDevices(agents.connectedDeviceIds());
  const fail = (what: string) => (err: unknown) => d.log.warn({ err }, `${what} not pushed to agents`);
  const offs = [
    d.events.on("settings-changed", ({ orgIds }) => {
      void (async () => {
        const changed = await d.store.getOrgs(orgIds);
        const devices = await connectedDevices();
        const orgs = new Map((await d.store.getOrgs([...new Set(devices.map((x) => x.orgId))])).map((o) => [o.orgId, o.path]));
        push(devices.filter((x) => changed.some((o) => orgs.get(x.orgId)?.startsWith(o.path))).map((x) => x.deviceId));
      })().catch(fail("settings change"));
    }),
    d.events.on("users-moved", ({ userIds }) => {
      void connectedDevices()
        .then((devices) => push(devices.filter((x) => userIds.includes(x.userId)).map((x) => x.deviceId)))
        .catch(fail("user move"));
    }),
    // a custodian's devices gain or lose their legal-hold backup sets
    d.events.on("holds-changed", ({ userIds }) => {
      const users = new Set(userIds);
      void connectedDevices()
        .then((devices) => push(devices.filter((x) => users.has(x.userId)).map((x) => x.deviceId)))
        .catch(fail("legal hold change"));
    }),
    d.events.on("devices-changed", ({ deviceIds }) => push(deviceIds)),
    d.events.on("devices-deauthorized", ({ deviceIds }) => {
      for (const id of deviceIds) {
        agents.emit([id], "deauthorized", { reason: "The device was deauthorized by an administrator" });
        agents.closeDevice(id, closeCode, "deauthorized");
      }
    }),
    d.events.on("revocations-lifted", ({ revocations }) => nodes.broadcastLift(revocations)),
    d.events.on("revoked", ({ revocations, userIds, deviceIds }) => {
      nodes.broadcastRevocations(revocations);
      if (!revocations.some((r) => r.scope === "all")) return;
      for (const id of deviceIds) agents.closeDevice(id, closeCode, "credentials revoked");
      if (userIds.length === 0) return;
      void connectedDevices()
        .then((devices) => {
          for (const x of devices) if (userIds.includes(x.userId)) agents.closeDevice(x.deviceId, closeCode, "credentials revoked");
        })
        .catch(fail("revocation"));
    }),
  ];
  return () => {
    for (const off of offs) off();
  };
}
