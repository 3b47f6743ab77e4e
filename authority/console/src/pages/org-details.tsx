/**
 * Organization details (seed 001 "View organization details" a–n): name with the parent's link,
 * status, child organizations / users / agents with links, the Actions menu, registration key,
 * date created, restores, cold storage (the bytes its archives there use, and how many),
 * authentication, preservation, reference.
 */
import { useState } from "preact/hooks";
import { listColdStorage, listRestoreHistory } from "../api/archives.js";
import { getOrg, getOrgSettings, rotateRegistrationKey, saveReference } from "../api/orgs.js";
import type { Org } from "../api/types.js";
import { DEVICE_KEYS, KEY_TYPES, msLabel } from "../device-keys.js";
import { bytes, count, counted, date } from "../format.js";
import { href } from "../router.js";
import { backupSets, readInt } from "../settings-tree.js";
import { useAsync } from "../ui/async.js";
import { Dialog } from "../ui/dialog.js";
import { Facts, TextArea, TextField } from "../ui/forms.js";
import { ErrorState, Loading, notify } from "../ui/status.js";
import { retentionSummary } from "./device-backup-tab.js";
import { OrgActions } from "./org-actions.js";
import { StatusBadge } from "./orgs-list.js";
import { access, offered } from "../api/session.js";

/** Restore history counts back this many days ("all restores"). */
export const ALL_DAYS = 36500;

/** The details screen of one org. */
export function OrgDetails({ orgId }: { orgId: number }) {
  const org = useAsync((s) => getOrg(orgId, s), [orgId]);
  const parent = useAsync(
    async (s): Promise<Org | null> => (org.data?.parentOrgId ? await getOrg(org.data.parentOrgId, s).catch(() => null) : null),
    [org.data?.parentOrgId],
  );
  const settings = useAsync((s) => getOrgSettings(orgId, s), [orgId, org.data?.modificationDate]);
  const restores = useAsync((s) => listRestoreHistory({ orgId, days: ALL_DAYS, pgNum: 1, pgSize: 1 }, s), [orgId]);
  const cold = useAsync((s) => listColdStorage({ orgId, pgNum: 1, pgSize: 1 }, s), [orgId]);
  const [editRef, setEditRef] = useState(false);
  const [rotating, setRotating] = useState(false);

  if (org.status === "error") return <ErrorState message={org.error} onRetry={org.reload} />;
  if (!org.data) return <Loading />;
  const o = org.data;
  const reload = () => {
    void org.reload();
    void settings.reload();
  };
  const s = settings.data;
  const tree = s?.deviceDefaults;
  const set1 = backupSets(tree)[0];
  const twoFactor = s?.settings.twoFactorRequired === true;
  const small = (r: { status: string; error: string | null; data: { totalCount: number } | undefined }, unit: string, link: string) =>
    r.status === "error" ? (
      <span class="muted" title={r.error ?? ""}>
        unavailable
      </span>
    ) : r.data ? (
      <a href={link}>{counted(r.data.totalCount, unit)}</a>
    ) : (
      "…"
    );
  return (
    <article aria-labelledby="org-title" data-testid="org-details">
      <p class="breadcrumbs">
        <a href="#/orgs">Organizations</a>
        {parent.data && (
          <>
            {" › "}
            <a href={href(`/orgs/${parent.data.orgId}`)}>{parent.data.orgName}</a>
          </>
        )}
      </p>
      <div class="head">
        <div>
          <h1 id="org-title">
            {o.orgName} <StatusBadge active={o.active} />
          </h1>
          {o.parentOrgId === null ? (
            <p class="muted">Top-level organization</p>
          ) : (
            <p>
              Child of{" "}
              {parent.data ? (
                <a href={href(`/orgs/${parent.data.orgId}`)} data-testid="parent-link">
                  {parent.data.orgName}
                </a>
              ) : (
                <span class="muted">its parent organization</span>
              )}
            </p>
          )}
        </div>
        <OrgActions org={o} recipients={s?.settings.recipients ?? []} onChanged={reload} />
      </div>
      <div class="cards">
        <section class="card" aria-labelledby="ov-h">
          <h2 id="ov-h">Overview</h2>
          <Facts
            items={[
              ["Status", o.active ? "Active" : "Deactivated"],
              [
                "Child organizations",
                <a key="c" href={href("/orgs", { parent: o.orgId })} data-testid="child-count">
                  {count(o.orgCount ?? 0)}
                </a>,
              ],
              [
                "Users",
                <a key="u" href={href("/users", { orgUid: o.orgUid, org: o.orgName })} data-testid="user-count">
                  {count(o.userCount ?? 0)}
                </a>,
              ],
              [
                "Agents",
                <span key="a">
                  <a href={href("/devices", { orgUid: o.orgUid, org: o.orgName })} data-testid="device-count">
                    {count(o.computerCount ?? 0)}
                  </a>{" "}
                  total · backup agents {count(o.backupComputerCount ?? 0)}
                </span>,
              ],
              [
                "Registration key",
                <span key="k">
                  <code data-testid="registration-key">{o.registrationKey}</code>{" "}
                  {!o.active ? (
                    <span class="muted">(no device registers in a deactivated organization)</span>
                  ) : offered(access.value, "orgUpdate") ? (
                    <button type="button" class="btn btn-small" onClick={() => setRotating(true)} aria-label={`Issue a new registration key for ${o.orgName}`}>
                      New key
                    </button>
                  ) : null}
                </span>,
              ],
              ["Date created", date(o.creationDate)],
              ["Restores", small(restores, "restore", href(`/orgs/${o.orgId}/restores`))],
              [
                "Cold storage",
                cold.status === "error" ? (
                  small(cold, "archive", href(`/orgs/${o.orgId}/cold-storage`))
                ) : cold.data ? (
                  <a key="cs" href={href(`/orgs/${o.orgId}/cold-storage`)} data-testid="cold-storage-used">
                    {bytes(cold.data.totalBytes)} in {counted(cold.data.totalCount, "archive")}
                  </a>
                ) : (
                  "…"
                ),
              ],
            ]}
          />
        </section>
        <section class="card" aria-labelledby="auth-h">
          <h2 id="auth-h">Authentication</h2>
          <Facts
            items={[
              ["Authentication provider", "Local: users authenticate against the authority's own directory"],
              [
                "Local two-factor authentication",
                settings.status === "error" ? <span class="muted">unavailable</span> : s ? twoFactor ? "Enabled" : "Disabled" : "…",
              ],
            ]}
          />
        </section>
        <section class="card" aria-labelledby="pres-h">
          <h2 id="pres-h">Preservation</h2>
          <Facts
            items={[
              ["Selected for backup", `${count(o.selectedFiles ?? 0)} files, ${bytes(o.selectedBytes ?? 0)}`],
              ["Archive size", bytes(o.archiveBytes ?? 0)],
              ["To do", `${count(o.todoFiles ?? 0)} files, ${bytes(o.todoBytes ?? 0)}`],
              ["Alerts", `${count(o.warningCount ?? 0)} warning, ${count(o.criticalCount ?? 0)} critical`],
              ["Backup frequency", tree ? `every ${msLabel(readInt(tree, DEVICE_KEYS.frequencyMs.path, 900_000))}` : "…"],
              [
                "Versions",
                tree ? (
                  <ul key="v">
                    {retentionSummary(tree).map((line) => (
                      <li key={line}>{line}</li>
                    ))}
                  </ul>
                ) : (
                  "…"
                ),
              ],
              ["Backup sets", tree ? count(backupSets(tree).length) : "…"],
              ["Destinations offered", s ? s.settings.destinations.map((d) => d.destinationName).join(", ") || "none" : "…"],
              ["Device defaults from", s?.orgInheritDto?.orgNameProvidingDeviceDefaults ?? (s ? o.orgName : "…")],
              [
                "Encryption key policy",
                s ? (KEY_TYPES.find((k) => k.value === s.settings.securityKeyType)?.label.split(":")[0] ?? s.settings.securityKeyType) : "…",
              ],
            ]}
          />
          {set1 === undefined && s && <p class="hint">No backup set is defined yet.</p>}
          <p>
            <a href={href(`/orgs/${o.orgId}/device-defaults`)}>Device backup defaults</a> · <a href={href(`/orgs/${o.orgId}/info`)}>Edit organization info</a>
          </p>
        </section>
        <section class="card" aria-labelledby="ref-h">
          <h2 id="ref-h">Reference</h2>
          <Facts
            items={[
              ["External reference", o.orgExtRef || <span class="muted">none</span>],
              ["Notes", o.notes || <span class="muted">none</span>],
            ]}
          />
          {offered(access.value, "orgUpdate") && (
            <p>
              <button type="button" class="btn btn-small" onClick={() => setEditRef(true)}>
                Edit reference
              </button>
            </p>
          )}
        </section>
      </div>
      {editRef && <ReferenceDialog org={o} onClose={() => setEditRef(false)} onDone={reload} />}
      {rotating && (
        <Dialog
          title="Issue a new registration key?"
          submitLabel="Issue new key"
          danger
          testId="rotate-key-dialog"
          onClose={() => setRotating(false)}
          onSubmit={async () => {
            const r = await rotateRegistrationKey(o.orgId);
            notify(`The new registration key of ${o.orgName} is ${r.registrationKey}.`);
            reload();
          }}
        >
          <p>Devices already registered keep working. New devices must use the new key: the current one stops working at once.</p>
        </Dialog>
      )}
    </article>
  );
}

function ReferenceDialog({ org, onClose, onDone }: { org: Org; onClose: () => void; onDone: () => void }) {
  const [ext, setExt] = useState(org.orgExtRef ?? "");
  const [notes, setNotes] = useState(org.notes ?? "");
  return (
    <Dialog
      title="Edit reference"
      onClose={onClose}
      onSubmit={async () => {
        await saveReference(org.orgId, ext.trim() || null, notes.trim() || null);
        notify("Reference saved.");
        onDone();
      }}
    >
      <TextField label="External reference" value={ext} onInput={setExt} hint="A serial number, asset tag, employee ID or help desk issue ID." />
      <TextArea label="Notes" value={notes} onInput={setNotes} />
    </Dialog>
  );
}
