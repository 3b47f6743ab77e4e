/**
 * Device backup defaults → Backup: what to include and exclude (per backup set: paths, file name
 * exclusions, destinations, lock for users), how often and when to back up, and how long to keep
 * versions (the retention bands of the protocol's RetentionPolicy).
 */
import type { DestinationRef } from "../api/types.js";
import { DEFAULT_BANDS, DEVICE_OBJECTS, msLabel } from "../device-keys.js";
import {
  backupSets,
  readObject,
  setDestinations,
  setInfo,
  setPaths,
  setPatterns,
  writeObject,
  writeSetDestinations,
  writeSetPaths,
  writeSetPatterns,
} from "../settings-tree.js";
import { NumberField, Select, Switch, TextArea } from "../ui/forms.js";
import type { TreeAccess } from "./device-defaults.js";

const MIN = 60_000;
const DAY = 86_400_000;
const FREQUENCIES = [1, 5, 15, 30, 60, 120, 240, 480, 1440].map((m) => m * MIN);
const SPACINGS = [0, 15 * MIN, 30 * MIN, 60 * MIN, 4 * 60 * MIN, DAY, 7 * DAY, 30 * DAY, 90 * DAY];
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
const num = (v: unknown, d: number) => {
  const n = Number(v);
  return Number.isFinite(n) ? n : d;
};

interface Band {
  untilAgeMs: number;
  spacingMs: number;
}

function readRetention(at: TreeAccess): { bands: Band[]; deletedRetentionMs: number } {
  const r = readObject(at.tree, DEVICE_OBJECTS.retention.path).value;
  const raw = r?.bands;
  const list = Array.isArray(raw) ? raw : raw ? [raw] : [];
  const bands = list.map((b) => ({ untilAgeMs: num((b as Band).untilAgeMs, -1), spacingMs: num((b as Band).spacingMs, 0) }));
  return { bands: bands.length ? bands : DEFAULT_BANDS, deletedRetentionMs: num(r?.deletedRetentionMs, -1) };
}

function writeRetention(at: TreeAccess, r: { bands: Band[]; deletedRetentionMs: number }) {
  at.edit((t) =>
    writeObject(t, DEVICE_OBJECTS.retention.path, {
      bands: r.bands.map((b) => ({ untilAgeMs: String(b.untilAgeMs), spacingMs: String(b.spacingMs) })),
      deletedRetentionMs: String(r.deletedRetentionMs),
    }),
  );
}

/** The Backup tab. */
export function BackupTab({ at, offered }: { at: TreeAccess; offered: DestinationRef[] }) {
  const sets = backupSets(at.tree);
  const editSet = (i: number, fn: (set: Record<string, unknown>) => void) =>
    at.edit((t) => {
      const s = backupSets(t)[i];
      if (s) fn(s);
    });
  const win = readObject(at.tree, DEVICE_OBJECTS.runWindow.path).value;
  const days = String(win?.days ?? DAYS).padEnd(7, "_");
  const setWin = (w: { startMinute: number; endMinute: number; days: string } | null) =>
    at.edit((t) => writeObject(t, DEVICE_OBJECTS.runWindow.path, w && { startMinute: String(w.startMinute), endMinute: String(w.endMinute), days: w.days }));
  const cur = { startMinute: num(win?.startMinute, 0), endMinute: num(win?.endMinute, 0), days };
  const ret = readRetention(at);
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
          <fieldset key={info.id} class="group" data-testid={`backup-set-${info.id}`} disabled={at.inherit}>
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
              {offered.map((d) => (
                <label key={d.guid} class="inline" style={{ marginRight: "1rem" }}>
                  <input
                    type="checkbox"
                    checked={dests.some((x) => x.guid === d.guid)}
                    onChange={(e) =>
                      editSet(i, (s) => {
                        const rest = setDestinations(s).filter((x) => x.guid !== d.guid);
                        writeSetDestinations(s, e.currentTarget.checked ? [...rest, { guid: d.guid, locked: false }] : rest);
                      })
                    }
                  />
                  {d.destinationName}
                </label>
              ))}
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
      {at.row("device.frequencyMs", "Backup frequency", (d) => (
        <Select
          label="Back up changed files every"
          value={String(at.int("frequencyMs"))}
          disabled={d}
          options={[...new Set([...FREQUENCIES, at.int("frequencyMs")])].sort((a, b) => a - b).map((ms) => ({ value: String(ms), label: msLabel(ms) }))}
          onChange={(v) => at.set("frequencyMs", v)}
        />
      ))}
      {at.row("device.verifyScanIntervalMs", "Verification", (d) => (
        <NumberField
          label="Verify the whole selection every"
          unit="days"
          min={1}
          disabled={d}
          value={Math.max(1, Math.round(at.int("verifyScanIntervalMs") / DAY))}
          onInput={(v) => at.set("verifyScanIntervalMs", v * DAY)}
        />
      ))}
      {at.row("device.watch", "Real-time watching", (d) => (
        <Switch label="Watch files in real time between scans" checked={at.bool("watch")} disabled={d} onChange={(v) => at.set("watch", v)} />
      ))}
      {at.row(DEVICE_OBJECTS.runWindow.lock, "Backup window", (d) => (
        <>
          <Switch
            label="Back up at any time"
            checked={win === null}
            disabled={d}
            onChange={(v) => setWin(v ? null : { startMinute: 18 * 60, endMinute: 6 * 60, days: DAYS })}
          />
          {win !== null && (
            <fieldset class="field" disabled={d}>
              <legend>Only back up between</legend>
              <label class="inline">
                from <input type="time" value={hhmm(cur.startMinute)} onInput={(e) => setWin({ ...cur, startMinute: toMin(e.currentTarget.value) })} />
              </label>{" "}
              <label class="inline">
                to <input type="time" value={hhmm(cur.endMinute)} onInput={(e) => setWin({ ...cur, endMinute: toMin(e.currentTarget.value) })} />
              </label>
              <div>
                {DAY_NAMES.map((name, i) => (
                  <label key={name} class="inline" style={{ marginRight: "0.7rem" }}>
                    <input
                      type="checkbox"
                      checked={days[i] !== "_"}
                      onChange={(e) => {
                        const c = days.split("");
                        c[i] = e.currentTarget.checked ? (DAYS[i] as string) : "_";
                        setWin({ ...cur, days: c.join("") });
                      }}
                    />
                    {name}
                  </label>
                ))}
              </div>
            </fieldset>
          )}
        </>
      ))}
      <h2>Versions</h2>
      {at.row(DEVICE_OBJECTS.retention.lock, "Versions", (d) => (
        <fieldset class="field" disabled={d} data-testid="retention">
          <legend>How many versions of each file to keep as they age (the newest version of a file is always kept)</legend>
          {ret.bands.map((b, i) => {
            const prev = i === 0 ? 0 : (ret.bands[i - 1]?.untilAgeMs ?? 0);
            const label =
              b.untilAgeMs < 0
                ? `Older than ${msLabel(prev)}: one version every`
                : `${i === 0 ? "Last" : `From ${msLabel(prev)} to`} ${msLabel(b.untilAgeMs)}: one version every`;
            return (
              <Select
                key={`${b.untilAgeMs}`}
                label={label}
                value={String(b.spacingMs)}
                options={[...new Set([...SPACINGS, b.spacingMs])]
                  .sort((x, y) => x - y)
                  .map((ms) => ({ value: String(ms), label: ms === 0 ? "every version" : msLabel(ms) }))}
                onChange={(v) => writeRetention(at, { ...ret, bands: ret.bands.map((x, j) => (j === i ? { ...x, spacingMs: Number(v) } : x)) })}
              />
            );
          })}
          <Select
            label="Remove deleted files"
            value={String(ret.deletedRetentionMs)}
            options={[...new Set([-1, 30 * DAY, 90 * DAY, 365 * DAY, ret.deletedRetentionMs])].map((ms) => ({
              value: String(ms),
              label: ms < 0 ? "Never" : `After ${msLabel(ms)}`,
            }))}
            onChange={(v) => writeRetention(at, { ...ret, deletedRetentionMs: Number(v) })}
          />
        </fieldset>
      ))}
    </>
  );
}

/** "up to 1 week: one every 15 minutes", … for the org details' Preservation section. */
export function retentionSummary(tree: Parameters<typeof readObject>[0]): string[] {
  const at = { tree } as TreeAccess;
  const { bands } = readRetention(at);
  let prev = 0;
  return bands.map((b) => {
    const span = b.untilAgeMs < 0 ? `older than ${msLabel(prev)}` : `up to ${msLabel(b.untilAgeMs)}`;
    prev = b.untilAgeMs;
    return `${span}: ${b.spacingMs === 0 ? "every version" : `one every ${msLabel(b.spacingMs)}`}`;
  });
}
