/**
 * The console's storage flows in a real browser (issue 7, seed 000): add a destination with the
 * Provider box and a provider key issued by a real storage node, add a server with an enroll key,
 * offer a destination system-wide with auto-start (Settings > Organization > Destinations), and an
 * organization's Destinations tab with "Inherit destination settings from parent".
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createProviderKey, initStorenode, type StorenodeHandle, startStorenode } from "@cairn/storenode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConsoleEnv, startConsoleEnv } from "../authority/console/e2e/harness.js";

interface Destination {
  destinationId: number;
  guid: string;
  destinationName: string;
  type: string;
}
interface Offer {
  destinationId: number;
  offered: boolean;
  autoStart: boolean;
}

describe("console: storage and destination offers", () => {
  let env: ConsoleEnv;
  let node: StorenodeHandle;
  let nodeDir: string;
  let providerKey: string;

  beforeAll(async () => {
    env = await startConsoleEnv();
    nodeDir = mkdtempSync(join(tmpdir(), "cairn-console-node-"));
    await initStorenode({ dataDir: join(nodeDir, "node"), storePoints: [join(nodeDir, "sp1")], name: "provider-node" });
    node = await startStorenode({ dataDir: join(nodeDir, "node"), host: "127.0.0.1", port: 0 });
    providerKey = createProviderKey({ dataDir: join(nodeDir, "node"), tenantName: "Console test tenant", quotaBytes: 50e9, urls: [node.url] }).providerKey;
    await env.signIn();
  });
  afterAll(async () => {
    await env?.close();
    await node?.close();
    if (nodeDir) rmSync(nodeDir, { recursive: true, force: true });
  });

  const destinations = async () => (await env.api.get<{ destinations: Destination[] }>("/api/v1/destinations", { pgNum: 1, pgSize: 100 })).destinations;

  it("adds a destination with the Provider box and the provider key", async () => {
    const { page } = env;
    await env.goto("#/storage/destinations");
    await page.getByTestId("add-destination").click();
    const dlg = page.getByTestId("add-destination-dialog");
    await dlg.getByLabel("Name").fill("Cloud storage");
    await expect(dlg.getByLabel("Provider Key").count()).resolves.toBe(0);
    await dlg.getByTestId("provider-box").check();
    await dlg.getByLabel("Provider Key").fill(providerKey);
    await env.shot("add-destination");
    await dlg.getByRole("button", { name: "Create" }).click();
    await dlg.waitFor({ state: "detached" });
    const cloud = (await destinations()).find((d) => d.destinationName === "Cloud storage");
    expect(cloud?.type).toBe("PROVIDER");
    await page.getByTestId(`destination-row-${cloud?.destinationId}`).waitFor();
    await expect(page.getByTestId(`destination-row-${cloud?.destinationId}`).textContent()).resolves.toContain("Provider");
    // Its space is the tenant quota of the key, not the provider's disk.
    expect(cloud).toMatchObject({ quotaBytes: 50e9, totalBytes: 50e9 });
    await expect(page.getByTestId(`destination-row-${cloud?.destinationId}`).textContent()).resolves.toMatch(/of \S+ GB quota/);

    // A bad key is refused with the authority's message, and nothing is created.
    await page.getByTestId("add-destination").click();
    await dlg.getByLabel("Name").fill("Broken provider");
    await dlg.getByTestId("provider-box").check();
    await dlg.getByLabel("Provider Key").fill("not-a-provider-key");
    await dlg.getByRole("button", { name: "Create" }).click();
    await dlg.getByTestId("dialog-error").waitFor();
    await dlg.getByRole("button", { name: "Cancel" }).click();
    expect((await destinations()).some((d) => d.destinationName === "Broken provider")).toBe(false);
    await env.shot("destinations");
  });

  it("adds a destination of its own servers and an enroll key for a new server", async () => {
    const { page } = env;
    await env.goto("#/storage/destinations");
    await page.getByTestId("add-destination").click();
    const dlg = page.getByTestId("add-destination-dialog");
    await dlg.getByLabel("Name").fill("Own servers");
    await dlg.getByRole("button", { name: "Create" }).click();
    await dlg.waitFor({ state: "detached" });
    const own = (await destinations()).find((d) => d.destinationName === "Own servers");
    expect(own?.type).toBe("CLUSTER");
    await env.goto("#/storage/servers");
    await page.getByTestId("add-server").click();
    await page.getByRole("dialog").getByLabel("Destination").selectOption({ label: "Own servers" });
    await page.getByRole("button", { name: "Create enroll key" }).click();
    await expect.poll(() => page.getByTestId("enroll-command").textContent()).toMatch(/--enroll-key cne_\S+/);
    await env.shot("add-server");
    await page.getByRole("dialog").getByRole("button", { name: "Close" }).click();
    await env.goto("#/storage/store-points");
    await page.getByRole("heading", { name: "Store points" }).waitFor();
  });

  it("lists the provider's server and store point, and stops the store point taking new archives", async () => {
    const { page } = env;
    const cloud = (await destinations()).find((d) => d.destinationName === "Cloud storage") as Destination;
    type Sp = { storePointId: number; storePointName: string; serverId: number; acceptingNew: boolean; acceptingData: boolean };
    const points = async () =>
      (await env.api.get<{ storePoints: Sp[] }>("/api/v1/store-points", { pgNum: 1, pgSize: 50, destinationId: cloud.destinationId })).storePoints;
    const sp = (await points())[0] as Sp;
    await env.goto("#/storage/destinations");
    await page.getByTestId(`destination-row-${cloud.destinationId}`).getByRole("link", { name: "1" }).click();
    await page.getByTestId(`server-row-${sp.serverId}`).waitFor();
    await expect.poll(() => page.getByTestId("filtered-by").textContent()).toContain("Cloud storage");
    await expect.poll(() => page.getByTestId(`server-row-${sp.serverId}`).textContent()).toContain("Online");
    await page.getByTestId(`server-row-${sp.serverId}`).getByRole("link").first().click();
    const row = page.getByTestId(`storepoint-row-${sp.storePointId}`);
    await row.waitFor();
    await row.getByRole("checkbox", { name: `${sp.storePointName} accepts new archives` }).uncheck();
    await expect.poll(async () => (await points())[0]?.acceptingNew).toBe(false);
    expect((await points())[0]?.acceptingData).toBe(true);
    await expect(row.getByRole("checkbox", { name: `${sp.storePointName} accepts new archives` }).isChecked()).resolves.toBe(false);
    await env.shot("store-points");
    await row.getByRole("checkbox", { name: `${sp.storePointName} accepts new archives` }).check();
    await expect.poll(async () => (await points())[0]?.acceptingNew).toBe(true);
  });

  it("offers a destination system-wide with auto-start (Settings > Organization > Destinations)", async () => {
    const { page } = env;
    const all = await destinations();
    const cloud = all.find((d) => d.destinationName === "Cloud storage") as Destination;
    const own = all.find((d) => d.destinationName === "Own servers") as Destination;
    await env.goto("#/settings/organization?tab=destinations");
    // A fresh authority's first destination is offered system-wide with auto-start by itself
    // (issue 5), and the screen shows it so.
    const first = page.getByTestId(`offer-row-${cloud.destinationId}`);
    await expect(first.getByRole("checkbox", { name: "Offer Cloud storage" }).isChecked()).resolves.toBe(true);
    await expect(first.getByRole("checkbox", { name: "Auto-start backups to Cloud storage" }).isChecked()).resolves.toBe(true);
    // A later destination is offered by an administrator.
    const row = page.getByTestId(`offer-row-${own.destinationId}`);
    const offer = row.getByRole("checkbox", { name: "Offer Own servers" });
    const autoStart = row.getByRole("checkbox", { name: "Auto-start backups to Own servers" });
    await expect(offer.isChecked()).resolves.toBe(false);
    await expect(autoStart.isDisabled()).resolves.toBe(true);
    await expect(page.getByTestId("save-system-destinations").isDisabled()).resolves.toBe(true);
    await offer.check();
    await autoStart.check();
    await page.getByTestId("save-system-destinations").click();
    await page.getByTestId("toast").filter({ hasText: "Settings saved" }).first().waitFor();
    const offers = (await env.api.get<{ destinations: Offer[] }>("/api/v1/settings/destinations")).destinations;
    expect(offers.find((o) => o.destinationId === own.destinationId)).toMatchObject({ offered: true, autoStart: true });
    expect(offers.find((o) => o.destinationId === cloud.destinationId)).toMatchObject({ offered: true, autoStart: true });
    const listed = (await destinations()).find((d) => d.destinationId === own.destinationId) as Destination & {
      offeredSystemWide: boolean;
      autoStart: boolean;
    };
    expect(listed).toMatchObject({ offeredSystemWide: true, autoStart: true });
    await env.shot("settings-organization-destinations");
    // Every inheriting organization now offers it (the platform view agrees).
    const top = await env.api.get<{ orgId: number; orgUid: string }>("/api/Org/my");
    const sub = await env.api.post<{ orgId: number }>("/api/Org/", { orgName: "Branch Office", orgExtRef: null, notes: null, parentOrgUid: top.orgUid });
    const s = await env.api.get<{ settings: { destinations: { guid: string }[] } }>(`/api/Org/${sub.orgId}`, { incSettings: true });
    expect(s.settings.destinations.map((d) => d.guid)).toEqual(expect.arrayContaining([own.guid, cloud.guid]));
  });

  it("stops inheriting destination settings on an organization's Destinations tab", async () => {
    const { page } = env;
    const cloud = (await destinations()).find((d) => d.destinationName === "Cloud storage") as Destination;
    const branch = (await env.api.get<{ orgs: { orgId: number; orgName: string }[] }>("/api/Org", { pgNum: 1, pgSize: 50, q: "Branch Office" })).orgs[0] as {
      orgId: number;
    };
    await env.goto(`#/orgs/${branch.orgId}/info?tab=destinations`);
    const form = page.getByTestId("destinations-form");
    const inherit = form.getByTestId("inherit-destinations");
    await expect(inherit.isChecked()).resolves.toBe(true);
    const offer = form.getByTestId(`offer-row-${cloud.destinationId}`).getByRole("checkbox", { name: "Offer Cloud storage" });
    await expect(offer.isChecked()).resolves.toBe(true);
    await expect(offer.isDisabled()).resolves.toBe(true);
    await inherit.uncheck();
    await offer.uncheck();
    await env.shot("org-info-destinations");
    await page.getByTestId("save-destinations").click();
    await page.getByTestId("toast").filter({ hasText: "Settings saved" }).first().waitFor();
    const mine = await env.api.get<{ inherit: boolean; destinations: Offer[] }>(`/api/v1/orgs/${branch.orgId}/destinations`);
    expect(mine.inherit).toBe(false);
    expect(mine.destinations.find((o) => o.destinationId === cloud.destinationId)?.offered).toBe(false);
    const s = await env.api.get<{ settings: { destinations: { guid: string }[]; isUsingDestinationDefaults: boolean } }>(`/api/Org/${branch.orgId}`, {
      incSettings: true,
    });
    expect(s.settings.isUsingDestinationDefaults).toBe(false);
    expect(s.settings.destinations.map((d) => d.guid)).not.toContain(cloud.guid);
  });
  it("renames a destination, and removes one after its name is typed to confirm", async () => {
    const { page } = env;
    const spare = await env.api.post<Destination>("/api/v1/destinations", { destinationName: "Spare servers", providerKey: null });
    await env.goto("#/storage/destinations");
    const row = page.getByTestId(`destination-row-${spare.destinationId}`);
    await row.getByTestId(`destination-actions-${spare.destinationId}`).click();
    await page.getByRole("menuitem", { name: "Rename" }).click();
    const rename = page.getByTestId("rename-destination-dialog");
    await rename.getByLabel("Name").fill("Old servers");
    await rename.getByRole("button", { name: "Rename" }).click();
    await rename.waitFor({ state: "detached" });
    await expect.poll(() => row.textContent()).toContain("Old servers");
    expect((await destinations()).find((d) => d.destinationId === spare.destinationId)?.destinationName).toBe("Old servers");

    await row.getByTestId(`destination-actions-${spare.destinationId}`).click();
    await page.getByRole("menuitem", { name: "Remove destination" }).click();
    const remove = page.getByTestId("remove-destination-dialog");
    await expect(remove.textContent()).resolves.toContain("cold storage");
    // The wrong name removes nothing.
    await remove.getByLabel("Type the destination's name to confirm").fill("Old");
    await remove.getByRole("button", { name: "Remove destination" }).click();
    await remove.getByTestId("dialog-error").waitFor();
    expect((await destinations()).some((d) => d.destinationId === spare.destinationId)).toBe(true);
    await env.shot("remove-destination");
    await remove.getByLabel("Type the destination's name to confirm").fill("Old servers");
    await remove.getByRole("button", { name: "Remove destination" }).click();
    await remove.waitFor({ state: "detached" });
    await row.waitFor({ state: "detached" });
    expect((await destinations()).some((d) => d.destinationId === spare.destinationId)).toBe(false);
    expect((await env.api.raw("GET", `/api/v1/destinations/${spare.destinationId}`)).status).toBe(404);
  });
});
