/**
 * Device backup defaults → Backup: what to include and exclude (per backup set: paths, file
 * name exclusions, destinations), how often to back up, when, and how long to keep versions.
 */
import type { DestinationRef } from "../api/types.js";
import { minutesLabel } from "../device-keys.js";
import { backupSets, setDestinations, setInfo, setPaths, setPatterns, writeSetDestinations, writeSetPaths, writeSetPatterns } from "../settings-tree.js";
import { NumberField, Select, Switch, TextArea } from "../ui/forms.js";
import type { TreeAccess } from "./device-defaults.js";

const FREQUENCIES = [1, 5, 15, 30, 60, 120, 240, 480, 1440];
const BANDS = {
  lastWeekIntervalMinutes: [0, 15, 30, 60, 240, 1440],
  lastNinetyDaysIntervalMinutes: [60, 240, 1440, 10080],
  lastYearIntervalMinutes: [1440, 10080, 43200],
  previousYearsIntervalMinutes: [10080, 43200, 129600, -1],
} as const;
const DAYS = "SMTWTFS";
const DAY_NAMES = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

const lines = (s: string) =>
  s
    .split("\n")
    .map((x) => x.trim())
    .filter(Boolean);
const hhmm = (m: number) => `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
const toMin = (s: string) => {
  const [h, m] = s.split(":").map((x) => Number.parseInt(x, 10));
  return (h ?? 0) * 60 + (m ?? 0);
};

/** The Backup tab. */
export function BackupTab({ at, offered }: { at: TreeAccess; offered: DestinationRef[] }) {
  const sets = backupSets(at.tree);
  const editSet = (i: number, fn: (set: Record<string, unknown>) => void) =>
    at.edit((t) => {
      const s = backupSets(t)[i];
      if (s) fn(s);
    });
  const days = at.str("runDays").padEnd(7, "_");
  return (
    <>
      <h2>File selection</h2>
      {sets.length === 0 && <p class="muted">No backup set is defined.</p>}
      {sets.map((set, i) => {
        const info = setInfo(set);
        if (info.legalHold)
          return (
            <p key={info.id} class="hint">
              {info.name}: a legal-hold set, managed by its legal hold and not editable here.
            </p>
          );
        const paths = setPaths(set);
        const dests = setDestinations(set);
        return (
          <fieldset key={info.id} class="group" data-testid={`backup-set-${info.id}`}>
            <legend>{info.name}</legend>
            <TextArea
              label="Include (one path per line)"
              value={paths.include.join("\n")}
              rows={3}
              onInput={(v) => editSet(i, (s) => writeSetPaths(s, lines(v), setPaths(s).exclude))}
            />
            <TextArea
              label="Exclude (one path per line)"
              value={paths.exclude.join("\n")}
              rows={2}
              onInput={(v) => editSet(i, (s) => writeSetPaths(s, setPaths(s).include, lines(v)))}
            />
            <TextArea
              label="File exclusions (one regular expression per line)"
              value={setPatterns(set).join("\n")}
              rows={2}
              onInput={(v) => editSet(i, (s) => writeSetPatterns(s, lines(v)))}
            />
            <fieldset class="field">
              <legend>Destinations</legend>
              {offered.length === 0 && <p class="hint">No destination is offered to this organization.</p>}
              {offered.map((d) => {
                const on = dests.some((x) => x.guid === d.guid);
                return (
                  <label key={d.guid} class="inline" style={{ marginRight: "1rem" }}>
                    <input
                      type="checkbox"
                      checked={on}
                      onChange={(e) =>
                        editSet(i, (s) => {
                          const cur = setDestinations(s).filter((x) => x.guid !== d.guid);
                          writeSetDestinations(s, e.currentTarget.checked ? [...cur, { guid: d.guid, locked: false }] : cur);
                        })
                      }
                    />
                    {d.destinationName}
                  </label>
                );
              })}
            </fieldset>
            <Switch
              label="Lock this selection: users cannot change it on their devices"
              checked={info.locked}
              onChange={(v) =>
                editSet(i, (s) => {
                  if (v) s["@locked"] = "true";
                  else delete s["@locked"];
                })
              }
            />
          </fieldset>
        );
      })}
      <h2>Frequency</h2>
      <Select
        label="Back up changed files every"
        value={String(at.int("backupIntervalMinutes"))}
        options={FREQUENCIES.map((m) => ({ value: String(m), label: minutesLabel(m) }))}
        onChange={(v) => at.set("backupIntervalMinutes", v)}
      />
      <NumberField
        label="Verify the whole selection every"
        unit="days"
        min={1}
        value={Math.max(1, Math.round(at.int("verifyIntervalMinutes") / 1440))}
        onInput={(v) => at.set("verifyIntervalMinutes", v * 1440)}
      />
      <Switch label="Watch files in real time between scans" checked={at.bool("watchFiles")} onChange={(v) => at.set("watchFiles", v)} />
      <Switch label="Back up at any time" checked={at.bool("runAlways")} onChange={(v) => at.set("runAlways", v)} />
      {!at.bool("runAlways") && (
        <fieldset class="field">
          <legend>Only back up between</legend>
          <label class="inline">
            from <input type="time" value={hhmm(at.int("runStartMinute"))} onInput={(e) => at.set("runStartMinute", toMin(e.currentTarget.value))} />
          </label>{" "}
          <label class="inline">
            to <input type="time" value={hhmm(at.int("runEndMinute"))} onInput={(e) => at.set("runEndMinute", toMin(e.currentTarget.value))} />
          </label>
          <div>
            {DAY_NAMES.map((d, i) => (
              <label key={d} class="inline" style={{ marginRight: "0.7rem" }}>
                <input
                  type="checkbox"
                  checked={days[i] !== "_"}
                  onChange={(e) => {
                    const c = days.split("");
                    c[i] = e.currentTarget.checked ? (DAYS[i] as string) : "_";
                    at.set("runDays", c.join(""));
                  }}
                />
                {d}
              </label>
            ))}
          </div>
        </fieldset>
      )}
      <h2>Versions</h2>
      <p class="hint">How many versions of each file to keep as they age. The newest version of a file is always kept.</p>
      {(
        [
          ["lastWeekIntervalMinutes", "Last week: keep one version every"],
          ["lastNinetyDaysIntervalMinutes", "Last 90 days: one version every"],
          ["lastYearIntervalMinutes", "Last year: one version every"],
          ["previousYearsIntervalMinutes", "Previous years: one version every"],
        ] as const
      ).map(([k, label]) => (
        <Select
          key={k}
          label={label}
          value={String(at.int(k))}
          options={[...new Set<number>([...BANDS[k], at.int(k)])].map((m) => ({ value: String(m), label: m < 0 ? "keep none" : minutesLabel(m) }))}
          onChange={(v) => at.set(k, v)}
        />
      ))}
      <Select
        label="Remove deleted files"
        value={String(at.int("deletedRetentionDays"))}
        options={[...new Set([-1, 30, 90, 365, at.int("deletedRetentionDays")])].map((d) => ({ value: String(d), label: d < 0 ? "Never" : `After ${d} days` }))}
        onChange={(v) => at.set("deletedRetentionDays", v)}
      />
    </>
  );
}
