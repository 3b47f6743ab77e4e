/**
 * The services of devices and storage (issue 5 part B) over the core: registries of connected
 * nodes and agents, the node and agent control channels' logic, storage administration, device
 * lookups and lifecycle, registration, alert thresholds. `createContext` spreads them into the
 * `AuthorityContext`; `DEVICE_STORAGE_PLUGINS` serve them.
 */
import type { AuthService } from "./auth/auth-service.js";
import type { CoreDeps } from "./core.js";
import { AgentService } from "./devices/agent-service.js";
import { AlertThresholds } from "./devices/alert-thresholds.js";
import { DeviceLifecycle } from "./devices/device-lifecycle.js";
import { DeviceService } from "./devices/device-service.js";
import { RegistrationService, RegistrationThrottle, type RegistrationThrottleOptions } from "./devices/registration.js";
import type { OrgService } from "./orgs/org-service.js";
import { NodeService } from "./storage/node-service.js";
import { PlacementSync } from "./storage/placement-sync.js";
import { ProviderLinks } from "./storage/provider-links.js";
import { StorageService } from "./storage/storage-service.js";
import type { UserService } from "./users/user-service.js";
import { AgentRegistry } from "./ws/agent-registry.js";
import { NodeRegistry } from "./ws/node-registry.js";

/** Devices and storage. */
export interface DeviceStorageServices {
  /** Connected storage nodes; every call to a node goes through it. */
  nodes: NodeRegistry;
  /** Connected agents (push restores, `connectedServerUrl`). */
  agents: AgentRegistry;
  nodeService: NodeService;
  providers: ProviderLinks;
  storage: StorageService;
  /** Pushes placements to the nodes after settings, quota, move and legal-hold changes (started with the control channels). */
  placementSync: PlacementSync;
  alerts: AlertThresholds;
  devices: DeviceService;
  deviceLifecycle: DeviceLifecycle;
  registration: RegistrationService;
  agentService: AgentService;
}

/** Builds the services. */
export function createDeviceStorageServices(
  core: CoreDeps,
  s: { auth: AuthService; orgs: OrgService; users: UserService; registrationThrottle?: RegistrationThrottleOptions },
): DeviceStorageServices {
  const nodes = new NodeRegistry(core.store, core.log.child({ part: "nodes" }));
  const agents = new AgentRegistry();
  const nodeService = new NodeService(core, nodes);
  const providers = new ProviderLinks(core, nodeService);
  const storage = new StorageService(core, nodes, providers);
  const alerts = new AlertThresholds(core.store, () => core.clock.now(), core.events);
  const devices = new DeviceService(core, agents, alerts);
  const pushPlacements = async (guids: string[]) => {
    const archives = (await Promise.all(guids.map((g) => core.store.getArchiveByGuid(g)))).filter((a) => a !== undefined);
    await storage.pushPlacements(archives);
  };
  return {
    nodes,
    agents,
    nodeService,
    providers,
    storage,
    placementSync: new PlacementSync(core, (archives) => storage.pushPlacements(archives)),
    alerts,
    devices,
    deviceLifecycle: new DeviceLifecycle(core, devices, pushPlacements),
    registration: new RegistrationService(core, s.auth, s.orgs, s.users, new RegistrationThrottle(core.clock, s.registrationThrottle)),
    agentService: new AgentService(core, s.orgs, nodes, storage),
  };
}
