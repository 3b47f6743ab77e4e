/**
 * Edit organization info (seed 001 "Edit organization info"): Quotas, Reporting and Security tabs,
 * each with its inherit switch, the inherited values shown with the organization they come from,
 * and locks (a lock set by an ancestor disables the setting; the org's own locks hold its values
 * for its children); and the Destinations tab (seed 000, "Inherit destination settings from
 * parent").
 */
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { ancestorsWithSettings, getOrgSettings, getPackets, getReportRecipients } from "../api/orgs.js";
import type { OrgWithSettings } from "../api/types.js";
import { href, param, setQuery } from "../router.js";
import { useAsync } from "../ui/async.js";
import { LimitField, NumberField, Switch, TextField } from "../ui/forms.js";
import { ErrorState, Loading } from "../ui/status.js";
import { TabPanel, Tabs } from "../ui/tabs.js";
import { useGroupDraft } from "./group-draft.js";
import { OrgDestinationsTab } from "./org-destinations.js";
import { SecurityTab } from "./org-security.js";
import { InheritBox, LockedRow, type Locks, NameField, providerOf, ReadOnlyNote, readOnlyGroup, SaveBar } from "./settings-common.js";

const TABS = [
  { id: "quotas", label: "Quotas" },
  { id: "reporting", label: "Reporting" },
  { id: "security", label: "Security" },
  { id: "destinations", label: "Destinations" },
];

/** Fields of each group the tabs edit (the others round-trip untouched). */
export const GROUP_FIELDS = {
  quota: ["maxSeats", "archiveHoldDays", "webRestoreUserLimitMb", "webRestoreAdminLimitMb", "maxBytes", "defaultUserMaxBytes"],
  reporting: ["sendReports", "reportSchedule", "recipients", "warnInDays", "alertInDays"],
  security: ["securityKeyType", "securityKeyLocked", "twoFactorRequired", "clientVisibility"],
} as const;

/** Loaded data of the screen. */
export interface OrgInfoData {
  org: OrgWithSettings;
  ancestors: OrgWithSettings[];
}

/** The screen. */
export function OrgInfo({ orgId }: { orgId: number }) {
  const tab = TABS.some((t) => t.id === param("tab")) ? param("tab") : "quotas";
  const data = useAsync(
    async (s): Promise<OrgInfoData> => {
      const org = await getOrgSettings(orgId, s);
      return { org, ancestors: await ancestorsWithSettings(org, s) };
    },
    [orgId],
  );
  const packets = useAsync((s) => getPackets(orgId, s), [orgId]);
  if (data.status === "error") return <ErrorState message={data.error} onRetry={data.reload} />;
  if (!data.data) return <Loading />;
  const { org } = data.data;
  const reload = async () => {
    await Promise.all([data.reload(), packets.reload()]);
  };
  const stamp = `${org.modificationDate ?? ""}${JSON.stringify(org.settings)}${JSON.stringify(org.settingsMeta ?? null)}`;
  return (
    <article aria-labelledby="info-title">
      <p class="breadcrumbs">
        <a href="#/orgs">Organizations</a> › <a href={href(`/orgs/${org.orgId}`)}>{org.orgName}</a>
      </p>
      <h1 id="info-title">Edit organization info: {org.orgName}</h1>
      <Tabs tabs={TABS} current={tab} onSelect={(t) => setQuery({ tab: t }, true)} label="Organization settings" />
      <TabPanel id={tab}>
        {tab === "quotas" && <QuotasTab key={`q${stamp}`} data={data.data} onSaved={reload} />}
        {tab === "reporting" && <ReportingTab key={`r${stamp}`} data={data.data} onSaved={reload} />}
        {tab === "security" &&
          (packets.status === "error" ? (
            <ErrorState message={packets.error} onRetry={packets.reload} />
          ) : packets.data ? (
            <SecurityTab key={`s${stamp}${JSON.stringify(packets.data)}`} data={data.data} packets={packets.data} onSaved={reload} />
          ) : (
            <Loading />
          ))}
        {tab === "destinations" && <OrgDestinationsTab orgId={org.orgId} isTop={org.parentOrgId === null} />}
      </TabPanel>
    </article>
  );
}

function Row(p: {
  locks: Locks;
  group: string;
  field: string;
  label: string;
  inherit: boolean;
  readOnly: boolean;
  children: (disabled: boolean) => ComponentChildren;
}) {
  return (
    <LockedRow locks={p.locks} k={`${p.group}.${p.field}`} label={p.label} inheriting={p.inherit} readOnly={p.readOnly}>
      {p.children}
    </LockedRow>
  );
}

function QuotasTab({ data, onSaved }: { data: OrgInfoData; onSaved: () => Promise<void> }) {
  const { org, ancestors } = data;
  const g = useGroupDraft(org, "quota", GROUP_FIELDS.quota);
  const num = (f: string) => Number(g.shown(f) ?? 0);
  const from = providerOf(org, ancestors, "quota");
  const readOnly = readOnlyGroup(org, "quota");
  const row = (field: string, label: string, control: (disabled: boolean) => ComponentChildren) => (
    <Row locks={g.locks} group="quota" field={field} label={label} inherit={g.inherit} readOnly={readOnly}>
      {control}
    </Row>
  );
  return (
    <form onSubmit={(e) => e.preventDefault()} aria-label="Quotas" data-testid="quotas-form">
      <NameField value={g.name} onInput={g.setName} />
      <InheritBox label="Inherit quota settings from parent" inherit={g.inherit} onChange={g.toggle} from={from} testId="inherit-quota" disabled={readOnly} />
      {readOnly && <ReadOnlyNote group="quota" />}
      <fieldset class="group">
        <legend>Quotas{g.inherit && <span class="from">from {from}</span>}</legend>
        {row("maxSeats", "Maximum user subscriptions", (d) => (
          <LimitField
            label="Maximum user subscriptions"
            unit="users"
            value={num("maxSeats")}
            disabled={d}
            onInput={(v) => g.set("maxSeats", v)}
            fallback={10}
            hint="Users with a backup archive count toward this. No child organization can have a higher quota than its parent."
          />
        ))}
        {row("archiveHoldDays", "Cold storage period", (d) => (
          <NumberField
            label="Move deactivated archives to cold storage for"
            unit="days"
            min={1}
            value={num("archiveHoldDays")}
            disabled={d}
            onInput={(v) => g.set("archiveHoldDays", v)}
            hint="After this period the archives are deleted."
          />
        ))}
        {row("webRestoreUserLimitMb", "Web restore limit", (d) => (
          <LimitField
            label="Web restore limit"
            unit="MB"
            value={num("webRestoreUserLimitMb")}
            disabled={d}
            onInput={(v) => g.set("webRestoreUserLimitMb", v)}
            fallback={250}
            hint="Data users may restore in one zip file. 0 MB disables web restores for users. Does not apply to device restores."
          />
        ))}
        {row("webRestoreAdminLimitMb", "Web restore limit for Org Manager role", (d) => (
          <LimitField
            label="Web restore limit for Org Manager role"
            unit="MB"
            value={num("webRestoreAdminLimitMb")}
            disabled={d}
            onInput={(v) => g.set("webRestoreAdminLimitMb", v)}
            fallback={250}
            hint="Applies to administrators with the Org Manager, Cross Org Manager, Org Admin or Cross Org Admin role."
          />
        ))}
      </fieldset>
      <SaveBar
        dirty={g.dirty}
        testId="save-quotas"
        onRevert={g.revert}
        onSave={async () => {
          await g.save();
          await onSaved();
        }}
      />
    </form>
  );
}

const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const LETTERS = "SMTWTFS";

function ReportingTab({ data, onSaved }: { data: OrgInfoData; onSaved: () => Promise<void> }) {
  const { org, ancestors } = data;
  const g = useGroupDraft(org, "reporting", GROUP_FIELDS.reporting);
  const [more, setMore] = useState("");
  const from = providerOf(org, ancestors, "reporting");
  const readOnly = readOnlyGroup(org, "reporting");
  const schedule = String(g.shown("reportSchedule") ?? "_______").padEnd(7, "_");
  const recipients = (g.shown("recipients") as string[] | undefined) ?? [];
  // who always receives it, whatever the list below says (the server adds them to every send)
  const always = useAsync((s) => getReportRecipients(org.orgId, s), [org.orgId]);
  const fixed = always.data ? [...(always.data.firstAdministrator ? [always.data.firstAdministrator] : []), ...always.data.orgAdmins] : [];
  const fixedKeys = new Set(fixed.map((r) => r.toLowerCase()));
  const addRecipients = () => {
    const add = more
      .split(/[\s,;]+/)
      .map((s) => s.trim())
      .filter((s) => s && !recipients.includes(s));
    if (add.length) g.set("recipients", [...recipients, ...add]);
    setMore("");
  };
  const row = (field: string, label: string, control: (disabled: boolean) => ComponentChildren) => (
    <Row locks={g.locks} group="reporting" field={field} label={label} inherit={g.inherit} readOnly={readOnly}>
      {control}
    </Row>
  );
  return (
    <form onSubmit={(e) => e.preventDefault()} aria-label="Reporting" data-testid="reporting-form">
      <NameField value={g.name} onInput={g.setName} />
      <InheritBox
        label="Inherit reporting settings from parent"
        inherit={g.inherit}
        onChange={g.toggle}
        from={from}
        testId="inherit-reporting"
        disabled={readOnly}
      />
      {readOnly && <ReadOnlyNote group="reporting" />}
      <fieldset class="group">
        <legend>Reporting{g.inherit && <span class="from">from {from}</span>}</legend>
        {row("sendReports", "Send backup report", (d) => (
          <>
            <Switch label="Send backup report" checked={g.shown("sendReports") === true} disabled={d} onChange={(v) => g.set("sendReports", v)} />
            <fieldset class="field" disabled={d}>
              <legend>On these days</legend>
              {DAYS.map((day, i) => (
                <label key={day} class="inline" style={{ marginRight: "0.8rem" }}>
                  <input
                    type="checkbox"
                    checked={schedule[i] !== "_"}
                    onChange={(e) => {
                      const chars = schedule.split("");
                      chars[i] = e.currentTarget.checked ? (LETTERS[i] as string) : "_";
                      g.set("reportSchedule", chars.join(""));
                    }}
                  />
                  {day.slice(0, 3)}
                </label>
              ))}
            </fieldset>
          </>
        ))}
        {row("recipients", "Recipients", (d) => (
          <fieldset class="field" disabled={d}>
            <legend>Recipients</legend>
            <p class="hint">
              The first administrator and this organization's administrators always receive the report. Add other addresses below; remove one to stop its
              emails.
            </p>
            <ul class="recipients" data-testid="recipients">
              {fixed.map((r) => (
                <li
                  key={`always-${r}`}
                  class="chip"
                  data-testid="recipient-always"
                  title="Always a recipient: the first administrator or an administrator of this organization"
                >
                  {r}
                </li>
              ))}
              {always.status === "error" && <li class="muted">Could not load who always receives the report: {always.error}</li>}
              {fixed.length === 0 && recipients.length === 0 && always.status === "ready" && <li class="muted">No recipient has an email address yet.</li>}
              {recipients
                .filter((r) => !fixedKeys.has(r.toLowerCase()))
                .map((r) => (
                  <li key={r} class="chip">
                    {r}
                    <button
                      type="button"
                      aria-label={`Remove recipient ${r}`}
                      onClick={() =>
                        g.set(
                          "recipients",
                          recipients.filter((x) => x !== r),
                        )
                      }
                    >
                      ✕
                    </button>
                  </li>
                ))}
            </ul>
            <div class="with-unit">
              <TextField label="Additional recipients" type="email" value={more} onInput={setMore} disabled={d} hint="Email addresses, separated by commas." />
              <button type="button" class="btn" onClick={addRecipients}>
                Add
              </button>
            </div>
          </fieldset>
        ))}
        {row("warnInDays", "Warning", (d) => (
          <NumberField
            label="Warning"
            unit="days without backup"
            min={1}
            value={Number(g.shown("warnInDays") ?? 0)}
            disabled={d}
            onInput={(v) => g.set("warnInDays", v)}
            hint="Devices that have not backed up to any destination for longer are in warning alert emails."
          />
        ))}
        {row("alertInDays", "Critical", (d) => (
          <NumberField
            label="Critical"
            unit="days without backup"
            min={Number(g.shown("warnInDays") ?? 0) + 1}
            value={Number(g.shown("alertInDays") ?? 0)}
            disabled={d}
            onInput={(v) => g.set("alertInDays", v)}
            hint="Devices that have not backed up to any destination for longer are in critical alert emails. More days than Warning."
          />
        ))}
      </fieldset>
      <SaveBar
        dirty={g.dirty}
        testId="save-reporting"
        onRevert={g.revert}
        onSave={async () => {
          await g.save();
          await onSaved();
        }}
      />
    </form>
  );
}
