/**
 * The composition root of the authority's services: one {@link AuthorityContext} per running
 * authority, built from a store, a clock, keys and a logger. HTTP routes and (later) the
 * WebSocket hubs take what they need from it; part B adds its services next to these.
 */
import type { Clock } from "@cairn/protocol";
import type { Logger } from "pino";
import { AuthService } from "./auth/auth-service.js";
import { LoginThrottle, type LoginThrottleOptions } from "./auth/login-throttle.js";
import { type Argon2Params, DEFAULT_ARGON2, PasswordHasher } from "./auth/passwords.js";
import { TotpService } from "./auth/totp-service.js";
import type { CoreDeps } from "./core.js";
import { createDeviceStorageServices, type DeviceStorageServices } from "./devices-storage.js";
import type { RegistrationThrottleOptions } from "./devices/registration.js";
import type { AuthorityStore } from "./db/store.js";
import { AuthorityEvents } from "./events.js";
import type { Faults } from "./faults.js";
import type { KeysLike } from "./keys/keys-like.js";
import { OrgService } from "./orgs/org-service.js";
import { OrgSettingsApi } from "./settings/org-settings-api.js";
import { SettingsService } from "./settings/settings-service.js";
import { UserLifecycle } from "./users/user-lifecycle.js";
import { UserRoles } from "./users/user-roles.js";
import { UserService } from "./users/user-service.js";

/** Inputs of {@link createContext}. */
export interface ContextOptions {
  store: AuthorityStore;
  clock: Clock;
  keys: KeysLike;
  authorityGuid: string;
  log: Logger;
  faults?: Faults;
  /** argon2id cost (tests pass TEST_ARGON2). */
  argon2?: Argon2Params;
  loginThrottle?: LoginThrottleOptions;
  /** Failed device registrations allowed per source address (T26). */
  registrationThrottle?: RegistrationThrottleOptions;
}

/** Every service of a running authority. */
export interface AuthorityContext extends CoreDeps, DeviceStorageServices {
  hasher: PasswordHasher;
  auth: AuthService;
  totp: TotpService;
  orgs: OrgService;
  orgSettings: OrgSettingsApi;
  users: UserService;
  userLifecycle: UserLifecycle;
  roles: UserRoles;
}

/** Builds the services over one store. */
export function createContext(o: ContextOptions): AuthorityContext {
  const settings = new SettingsService(o.store);
  const core: CoreDeps = {
    store: o.store,
    clock: o.clock,
    keys: o.keys,
    settings,
    events: new AuthorityEvents(),
    faults: o.faults ?? {},
    log: o.log,
    authorityGuid: o.authorityGuid,
  };
  const hasher = new PasswordHasher(o.argon2 ?? DEFAULT_ARGON2);
  const throttle = new LoginThrottle(o.clock, o.loginThrottle);
  const auth = new AuthService({ store: o.store, clock: o.clock, keys: o.keys, authorityGuid: o.authorityGuid, hasher, throttle, settings });
  const users = new UserService(core, hasher);
  const orgs = new OrgService(core);
  return {
    ...core,
    ...createDeviceStorageServices(core, { auth, orgs, users, ...(o.registrationThrottle ? { registrationThrottle: o.registrationThrottle } : {}) }),
    hasher,
    auth,
    totp: new TotpService(core, auth, users, hasher),
    orgs,
    orgSettings: new OrgSettingsApi(core, orgs),
    users,
    userLifecycle: new UserLifecycle(core, users),
    roles: new UserRoles(core, users),
  };
}
