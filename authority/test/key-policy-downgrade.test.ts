/**
 * T21 "Downgrade is refused for everyone": an org's encryption key policy (own or inherited) and
 * a user's key record can be raised, never lowered, through every route that can touch them —
 * Cairn's settings route (values, inheriting from a weaker parent, packets), the platform's
 * whole-object PUT /api/Org, the /api/OrgSetting packets, moving an org under a weaker parent,
 * and the agent's `set-user-key` — even for the top administrator. Each refusal is
 * 403 KEY_POLICY_DOWNGRADE (or a 400 for a key the route does not take) and changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOrg, dataOf, errorName } from "./api-fixture.js";
import { type DeviceFixture, deviceFixture } from "./device-fixture.js";

type Obj = Record<string, unknown>;
let f: DeviceFixture;
let parent: { orgId: number; orgUid: string; registrationKey: string };
let child: { orgId: number; orgUid: string; registrationKey: string };
let escrowOrg: { orgId: number; orgUid: string; registrationKey: string };

async function policyOf(orgId: number): Promise<{ keyPolicy: string; inherits: boolean }> {
  const eff = dataOf<{ values: { security: { keyPolicy: string } }; inherits: Record<string, boolean> }>(await f.admin.get(`/api/v1/orgs/${orgId}/settings`));
  return { keyPolicy: eff.values.security.keyPolicy, inherits: eff.inherits.security === true };
}

async function orgObject(orgId: number): Promise<Obj> {
  return dataOf<Obj>(await f.admin.get(`/api/Org/${orgId}?incSettings=True&incDeviceDefaults=True&incInheritedOrgInfo=True`));
}

beforeAll(async () => {
  f = await deviceFixture();
  parent = await createOrg(f.admin, "Password parent", f.a.orgUid);
  child = await createOrg(f.admin, "Inheriting child", parent.orgUid);
  escrowOrg = await createOrg(f.admin, "Escrow sibling", f.a.orgUid);
  dataOf(await f.admin.send("PUT", `/api/v1/orgs/${parent.orgId}/settings`, { groups: { security: { values: { keyPolicy: "password" } } } }));
}, 60_000);
afterAll(async () => {
  await f?.dispose();
});

describe("T21: a key policy downgrade is refused through every route", () => {
  it("starts from a password parent whose child inherits it", async () => {
    expect(await policyOf(parent.orgId)).toEqual({ keyPolicy: "password", inherits: false });
    expect(await policyOf(child.orgId)).toEqual({ keyPolicy: "password", inherits: true });
  });

  it("PUT /api/v1/orgs/:id/settings: lower values, inherit from a weaker parent, or a packet", async () => {
    for (const keyPolicy of ["escrow"]) {
      const r = await f.admin.send("PUT", `/api/v1/orgs/${parent.orgId}/settings`, { groups: { security: { values: { keyPolicy } } } });
      expect(r.status, r.text).toBe(403);
      expect(errorName(r)).toBe("KEY_POLICY_DOWNGRADE");
    }
    // the child's own value, lower than what it inherits
    const own = await f.admin.send("PUT", `/api/v1/orgs/${child.orgId}/settings`, { groups: { security: { values: { keyPolicy: "escrow" } } } });
    expect(errorName(own)).toBe("KEY_POLICY_DOWNGRADE");
    // the parent going back to inheriting the top org's escrow
    const inherit = await f.admin.send("PUT", `/api/v1/orgs/${parent.orgId}/settings`, { groups: { security: { inherit: true } } });
    expect(inherit.status).toBe(403);
    expect(errorName(inherit)).toBe("KEY_POLICY_DOWNGRADE");
    // the security group is not a packet
    const packet = await f.admin.send("PUT", `/api/v1/orgs/${parent.orgId}/settings`, { packets: [{ key: "security.keyPolicy", value: "escrow" }] });
    expect(packet.status).toBe(400);
    expect(await policyOf(parent.orgId)).toEqual({ keyPolicy: "password", inherits: false });
    expect(await policyOf(child.orgId)).toEqual({ keyPolicy: "password", inherits: true });
  });

  it("PUT /api/Org/:id: a lower securityKeyType, or inheriting, on the org and on its inheriting child", async () => {
    for (const orgId of [parent.orgId, child.orgId]) {
      const org = await orgObject(orgId);
      (org.settings as Obj).securityKeyType = "AccountPassword";
      (org.settings as Obj).securityKeyInherit = false;
      const lowered = await f.admin.send("PUT", `/api/Org/${orgId}`, org);
      expect(lowered.status, lowered.text).toBe(403);
      expect(errorName(lowered)).toBe("KEY_POLICY_DOWNGRADE");
    }
    const org = await orgObject(parent.orgId);
    (org.settings as Obj).securityKeyInherit = true;
    expect(errorName(await f.admin.send("PUT", `/api/Org/${parent.orgId}`, org))).toBe("KEY_POLICY_DOWNGRADE");
    expect(await policyOf(parent.orgId)).toEqual({ keyPolicy: "password", inherits: false });
    expect(await policyOf(child.orgId)).toEqual({ keyPolicy: "password", inherits: true });
  });

  it("PUT /api/OrgSetting/:id: packets cannot reach the key policy", async () => {
    const r = await f.admin.send("PUT", `/api/OrgSetting/${parent.orgId}`, {
      packets: [
        { key: "securityKeyType", value: "AccountPassword", locked: false },
        { key: "security.keyPolicy", value: "escrow", locked: false },
        { key: "security_keyPolicy", value: "escrow", locked: false },
      ],
    });
    // kept verbatim as opaque packets (py42 round-trips unknown ones), never read as the policy
    expect(r.status, r.text).toBe(200);
    expect(await policyOf(parent.orgId)).toEqual({ keyPolicy: "password", inherits: false });
    expect(await policyOf(child.orgId)).toEqual({ keyPolicy: "password", inherits: true });
    expect(((await orgObject(parent.orgId)).settings as Obj).securityKeyType).toBe("PrivatePassword");
  });

  it("PUT /api/v1/orgs/:id/parent: an org inheriting a stronger policy is not moved under a weaker parent", async () => {
    const r = await f.admin.send("PUT", `/api/v1/orgs/${child.orgId}/parent`, { parentOrgId: escrowOrg.orgId });
    expect(r.status, r.text).toBe(403);
    expect(errorName(r)).toBe("KEY_POLICY_DOWNGRADE");
    expect(dataOf<Obj>(await f.admin.get(`/api/Org/${child.orgId}`)).parentOrgId).toBe(parent.orgId);
    expect(await policyOf(child.orgId)).toEqual({ keyPolicy: "password", inherits: true });
    // with its own (equal) setting it keeps the policy wherever it goes
    dataOf(await f.admin.send("PUT", `/api/v1/orgs/${child.orgId}/settings`, { groups: { security: { values: { keyPolicy: "password" } } } }));
    dataOf(await f.admin.send("PUT", `/api/v1/orgs/${child.orgId}/parent`, { parentOrgId: escrowOrg.orgId }));
    expect(await policyOf(child.orgId)).toEqual({ keyPolicy: "password", inherits: false });
  });

  it("set-user-key: a device cannot lower its user's key record, nor go below its org's policy", async () => {
    const d = await f.device({ username: "raiser@example.com", registrationKey: escrowOrg.registrationKey, deviceName: "raiser-laptop" });
    await d.link.peer.call("set-user-key", { keyPolicy: "custom", wrappedUserKey: null });
    for (const keyPolicy of ["password", "escrow"] as const) {
      await expect(d.link.peer.call("set-user-key", { keyPolicy, wrappedUserKey: keyPolicy === "password" ? Buffer.alloc(81) : null })).rejects.toMatchObject({
        code: "KEY_POLICY_DOWNGRADE",
      });
    }
    // a user of the password org cannot go back to escrow either
    const p = await f.device({ username: "pw-member@example.com", registrationKey: parent.registrationKey, deviceName: "member-laptop" });
    await expect(p.link.peer.call("set-user-key", { keyPolicy: "escrow", wrappedUserKey: null })).rejects.toMatchObject({ code: "KEY_POLICY_DOWNGRADE" });
  });
});
