/** User details: facts, devices, roles, and the actions block, deactivate, move, edit. */
import { useState } from "preact/hooks";
import { listDevices } from "../api/devices.js";
import type { Org } from "../api/types.js";
import { addRole, assignableRoles, getUser, moveUser, removeRole, resetTotp, setUserActive, setUserBlocked, updateUser, userRoles } from "../api/users.js";
import { errorMessage } from "../api/client.js";
import { dateTime } from "../format.js";
import { href } from "../router.js";
import { useAsync } from "../ui/async.js";
import { Dialog } from "../ui/dialog.js";
import { Facts, Select, TextField } from "../ui/forms.js";
import { Menu, type MenuItem } from "../ui/menu.js";
import { OrgPicker } from "../ui/org-picker.js";
import { ErrorState, Loading, notify } from "../ui/status.js";
import { DeviceTable } from "./devices-list.js";
import { StatusBadge } from "./orgs-list.js";
import { fullName } from "./users-list.js";

type Open = "block" | "active" | "move" | "edit" | "totp" | null;

/** The screen. */
export function UserDetails({ userId }: { userId: number }) {
  const user = useAsync((s) => getUser(userId, s), [userId]);
  const roles = useAsync((s) => userRoles(userId, s), [userId]);
  const devices = useAsync(
    (s) => (user.data ? listDevices({ active: true, userUid: user.data.userUid, pgNum: 1, pgSize: 50 }, s) : new Promise<never>(() => {})),
    [user.data?.userUid],
  );
  const [open, setOpen] = useState<Open>(null);
  if (user.status === "error") return <ErrorState message={user.error} onRetry={user.reload} />;
  if (!user.data) return <Loading />;
  const u = user.data;
  const done = () => {
    void user.reload();
    void roles.reload();
    void devices.reload();
  };
  const items: MenuItem[] = [
    { id: "edit", label: "Edit user", run: () => setOpen("edit") },
    { id: u.blocked ? "unblock" : "block", label: u.blocked ? "Unblock" : "Block", run: () => setOpen("block") },
    { id: "reset-totp", label: "Reset two-factor authentication", run: () => setOpen("totp") },
    { id: u.active ? "deactivate" : "reactivate", label: u.active ? "Deactivate" : "Reactivate", run: () => setOpen("active"), danger: u.active },
  ];
  if (u.active) items.splice(1, 0, { id: "move", label: "Move to another organization", run: () => setOpen("move") });
  return (
    <article aria-labelledby="user-title" data-testid="user-details">
      <p class="breadcrumbs">
        <a href="#/users">Users</a> › {u.username}
      </p>
      <div class="head">
        <div>
          <h1 id="user-title">
            {u.username} <StatusBadge active={u.active} /> {u.blocked && <span class="badge badge-bad">Blocked</span>}
          </h1>
          <p>
            In <a href={href(`/orgs/${u.orgId}`)}>{u.orgName}</a>
          </p>
        </div>
        <Menu label="Actions" items={items} testId="user-actions" />
      </div>
      <div class="cards">
        <section class="card" aria-labelledby="u-ov">
          <h2 id="u-ov">Account</h2>
          <Facts
            items={[
              ["Name", fullName(u)],
              ["Email", u.email ?? "—"],
              ["Status", `${u.active ? "Active" : "Deactivated"}${u.blocked ? ", blocked" : ""}`],
              ["User UID", <code key="uid">{u.userUid}</code>],
              ["Created", dateTime(u.creationDate)],
              ["Last sign-in", dateTime(u.lastLoginDate ?? null)],
              ["Notes", u.notes ?? "—"],
            ]}
          />
        </section>
        <RolesCard userId={u.userId} roles={roles} />
      </div>
      <h2>Devices</h2>
      <DeviceTable list={devices} caption={`Devices of ${u.username}`} />
      {open === "block" && (
        <Dialog
          title={`${u.blocked ? "Unblock" : "Block"} ${u.username}?`}
          submitLabel={u.blocked ? "Unblock" : "Block"}
          danger={!u.blocked}
          onClose={() => setOpen(null)}
          onSubmit={async () => {
            await setUserBlocked(u.userId, !u.blocked);
            notify(`${u.username} is ${u.blocked ? "unblocked" : "blocked"}.`);
            done();
          }}
        >
          <p>{u.blocked ? "The user can sign in and restore again." : "The user cannot sign in or restore. Backups continue."}</p>
        </Dialog>
      )}
      {open === "active" && (
        <Dialog
          title={`${u.active ? "Deactivate" : "Reactivate"} ${u.username}?`}
          submitLabel={u.active ? "Deactivate" : "Reactivate"}
          danger={u.active}
          onClose={() => setOpen(null)}
          onSubmit={async () => {
            await setUserActive(u.userId, !u.active);
            notify(`${u.username} is ${u.active ? "deactivated" : "active again"}.`);
            done();
          }}
        >
          <p>
            {u.active
              ? "The user and their devices become inactive and the user cannot sign in. Their archives go to cold storage until they are purged."
              : "The user and the devices their deactivation deactivated become active again; their archives leave cold storage unless already purged."}
          </p>
        </Dialog>
      )}
      {open === "totp" && (
        <Dialog
          title={`Reset two-factor authentication of ${u.username}?`}
          submitLabel="Reset"
          danger
          onClose={() => setOpen(null)}
          onSubmit={async () => {
            await resetTotp(u.userId);
            notify(`Two-factor authentication of ${u.username} is reset.`);
          }}
        >
          <p>
            For a user who lost their authenticator: their enrollment is removed; if their organization requires two-factor authentication, they set it up again
            at the next sign-in.
          </p>
        </Dialog>
      )}
      {open === "move" && <MoveDialog userId={u.userId} username={u.username} orgId={u.orgId} onClose={() => setOpen(null)} onDone={done} />}
      {open === "edit" && <EditUserDialog user={u} onClose={() => setOpen(null)} onDone={done} />}
    </article>
  );
}

function MoveDialog(p: { userId: number; username: string; orgId: number; onClose: () => void; onDone: () => void }) {
  const [to, setTo] = useState<Org | null>(null);
  return (
    <Dialog
      title={`Move ${p.username}`}
      submitLabel="Move"
      onClose={p.onClose}
      onSubmit={async () => {
        if (!to) throw new Error("Select the organization to move to.");
        await moveUser(p.userId, to.orgId);
        notify(`${p.username} moved to ${to.orgName}.`);
        p.onDone();
      }}
    >
      <p>
        The user's devices move too. Archives on destinations the new organization does not offer go to cold storage; the new organization's frequency and
        version settings apply; its auto-start destinations begin at once.
      </p>
      <OrgPicker label="Move to organization" value={to} onChange={setTo} exclude={p.orgId} />
    </Dialog>
  );
}

function EditUserDialog({
  user,
  onClose,
  onDone,
}: {
  user: { userUid: string; username: string; email: string | null; firstName: string | null; lastName: string | null };
  onClose: () => void;
  onDone: () => void;
}) {
  const [f, setF] = useState({ email: user.email ?? "", firstName: user.firstName ?? "", lastName: user.lastName ?? "", password: "" });
  return (
    <Dialog
      title={`Edit ${user.username}`}
      onClose={onClose}
      onSubmit={async () => {
        await updateUser(user.userUid, { email: f.email || null, firstName: f.firstName || null, lastName: f.lastName || null, password: f.password || null });
        notify("User saved.");
        onDone();
      }}
    >
      <TextField label="Email" type="email" value={f.email} onInput={(v) => setF({ ...f, email: v })} />
      <TextField label="First name" value={f.firstName} onInput={(v) => setF({ ...f, firstName: v })} />
      <TextField label="Last name" value={f.lastName} onInput={(v) => setF({ ...f, lastName: v })} />
      <TextField
        label="New password"
        type="password"
        value={f.password}
        onInput={(v) => setF({ ...f, password: v })}
        autoComplete="new-password"
        hint="Leave empty to keep the current password."
      />
    </Dialog>
  );
}

function RolesCard({ userId, roles }: { userId: number; roles: ReturnType<typeof useAsync<{ roleId: string; roleName: string }[]>> }) {
  const all = useAsync((s) => assignableRoles(s), []);
  const [pick, setPick] = useState("");
  const [busy, setBusy] = useState(false);
  const have = new Set((roles.data ?? []).map((r) => r.roleName));
  const options = (all.data ?? []).filter((r) => !have.has(r.roleName));
  const run = async (fn: () => Promise<unknown>, msg: string) => {
    setBusy(true);
    try {
      await fn();
      notify(msg);
      roles.reload();
    } catch (e) {
      notify(errorMessage(e), "error");
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="card" aria-labelledby="u-roles">
      <h2 id="u-roles">Roles</h2>
      {roles.status === "error" ? (
        <ErrorState message={roles.error} onRetry={roles.reload} />
      ) : !roles.data ? (
        <Loading />
      ) : (
        <ul class="plain-list" data-testid="user-roles">
          {roles.data.length === 0 && <li class="muted">No roles.</li>}
          {roles.data.map((r) => (
            <li key={r.roleName}>
              {r.roleName}{" "}
              <button
                type="button"
                class="btn btn-small"
                disabled={busy}
                aria-label={`Remove role ${r.roleName}`}
                onClick={() => run(() => removeRole(userId, r.roleName), `Removed ${r.roleName}.`)}
              >
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      {options.length > 0 && (
        <div class="with-unit">
          <Select
            label="Add a role"
            value={pick}
            onChange={setPick}
            options={[{ value: "", label: "Choose a role" }, ...options.map((r) => ({ value: r.roleName, label: r.roleName }))]}
          />
          <button type="button" class="btn" disabled={!pick || busy} onClick={() => run(() => addRole(userId, pick), `Added ${pick}.`).then(() => setPick(""))}>
            Add
          </button>
        </div>
      )}
      {all.status === "error" && <p class="form-error">Could not load the roles: {all.error}</p>}
    </section>
  );
}
