/**
 * Legal hold matters (API.md §11): the list (open, closed or all; search by name), and "New
 * matter" with its preservation policy. A row opens the matter.
 */
import { useState } from "preact/hooks";
import { type ActiveState, createMatter, createPolicy, listMatters, listPolicies, type Matter } from "../api/legal-hold.js";
import { date } from "../format.js";
import { href, intParam, navigate, param, setQuery } from "../router.js";
import { useAsync } from "../ui/async.js";
import { Dialog } from "../ui/dialog.js";
import { FilterChips } from "../ui/filters.js";
import { Select, TextArea, TextField } from "../ui/forms.js";
import { PAGE_SIZE } from "../ui/list-params.js";
import { ErrorState, Loading, notify } from "../ui/status.js";
import { type Column, DataTable, Pager, Toolbar } from "../ui/table.js";
import { SearchBox } from "./orgs-list.js";

const STATES: { value: ActiveState; label: string }[] = [
  { value: "ACTIVE", label: "Open" },
  { value: "INACTIVE", label: "Closed" },
  { value: "ALL", label: "All" },
];

/** "Open" or "Closed". */
export function MatterState({ active }: { active: boolean }) {
  return <span class={active ? "badge badge-ok" : "badge"}>{active ? "Open" : "Closed"}</span>;
}

/** The matters screen. */
export function LegalHolds() {
  const state = (STATES.find((s) => s.value === param("state"))?.value ?? "ACTIVE") as ActiveState;
  const q = param("q");
  const page = intParam("page", 1);
  const [creating, setCreating] = useState(false);
  const list = useAsync((s) => listMatters({ activeState: state, name: q, pgNum: page, pgSize: PAGE_SIZE }, s), [state, q, page]);
  const columns: Column<Matter>[] = [
    { id: "name", label: "Matter", render: (m) => <a href={href(`/legal-holds/${m.legalHoldUid}`)}>{m.name}</a> },
    { id: "state", label: "Status", render: (m) => <MatterState active={m.active} /> },
    { id: "ref", label: "External reference", render: (m) => m.holdExtRef ?? "—" },
    { id: "creator", label: "Created by", render: (m) => m.creator?.username ?? "—" },
    { id: "created", label: "Created", nowrap: true, render: (m) => date(m.creationDate) },
  ];
  return (
    <section aria-labelledby="holds-title">
      <h1 id="holds-title">Legal hold</h1>
      <p class="hint">
        The devices of custodians on an open matter back up what the matter's policy selects in a backup set the custodians cannot see or change, and custodians
        cannot be deactivated until they are released or the matter is closed.
      </p>
      <Toolbar>
        <Select label="Show" value={state} options={STATES} onChange={(v) => setQuery({ state: v === "ACTIVE" ? null : v, page: null })} />
        <SearchBox value={q} label="Search matters" />
        <button type="button" class="btn btn-primary" onClick={() => setCreating(true)} data-testid="new-matter">
          New matter
        </button>
      </Toolbar>
      <FilterChips chips={[q && { label: `Name contains “${q}”`, clear: () => setQuery({ q: null, page: null }) }]} />
      <DataTable<Matter>
        caption={`${STATES.find((s) => s.value === state)?.label ?? ""} legal hold matters`}
        columns={columns}
        rows={list.data?.items}
        status={list.status}
        error={list.error}
        onRetry={list.reload}
        rowKey={(m) => m.legalHoldUid}
        testId={(m) => `matter-row-${m.legalHoldUid}`}
        onOpen={(m) => navigate(`/legal-holds/${m.legalHoldUid}`)}
        emptyText={state === "INACTIVE" ? "No closed matters." : "No matters yet."}
      />
      <Pager page={page} pageSize={PAGE_SIZE} total={list.data?.totalCount} onPage={(n) => setQuery({ page: n })} label="Matters" />
      {creating && <NewMatterDialog onClose={() => setCreating(false)} />}
    </section>
  );
}

const NEW_POLICY = "__new__";

function NewMatterDialog({ onClose }: { onClose: () => void }) {
  const policies = useAsync((s) => listPolicies(s), []);
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [notes, setNotes] = useState("");
  const [ref, setRef] = useState("");
  const [policy, setPolicy] = useState<string>("");
  const [policyName, setPolicyName] = useState("Default");
  const options = [
    ...(policies.data ?? []).map((p) => ({ value: p.legalHoldPolicyUid, label: p.name })),
    { value: NEW_POLICY, label: "A new policy with the default rules…" },
  ];
  const chosen = policy || (policies.data?.[0]?.legalHoldPolicyUid ?? NEW_POLICY);
  return (
    <Dialog
      title="New matter"
      submitLabel="Create matter"
      testId="new-matter-dialog"
      onClose={onClose}
      onSubmit={async () => {
        if (!name.trim()) throw new Error("A matter needs a name.");
        let holdPolicyUid = chosen;
        if (chosen === NEW_POLICY) {
          if (!policyName.trim()) throw new Error("The new policy needs a name.");
          holdPolicyUid = (await createPolicy(policyName.trim())).legalHoldPolicyUid;
        }
        const m = await createMatter({
          name: name.trim(),
          holdPolicyUid,
          description: description.trim() || null,
          notes: notes.trim() || null,
          holdExtRef: ref.trim() || null,
        });
        notify(`Matter ${m.name} created`);
        navigate(`/legal-holds/${m.legalHoldUid}`);
      }}
    >
      <TextField label="Name" value={name} onInput={setName} required maxLength={100} />
      <TextArea label="Description" value={description} onInput={setDescription} rows={2} />
      <TextField label="External reference" value={ref} onInput={setRef} hint="A case or ticket number of your own, for scripts (holdExtRef)." />
      <TextArea label="Notes" value={notes} onInput={setNotes} rows={2} />
      {policies.status === "error" ? (
        <ErrorState message={policies.error ?? "The policies could not be loaded."} onRetry={policies.reload} />
      ) : !policies.data ? (
        <Loading />
      ) : (
        <Select label="Preservation policy" value={chosen} options={options} onChange={setPolicy} />
      )}
      {chosen === NEW_POLICY && policies.data && (
        <TextField
          label="Policy name"
          value={policyName}
          onInput={setPolicyName}
          hint="The default rules hold everything the custodians' devices already back up, to every destination offered to them."
        />
      )}
    </Dialog>
  );
}
