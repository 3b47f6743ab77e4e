/**
 * A test authority with storage and a device: the first destination (offered system-wide with
 * auto-start), a fake storage node enrolled into it, and helpers to register devices and give
 * them an archive, as the agent does (register → get-config → create-archive → set-archive-key).
 */
import { generateKey, type ManualClock, wrapContext, wrapKey } from "@cairn/protocol";
import type { Logger } from "pino";
import { startTestAuthority, type TestAuthority, type TestAuthorityOptions } from "../src/testing.js";
import { type Caller, caller, dataOf, tokenFor } from "./api-fixture.js";
import { agentLink, type FakeNode, fakeNode, register } from "./ws-peers.js";

/** A registered device with a live link. */
export interface TestDevice {
  deviceGuid: string;
  deviceToken: string;
  userUid: string;
  userKey: Buffer | null;
  link: Awaited<ReturnType<typeof agentLink>>;
  computerId: number;
  archiveGuid: string | null;
}

/** A caller whose JWT is fetched again after a 401 (tests that move the clock past its hour). */
export async function refreshingCaller(a: TestAuthority, username: string, password: string): Promise<Caller> {
  const c = await caller(a, username, password);
  let token = c.token;
  const send: Caller["send"] = async (method, path, body, o = {}) => {
    const go = () => a.client.request(method, path, { bearer: token, ...(body !== undefined ? { body } : {}), ...o });
    const r = await go();
    if (r.status !== 401 || !r.text.includes("TOKEN_EXPIRED")) return r;
    token = await tokenFor(a, username, password);
    return go();
  };
  return {
    ...c,
    get token() {
      return token;
    },
    get: (path) => send("GET", path),
    send,
  };
}

/** The fixture. */
export interface DeviceFixture {
  a: TestAuthority;
  admin: Caller;
  dest: { destinationId: number; guid: string; destinationName: string };
  node: FakeNode;
  /** Registers a device (the user is created when missing) and, unless `archive: false`, gives it an archive. */
  device(o: { username: string; password?: string; registrationKey?: string; archive?: boolean; deviceName?: string }): Promise<TestDevice>;
  dispose(): Promise<void>;
}

/** Starts the fixture. */
export async function deviceFixture(o: { clock?: ManualClock; logger?: Logger; operations?: TestAuthorityOptions["operations"] } = {}): Promise<DeviceFixture> {
  const a = await startTestAuthority({
    ...(o.clock ? { clock: o.clock } : {}),
    ...(o.logger ? { logger: o.logger } : {}),
    ...(o.operations ? { operations: o.operations } : {}),
  });
  const admin = await refreshingCaller(a, a.adminUsername, a.adminPassword);
  const dest = dataOf<{ destinationId: number; guid: string; destinationName: string }>(
    await admin.send("POST", "/api/v1/destinations", { destinationName: "Primary", providerKey: null }),
  );
  const key = dataOf<{ enrollKey: string }>(await admin.send("POST", "/api/v1/enroll-keys", { destinationId: dest.destinationId }));
  const node = await fakeNode(a, key.enrollKey);
  const links: TestDevice["link"][] = [];
  return {
    a,
    admin,
    dest,
    node,
    async device(d) {
      const r = await register(a, {
        registrationKey: d.registrationKey ?? a.registrationKey,
        username: d.username,
        password: d.password ?? "device-password-1",
        ...(d.deviceName ? { deviceName: d.deviceName } : {}),
      });
      const link = await agentLink(a, r.deviceToken);
      links.push(link);
      let archiveGuid: string | null = null;
      if (d.archive !== false) {
        const cr = await link.peer.call("create-archive", { destinationGuid: dest.guid });
        archiveGuid = cr.archiveGuid;
        if (r.userKey) {
          const wrapped = wrapKey(Buffer.from(r.userKey), generateKey(), wrapContext.archiveKey(r.userUid, archiveGuid, 1));
          await link.peer.call("set-archive-key", { archiveGuid, wrappedArchiveKey: wrapped, keyVersion: 1 });
        }
      }
      const computer = dataOf<{ computerId: number }>(await admin.get(`/api/Computer/${r.deviceGuid}?idType=guid`));
      return {
        deviceGuid: r.deviceGuid,
        deviceToken: r.deviceToken,
        userUid: r.userUid,
        userKey: r.userKey ? Buffer.from(r.userKey) : null,
        link,
        computerId: computer.computerId,
        archiveGuid,
      };
    },
    async dispose() {
      for (const l of links) l.ws.close();
      node.close();
      await a.dispose();
    },
  };
}
