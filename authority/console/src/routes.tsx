/** The route table: path patterns to pages. */
import type { VNode } from "preact";
import { AuditLog } from "./pages/audit-log.js";
import { ColdStorage } from "./pages/cold-storage.js";
import { DeviceDefaults } from "./pages/device-defaults.js";
import { DeviceDetails } from "./pages/device-details.js";
import { DeviceSettingsPage } from "./pages/device-settings.js";
import { DevicesList } from "./pages/devices-list.js";
import { LegalHoldDetails } from "./pages/legal-hold-details.js";
import { LegalHolds } from "./pages/legal-holds.js";
import { OrgDetails } from "./pages/org-details.js";
import { OrgInfo } from "./pages/org-info.js";
import { OrgsList } from "./pages/orgs-list.js";
import { RestorePage } from "./pages/restore.js";
import { RestoreHistory } from "./pages/restore-history.js";
import { SettingsOrganization } from "./pages/settings-org.js";
import { DestinationsPage, ServersPage, StorePointsPage } from "./pages/storage.js";
import { UserDetails } from "./pages/user-details.js";
import { UsersList } from "./pages/users-list.js";
import { ErrorState } from "./ui/status.js";
import { access, offered } from "./api/session.js";

type Page = (params: string[]) => VNode;
const n = (s: string | undefined) => Number(s);

const ROUTES: [RegExp, Page][] = [
  // the first page: the organizations, or for a user without a role over any, their restores
  [/^\/$/, () => (offered(access.value, "orgs") ? <OrgsList /> : <RestorePage />)],
  [/^\/orgs$/, () => <OrgsList />],
  [/^\/orgs\/(\d+)$/, ([id]) => <OrgDetails key={id} orgId={n(id)} />],
  [/^\/orgs\/(\d+)\/info$/, ([id]) => <OrgInfo key={id} orgId={n(id)} />],
  [/^\/orgs\/(\d+)\/device-defaults$/, ([id]) => <DeviceDefaults key={id} orgId={n(id)} />],
  [/^\/orgs\/(\d+)\/cold-storage$/, ([id]) => <ColdStorage key={id} orgId={n(id)} />],
  [/^\/orgs\/(\d+)\/restores$/, ([id]) => <RestoreHistory key={id} orgId={n(id)} />],
  [/^\/users$/, () => <UsersList />],
  [/^\/users\/(\d+)$/, ([id]) => <UserDetails key={id} userId={n(id)} />],
  [/^\/devices$/, () => <DevicesList />],
  [/^\/devices\/(\d+)$/, ([id]) => <DeviceDetails key={id} computerId={n(id)} />],
  [/^\/devices\/(\d+)\/settings$/, ([id]) => <DeviceSettingsPage key={id} computerId={n(id)} />],
  [/^\/restore$/, () => <RestorePage />],
  [/^\/restore-history$/, () => <RestoreHistory />],
  [/^\/cold-storage$/, () => <ColdStorage />],
  [/^\/legal-holds$/, () => <LegalHolds />],
  [/^\/legal-holds\/(\d+)$/, ([uid]) => <LegalHoldDetails key={uid} uid={uid ?? ""} />],
  [/^\/storage$/, () => <DestinationsPage />],
  [/^\/storage\/destinations$/, () => <DestinationsPage />],
  [/^\/storage\/servers$/, () => <ServersPage />],
  [/^\/storage\/store-points$/, () => <StorePointsPage />],
  [/^\/settings(\/organization)?$/, () => <SettingsOrganization />],
  [/^\/audit-log$/, () => <AuditLog />],
];

/** The page for `path`, or a not-found state. */
export function routePage(path: string): VNode {
  for (const [re, page] of ROUTES) {
    const m = re.exec(path);
    if (m) return page(m.slice(1));
  }
  return <ErrorState message={`There is no page at ${path}.`} />;
}
