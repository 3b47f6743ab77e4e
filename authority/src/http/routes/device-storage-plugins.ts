/**
 * The route modules of devices and storage (issue 5 part B), part of every authority's
 * `CORE_PLUGINS`: API.md §6 devices, §7.1 archives, Cairn's storage routes, and the agent and
 * storage-node control channels.
 */
import type { HttpPlugin } from "../server.js";
import { registerControlChannels } from "../../ws/control-channels.js";
import { registerArchiveRoutes } from "./archive-routes.js";
import { registerDeviceRoutes } from "./device-routes.js";
import { registerStorageRoutes } from "./storage-routes.js";

/** Devices, archives, storage and the control channels. */
export const DEVICE_STORAGE_PLUGINS: readonly HttpPlugin[] = [
  { name: "devices", register: registerDeviceRoutes },
  { name: "archives", register: registerArchiveRoutes },
  { name: "storage", register: registerStorageRoutes },
  { name: "control-channels", register: registerControlChannels },
];
