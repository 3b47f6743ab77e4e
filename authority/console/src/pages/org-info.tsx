/**
 * Edit organization info (seed 001 "Edit organization info"): Quotas, Reporting and Security tabs,
 * each with its inherit switch; the inherited values are shown with the organization they come
 * from; and the Destinations tab (seed 000, "Inherit destination settings from parent").
 */
import { useEffect, useState } from "preact/hooks";
import { ancestorsWithSettings, getOrgSettings, getPackets, putOrg } from "../api/orgs.js";
import type { OrgSettingsValues, OrgWithSettings } from "../api/types.js";
import { href, param, setQuery } from "../router.js";
import { useAsync } from "../ui/async.js";
import { LimitField, NumberField, Switch, TextField } from "../ui/forms.js";
import { ErrorState, Loading } from "../ui/status.js";
import { TabPanel, Tabs } from "../ui/tabs.js";
import { OrgDestinationsTab } from "./org-destinations.js";
import { SecurityTab } from "./org-security.js";
import { InheritBox, providerOf, SaveBar } from "./settings-common.js";
import { orgNameProblem } from "./org-create.js";

const TABS = [
  { id: "quotas", label: "Quotas" },
  { id: "reporting", label: "Reporting" },
  { id: "security", label: "Security" },
  { id: "destinations", label: "Destinations" },
];

const QUOTA_FIELDS = ["maxSeats", "archiveHoldDays", "webRestoreUserLimitMb", "webRestoreAdminLimitMb", "maxBytes", "defaultUserMaxBytes"] as const;
const REPORT_FIELDS = ["sendReports", "reportSchedule", "recipients", "warnInDays", "alertInDays"] as const;

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
  const { org, ancestors } = data.data;
  const reload = () => {
    data.reload();
    packets.reload();
  };
  return (
    <article aria-labelledby="info-title">
      <p class="breadcrumbs">
        <a href="#/orgs">Organizations</a> › <a href={href(`/orgs/${org.orgId}`)}>{org.orgName}</a>
      </p>
      <h1 id="info-title">Edit organization info: {org.orgName}</h1>
      <Tabs tabs={TABS} current={tab} onSelect={(t) => setQuery({ tab: t }, true)} label="Organization settings" />
      <TabPanel id={tab}>
        {tab === "quotas" && <QuotasTab key={`q${org.modificationDate}`} data={data.data} onSaved={reload} />}
        {tab === "reporting" && <ReportingTab key={`r${org.modificationDate}`} data={data.data} onSaved={reload} />}
        {tab === "security" &&
          (packets.status === "error" ? (
            <ErrorState message={packets.error} onRetry={packets.reload} />
          ) : packets.data ? (
            <SecurityTab org={org} ancestors={ancestors} packets={packets.data} onSaved={reload} />
          ) : (
            <Loading />
          ))}
        {tab === "destinations" && <OrgDestinationsTab orgId={org.orgId} />}
      </TabPanel>
    </article>
  );
}

/** The Name field every tab starts with (seed item a). */
function NameField({ value, onInput }: { value: string; onInput: (v: string) => void }) {
  return <TextField label="Name" value={value} onInput={onInput} required minLength={3} maxLength={220} />;
}

type Draft = Partial<OrgSettingsValues>;

/** Shared logic of the Quotas and Reporting tabs: a draft of one group and the PUT. */
function useGroupDraft(org: OrgWithSettings, fields: readonly string[], flag: "isUsingQuotaDefaults" | "isUsingReportingDefaults") {
  const own = (): Draft => Object.fromEntries([...fields.map((f) => [f, org.settings[f]]), [flag, org.settings[flag]]]) as Draft;
  const [draft, setDraft] = useState<Draft>(own);
  const [name, setName] = useState(org.orgName);
  useEffect(() => {
    setDraft(own());
    setName(org.orgName);
  }, [org]);
  const inherit = draft[flag] === true;
  /** The values shown: the parent's effective ones while inheriting. */
  const shown = (f: string): unknown => (inherit ? (org.settingsInherited?.[f] ?? org.settings[f]) : draft[f]);
  const dirty = JSON.stringify(draft) !== JSON.stringify(own()) || name !== org.orgName;
  const save = async () => {
    const problem = orgNameProblem(name);
    if (problem) throw new Error(problem);
    // Inheriting again: the flag with the values the server reports now (API.md §5.5, rule 2).
    const values = inherit ? Object.fromEntries(fields.map((f) => [f, org.settings[f]])) : Object.fromEntries(fields.map((f) => [f, draft[f]]));
    await putOrg({ ...org, orgName: name.trim(), settings: { ...org.settings, ...values, [flag]: inherit } });
  };
  const set = (f: string, v: unknown) => setDraft({ ...draft, [f]: v });
  const toggle = (v: boolean) => {
    // Turning inheritance off starts from the inherited values.
    if (!v && inherit) setDraft({ ...Object.fromEntries(fields.map((f) => [f, org.settingsInherited?.[f] ?? org.settings[f]])), [flag]: false });
    else setDraft({ ...draft, [flag]: v });
  };
  return {
    draft,
    name,
    setName,
    inherit,
    shown,
    dirty,
    save,
    set,
    toggle,
    revert: () => {
      setDraft(own());
      setName(org.orgName);
    },
  };
}

function QuotasTab({ data, onSaved }: { data: OrgInfoData; onSaved: () => void }) {
  const { org, ancestors } = data;
  const g = useGroupDraft(org, QUOTA_FIELDS, "isUsingQuotaDefaults");
  const num = (f: string) => Number(g.shown(f) ?? 0);
  const from = providerOf(ancestors, "isUsingQuotaDefaults");
  return (
    <form onSubmit={(e) => e.preventDefault()} aria-label="Quotas" data-testid="quotas-form">
      <NameField value={g.name} onInput={g.setName} />
      <InheritBox label="Inherit quota settings from parent" inherit={g.inherit} onChange={g.toggle} from={from} testId="inherit-quota" />
      <fieldset class="group" disabled={g.inherit}>
        <legend>Quotas{g.inherit && <span class="from">from {from}</span>}</legend>
        <LimitField
          label="Maximum user subscriptions"
          unit="users"
          value={num("maxSeats")}
          onInput={(v) => g.set("maxSeats", v)}
          fallback={10}
          hint="Users with a backup archive count toward this. No child organization can have a higher quota than its parent."
        />
        <NumberField
          label="Move deactivated archives to cold storage for"
          unit="days"
          min={1}
          value={num("archiveHoldDays")}
          onInput={(v) => g.set("archiveHoldDays", v)}
          hint="After this period the archives are deleted."
        />
        <LimitField
          label="Web restore limit"
          unit="MB"
          value={num("webRestoreUserLimitMb")}
          onInput={(v) => g.set("webRestoreUserLimitMb", v)}
          fallback={250}
          hint="Data users may restore in one zip file. 0 MB disables web restores for users. Does not apply to device restores."
        />
        <LimitField
          label="Web restore limit for Org Manager role"
          unit="MB"
          value={num("webRestoreAdminLimitMb")}
          onInput={(v) => g.set("webRestoreAdminLimitMb", v)}
          fallback={250}
          hint="Applies to administrators with the Org Manager, Cross Org Manager, Org Admin or Cross Org Admin role."
        />
      </fieldset>
      <SaveBar
        dirty={g.dirty}
        testId="save-quotas"
        onRevert={g.revert}
        onSave={async () => {
          await g.save();
          onSaved();
        }}
      />
    </form>
  );
}

const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const LETTERS = "SMTWTFS";

function ReportingTab({ data, onSaved }: { data: OrgInfoData; onSaved: () => void }) {
  const { org, ancestors } = data;
  const g = useGroupDraft(org, REPORT_FIELDS, "isUsingReportingDefaults");
  const [more, setMore] = useState("");
  const from = providerOf(ancestors, "isUsingReportingDefaults");
  const schedule = String(g.shown("reportSchedule") ?? "_______").padEnd(7, "_");
  const recipients = (g.shown("recipients") as string[] | undefined) ?? [];
  const addRecipients = () => {
    const add = more
      .split(/[\s,;]+/)
      .map((s) => s.trim())
      .filter((s) => s && !recipients.includes(s));
    if (add.length) g.set("recipients", [...recipients, ...add]);
    setMore("");
  };
  return (
    <form onSubmit={(e) => e.preventDefault()} aria-label="Reporting" data-testid="reporting-form">
      <NameField value={g.name} onInput={g.setName} />
      <InheritBox label="Inherit reporting settings from parent" inherit={g.inherit} onChange={g.toggle} from={from} testId="inherit-reporting" />
      <fieldset class="group" disabled={g.inherit}>
        <legend>Reporting{g.inherit && <span class="from">from {from}</span>}</legend>
        <Switch label="Send backup report" checked={g.shown("sendReports") === true} onChange={(v) => g.set("sendReports", v)} />
        <fieldset class="field">
          <legend>Days of the week</legend>
          {DAYS.map((d, i) => (
            <label key={d} class="inline" style={{ marginRight: "0.8rem" }}>
              <input
                type="checkbox"
                checked={schedule[i] !== "_"}
                onChange={(e) => {
                  const chars = schedule.split("");
                  chars[i] = e.currentTarget.checked ? (LETTERS[i] as string) : "_";
                  g.set("reportSchedule", chars.join(""));
                }}
              />
              {d.slice(0, 3)}
            </label>
          ))}
        </fieldset>
        <div class="field">
          <span id="recipients-label" class="label">
            <strong>Recipients</strong>
          </span>
          <ul aria-labelledby="recipients-label" class="recipients" data-testid="recipients">
            {recipients.length === 0 && <li class="muted">No recipients.</li>}
            {recipients.map((r) => (
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
        </div>
        <div class="with-unit">
          <TextField label="Additional recipients" type="email" value={more} onInput={setMore} hint="Email addresses, separated by commas." />
          <button type="button" class="btn" onClick={addRecipients}>
            Add
          </button>
        </div>
        <NumberField
          label="Warning"
          unit="days without backup"
          min={1}
          value={Number(g.shown("warnInDays") ?? 0)}
          onInput={(v) => g.set("warnInDays", v)}
          hint="Devices that have not backed up to any destination for longer are in warning alert emails."
        />
        <NumberField
          label="Critical"
          unit="days without backup"
          min={1}
          value={Number(g.shown("alertInDays") ?? 0)}
          onInput={(v) => g.set("alertInDays", v)}
          hint="Devices that have not backed up to any destination for longer are in critical alert emails."
        />
      </fieldset>
      <SaveBar
        dirty={g.dirty}
        testId="save-reporting"
        onRevert={g.revert}
        onSave={async () => {
          await g.save();
          onSaved();
        }}
      />
    </form>
  );
}
