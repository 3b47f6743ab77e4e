/** A settings tab's draft of one whole-group setting group, its locks, and the whole-object PUT (API.md §5.5). */
import { useEffect, useState } from "preact/hooks";
import { putOrg } from "../api/orgs.js";
import type { OrgSettingsValues, OrgWithSettings } from "../api/types.js";
import { orgNameProblem } from "./org-create.js";
import { GROUP_FLAGS, type Group, useLocks } from "./settings-common.js";

type Draft = Partial<OrgSettingsValues>;

/** A tab's draft of one group (and the org name), its locks, and the whole-object PUT (§5.5). */
export function useGroupDraft(org: OrgWithSettings, group: Group, fields: readonly string[]) {
  const flag = GROUP_FLAGS[group];
  const own = (): Draft => Object.fromEntries([...fields.map((f) => [f, org.settings[f]]), [flag, org.settings[flag] !== false]]) as Draft;
  const [draft, setDraft] = useState<Draft>(own);
  const [name, setName] = useState(org.orgName);
  const locks = useLocks(org);
  useEffect(() => {
    setDraft(own());
    setName(org.orgName);
  }, [org]);
  const inherit = draft[flag] === true;
  /** The value shown: the parent's effective one while inheriting. */
  const shown = (f: string): unknown => (inherit ? (org.settingsInherited?.[f] ?? org.settings[f]) : draft[f]);
  const dirty = JSON.stringify(draft) !== JSON.stringify(own()) || name !== org.orgName || Object.keys(locks.changes).length > 0;
  const save = async () => {
    const problem = orgNameProblem(name);
    if (problem) throw new Error(problem);
    // Inheriting again: the flag with the values the server reports now (API.md §5.5, rule 2).
    const values = Object.fromEntries(fields.map((f) => [f, inherit ? org.settings[f] : draft[f]]));
    const body: OrgWithSettings = { ...org, orgName: name.trim(), settings: { ...org.settings, ...values, [flag]: inherit } };
    if (Object.keys(locks.changes).length) body.settingsLocks = locks.changes;
    delete body.settingsMeta;
    await putOrg(body);
  };
  const set = (f: string, v: unknown) => setDraft({ ...draft, [f]: v });
  const toggle = (v: boolean) => {
    // Turning inheritance off starts from the inherited values.
    if (!v && inherit) setDraft({ ...Object.fromEntries(fields.map((f) => [f, org.settingsInherited?.[f] ?? org.settings[f]])), [flag]: false });
    else setDraft({ ...draft, [flag]: v });
  };
  const revert = () => {
    setDraft(own());
    setName(org.orgName);
    locks.reset();
  };
  return { draft, name, setName, inherit, shown, dirty, save, set, toggle, revert, locks };
}
