/**
 * An authority's services over a real SQLite file, without HTTP: for service-level tests.
 */
import { join } from "node:path";
import { ManualClock } from "@cairn/protocol";
import { pino } from "pino";
import { onTestFinished } from "vitest";
import type { Principal } from "../src/auth/access.js";
import { TEST_ARGON2 } from "../src/auth/passwords.js";
import { bootstrapAuthority, newAuthorityGuid } from "../src/bootstrap.js";
import { type AuthorityContext, createContext } from "../src/context.js";
import type { Org, User } from "../src/db/records.js";
import { openSqliteStore } from "../src/db/sqlite-store.js";
import { generateAuthorityKeys } from "../src/keys/authority-keys.js";
import { tempDir } from "./helpers.js";

/** A bootstrapped core. */
export interface CoreFixture {
  ctx: AuthorityContext;
  clock: ManualClock;
  root: Org;
  admin: User;
  adminP: Principal;
  /** A principal for a user (as if signed in from 127.0.0.1). */
  as(user: User): Promise<Principal>;
  /** Creates a user in `org` with roles, as the admin. */
  user(name: string, org: Org, roles?: string[]): Promise<User>;
  /** Creates a child org of `parent`, as the admin. */
  org(name: string, parent: Org): Promise<Org>;
}

/** Builds a core with a top-level org "Root Org" and admin "admin@example.com". */
export async function coreFixture(): Promise<CoreFixture> {
  const store = openSqliteStore({ file: join(tempDir(), "authority.db"), clock: new ManualClock() });
  const clock = new ManualClock(Date.UTC(2026, 0, 15, 12, 0, 0));
  const ctx = createContext({
    store,
    clock,
    keys: generateAuthorityKeys(),
    authorityGuid: newAuthorityGuid(),
    log: pino({ level: "silent" }),
    argon2: TEST_ARGON2,
  });
  onTestFinished(() => store.close());
  const { org: root, admin } = await bootstrapAuthority(ctx, {
    orgName: "Root Org",
    adminUsername: "admin@example.com",
    adminPassword: "correct horse battery",
  });
  const as = (u: User) => ctx.auth.principalFor(u, "jwt", "127.0.0.1", null);
  const adminP = await as(admin);
  return {
    ctx,
    clock,
    root,
    admin,
    adminP,
    as,
    async user(name, org, roles = []) {
      const u = await ctx.users.create(adminP, { orgUid: org.orgUid, username: name, password: "password123" });
      for (const r of roles) await ctx.roles.add(adminP, u.userId, r);
      return u;
    },
    async org(name, parent) {
      return ctx.orgs.create(adminP, { orgName: name, parentOrgUid: parent.orgUid });
    },
  };
}
