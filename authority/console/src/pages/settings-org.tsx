/**
 * Settings > Organization: the system-wide organization defaults. Its Destinations tab offers a
 * destination to every organization that inherits (seed 000), with auto-start.
 */
import { myOrg } from "../api/orgs.js";
import { href, param, setQuery } from "../router.js";
import { useAsync } from "../ui/async.js";
import { TabPanel, Tabs } from "../ui/tabs.js";
import { SystemDestinations } from "./org-destinations.js";

const TABS = [
  { id: "destinations", label: "Destinations" },
  { id: "general", label: "Other defaults" },
];

/** The screen. */
export function SettingsOrganization() {
  const tab = param("tab") === "general" ? "general" : "destinations";
  const top = useAsync((s) => myOrg(s), []);
  return (
    <article aria-labelledby="set-title">
      <h1 id="set-title">Settings › Organization</h1>
      <Tabs tabs={TABS} current={tab} onSelect={(t) => setQuery({ tab: t }, true)} label="Organization settings" />
      <TabPanel id={tab}>
        {tab === "destinations" ? (
          <SystemDestinations />
        ) : (
          <p>
            Quotas, reporting, security and device backup defaults are set on the top-level organization and inherited by every organization that does not
            override them:{" "}
            {top.data ? (
              <>
                <a href={href(`/orgs/${top.data.orgId}/info`)}>Edit organization info of {top.data.orgName}</a> ·{" "}
                <a href={href(`/orgs/${top.data.orgId}/device-defaults`)}>Device backup defaults</a>
              </>
            ) : (
              "…"
            )}
          </p>
        )}
      </TabPanel>
    </article>
  );
}
