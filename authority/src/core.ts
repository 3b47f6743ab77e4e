/**
 * What every service of the authority is built from: the store, the clock, keys, settings,
 * the event bus, fault injection and the logger. `startAuthority` creates one; tests do too.
 */
import type { Clock } from "@cairn/protocol";
import type { Logger } from "pino";
import type { AuthorityStore } from "./db/store.js";
import type { AuthorityEvents } from "./events.js";
import type { Faults } from "./faults.js";
import type { KeysLike } from "./keys/keys-like.js";
import type { SettingsService } from "./settings/settings-service.js";

/** Shared dependencies of the services. */
export interface CoreDeps {
  store: AuthorityStore;
  clock: Clock;
  keys: KeysLike;
  settings: SettingsService;
  events: AuthorityEvents;
  faults: Faults;
  log: Logger;
  /** This authority's GUID (token issuer). */
  authorityGuid: string;
}
