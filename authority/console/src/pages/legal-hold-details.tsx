/**
 * One legal hold matter: its facts, custodians (add by searching users, release), close or
 * reopen, and its event report (API.md §11).
 */
import { useState } from "preact/hooks";
import {
  addCustodian,
  closeMatter,
  getMatter,
  type HoldEvent,
  listHoldEvents,
  listMemberships,
  listPolicies,
  type Matter,
  type Membership,
  removeCustodian,
  reopenMatter,
} from "../api/legal-hold.js";
import { errorMessage } from "../api/client.js";
import { listUsers } from "../api/users.js";
import type { User } from "../api/types.js";
import { dateTime } from "../format.js";
import { useAsync } from "../ui/async.js";
import { Dialog } from "../ui/dialog.js";
import { Facts } from "../ui/forms.js";
import { Menu, type MenuItem } from "../ui/menu.js";
import { ErrorState, Loading, notify } from "../ui/status.js";
import { type Column, DataTable } from "../ui/table.js";
import { MatterState } from "./legal-holds.js";

const PG = 500;

const EVENT_LABELS: Record<string, string> = {
  HoldCreated: "Matter created",
  HoldDeactivated: "Matter closed",
  HoldReactivated: "Matter reopened",
  MembershipCreated: "Custodian added",
  MembershipDeactivated: "Custodian released",
  MembershipReactivated: "Custodian added again",
  Restore: "Restore",
};

/** The screen. */
export function LegalHoldDetails({ uid }: { uid: string }) {
  const matter = useAsync((s) => getMatter(uid, s), [uid]);
  const members = useAsync((s) => listMemberships({ legalHoldUid: uid, activeState: "ACTIVE", pgNum: 1, pgSize: PG }, s), [uid]);
  const events = useAsync((s) => listHoldEvents({ legalHoldUid: uid, pgNum: 1, pgSize: PG }, s), [uid]);
  const policies = useAsync((s) => listPolicies(s), []);
  const [dialog, setDialog] = useState<"add" | "close" | "reopen" | Membership | null>(null);
  const reload = () => {
    void matter.reload();
    void members.reload();
    void events.reload();
  };
  if (matter.status === "error") return <ErrorState message={matter.error} onRetry={matter.reload} />;
  const m = matter.data;
  if (!m) return <Loading />;
  const items: MenuItem[] = m.active
    ? [
        { id: "add", label: "Add custodian…", run: () => setDialog("add") },
        { id: "close", label: "Close matter…", run: () => setDialog("close"), danger: true },
      ]
    : [{ id: "reopen", label: "Reopen matter…", run: () => setDialog("reopen") }];
  const columns: Column<Membership>[] = [
    { id: "user", label: "Custodian", render: (x) => x.user.username },
    { id: "email", label: "Email", render: (x) => x.user.email ?? "—" },
    { id: "since", label: "On hold since", nowrap: true, render: (x) => dateTime(x.creationDate) },
    {
      id: "release",
      label: "",
      render: (x) =>
        m.active ? (
          <button type="button" class="btn btn-small" onClick={() => setDialog(x)} aria-label={`Release ${x.user.username}`}>
            Release
          </button>
        ) : null,
    },
  ];
  const eventColumns: Column<HoldEvent>[] = [
    { id: "at", label: "When", nowrap: true, render: (e) => dateTime(e.eventDate) },
    { id: "type", label: "Event", render: (e) => EVENT_LABELS[e.eventType] ?? e.eventType },
    { id: "custodian", label: "Custodian", render: (e) => e.custodianUsername ?? "—" },
    { id: "actor", label: "By", render: (e) => e.actorUsername ?? "—" },
  ];
  return (
    <article aria-labelledby="matter-title">
      <p class="breadcrumbs">
        <a href="#/legal-holds">Legal hold</a> › {m.name}
      </p>
      <div class="head">
        <div>
          <h1 id="matter-title">
            {m.name} <MatterState active={m.active} />
          </h1>
        </div>
        <Menu label="Actions" items={items} testId="matter-actions" />
      </div>
      <section class="card" aria-label="Matter">
        <Facts
          items={[
            ["Description", m.description ?? "—"],
            ["External reference", m.holdExtRef ?? "—"],
            ["Notes", m.notes ?? "—"],
            ["Created", `${dateTime(m.creationDate)}${m.creator ? ` by ${m.creator.username}` : ""}`],
            ["Policy", policies.data?.find((x) => x.legalHoldPolicyUid === m.holdPolicyUid)?.name ?? m.holdPolicyUid],
          ]}
        />
      </section>
      <section class="card" aria-labelledby="custodians-title">
        <h2 id="custodians-title">Custodians</h2>
        <DataTable<Membership>
          caption={`Custodians of ${m.name}`}
          columns={columns}
          rows={members.data?.items}
          status={members.status}
          error={members.error}
          onRetry={members.reload}
          rowKey={(x) => x.legalHoldMembershipUid}
          testId={(x) => `custodian-row-${x.user.username}`}
          emptyText={m.active ? "No one is on hold in this matter yet. Add custodians from Actions." : "The matter is closed: no one is on hold."}
        />
      </section>
      <section class="card" aria-labelledby="events-title">
        <h2 id="events-title">Events</h2>
        <DataTable<HoldEvent>
          caption={`Events of ${m.name}`}
          columns={eventColumns}
          rows={events.data?.items}
          status={events.status}
          error={events.error}
          onRetry={events.reload}
          rowKey={(e) => e.eventUid}
          testId={(e) => `hold-event-${e.eventUid}`}
          emptyText="No events."
        />
      </section>
      {dialog === "add" && <AddCustodianDialog matter={m} onClose={() => setDialog(null)} onDone={reload} />}
      {dialog === "close" && (
        <Dialog
          title="Close matter"
          submitLabel="Close matter"
          danger
          testId="close-matter-dialog"
          onClose={() => setDialog(null)}
          onSubmit={async () => {
            await closeMatter(m.legalHoldUid);
            notify(`Matter ${m.name} closed`);
            reload();
          }}
        >
          <p>
            Closing {m.name} releases its custodians from this hold: their devices stop the hold's backup set, and they can be deactivated again unless another
            matter holds them. The matter and its events stay, and it can be reopened.
          </p>
        </Dialog>
      )}
      {dialog === "reopen" && (
        <Dialog
          title="Reopen matter"
          submitLabel="Reopen matter"
          testId="reopen-matter-dialog"
          onClose={() => setDialog(null)}
          onSubmit={async () => {
            await reopenMatter(m.legalHoldUid);
            notify(`Matter ${m.name} reopened`);
            reload();
          }}
        >
          <p>Reopening {m.name} puts its custodians on hold again.</p>
        </Dialog>
      )}
      {dialog !== null && typeof dialog === "object" && (
        <Dialog
          title="Release custodian"
          submitLabel="Release"
          danger
          testId="release-custodian-dialog"
          onClose={() => setDialog(null)}
          onSubmit={async () => {
            await removeCustodian(dialog.legalHoldMembershipUid);
            notify(`${dialog.user.username} released from ${m.name}`);
            reload();
          }}
        >
          <p>
            Release {dialog.user.username} from {m.name}? Their devices stop this matter's backup set; what it already holds stays in their archives under the
            usual retention.
          </p>
        </Dialog>
      )}
    </article>
  );
}

function AddCustodianDialog({ matter, onClose, onDone }: { matter: Matter; onClose: () => void; onDone: () => void }) {
  const [q, setQ] = useState("");
  const [found, setFound] = useState<User[] | null>(null);
  const [searchError, setSearchError] = useState<string | null>(null);
  const [picked, setPicked] = useState<string>("");
  const search = async () => {
    setSearchError(null);
    try {
      const r = await listUsers({ active: true, q: q.trim() || undefined, pgNum: 1, pgSize: 20 });
      setFound(r.items);
      setPicked(r.items[0]?.userUid ?? "");
    } catch (err) {
      setSearchError(errorMessage(err));
    }
  };
  return (
    <Dialog
      title="Add custodian"
      submitLabel="Put on hold"
      testId="add-custodian-dialog"
      onClose={onClose}
      onSubmit={async () => {
        if (!picked) throw new Error("Search for a user and choose one.");
        const ms = await addCustodian(matter.legalHoldUid, picked);
        notify(`${ms.user.username} is on hold in ${matter.name}`);
        onDone();
      }}
    >
      <div class="with-unit">
        <div class="field">
          <label for="custodian-search">Find a user</label>
          <input
            id="custodian-search"
            type="search"
            value={q}
            placeholder="Username, email or name"
            onInput={(e) => setQ(e.currentTarget.value)}
            onKeyDown={(e) => {
              if (e.key === "Enter") {
                e.preventDefault();
                void search();
              }
            }}
          />
        </div>
        <button type="button" class="btn" onClick={() => void search()}>
          Search
        </button>
      </div>
      {searchError && <p role="alert">{searchError}</p>}
      {found !== null &&
        (found.length === 0 ? (
          <p class="muted">No active user matches.</p>
        ) : (
          <div class="field">
            <label for="custodian-pick">User</label>
            <select id="custodian-pick" value={picked} onChange={(e) => setPicked(e.currentTarget.value)} data-testid="custodian-pick">
              {found.map((u) => (
                <option key={u.userUid} value={u.userUid}>
                  {u.username} ({u.orgName})
                </option>
              ))}
            </select>
          </div>
        ))}
    </Dialog>
  );
}
