/**
 * Destination offers (seed 000): an organization's Destinations tab with "Inherit destination
 * settings from parent", and Settings > Organization > Destinations (offer system-wide). A
 * destination offered with auto-start makes devices start backing up to it at once; without
 * auto-start, users may opt in.
 */
import { useEffect, useState } from "preact/hooks";
import { type Offer, orgOffers, putOrgOffers, putSystemOffers, systemOffers } from "../api/storage.js";
import { href } from "../router.js";
import { useAsync } from "../ui/async.js";
import { Empty, ErrorState, Loading } from "../ui/status.js";
import { InheritBox, SaveBar } from "./settings-common.js";

type Choice = { destinationId: number; offered: boolean; autoStart: boolean };
const choices = (list: Offer[]): Choice[] => list.map((d) => ({ destinationId: d.destinationId, offered: d.offered, autoStart: d.autoStart }));

/** The table of destinations with Offer and Auto-start checkboxes. */
function OffersTable({ offers, draft, onChange, disabled }: { offers: Offer[]; draft: Choice[]; onChange: (c: Choice[]) => void; disabled: boolean }) {
  if (offers.length === 0)
    return (
      <Empty>
        No destinations yet. <a href="#/storage/destinations">Add a destination</a> first.
      </Empty>
    );
  const set = (id: number, change: Partial<Choice>) => onChange(draft.map((c) => (c.destinationId === id ? { ...c, ...change } : c)));
  return (
    <div class="table-wrap">
      <table class="data">
        <caption class="sr-only">Destinations offered</caption>
        <thead>
          <tr>
            <th scope="col">Offered</th>
            <th scope="col">Destination</th>
            <th scope="col">Type</th>
            <th scope="col">Auto-start backups</th>
          </tr>
        </thead>
        <tbody>
          {offers.map((d) => {
            const c = draft.find((x) => x.destinationId === d.destinationId) ?? { destinationId: d.destinationId, offered: false, autoStart: false };
            return (
              <tr key={d.destinationId} data-testid={`offer-row-${d.destinationId}`}>
                <td>
                  <input
                    type="checkbox"
                    aria-label={`Offer ${d.destinationName}`}
                    checked={c.offered}
                    disabled={disabled}
                    onChange={(e) => set(d.destinationId, { offered: e.currentTarget.checked, autoStart: e.currentTarget.checked ? c.autoStart : false })}
                  />
                </td>
                <td>{d.destinationName}</td>
                <td>{d.type === "PROVIDER" ? "Provider" : "Own servers"}</td>
                <td>
                  <input
                    type="checkbox"
                    aria-label={`Auto-start backups to ${d.destinationName}`}
                    checked={c.autoStart}
                    disabled={disabled || !c.offered}
                    onChange={(e) => set(d.destinationId, { autoStart: e.currentTarget.checked })}
                  />
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** An org's Destinations tab (the top-level org's offers are the system-wide ones). */
export function OrgDestinationsTab({ orgId, isTop }: { orgId: number; isTop: boolean }) {
  if (isTop) return <SystemDestinations />;
  return <InheritingDestinations orgId={orgId} />;
}

function InheritingDestinations({ orgId }: { orgId: number }) {
  const data = useAsync((s) => orgOffers(orgId, s), [orgId]);
  // The edits; null until the first change, so the first render already shows the server's values.
  const [edit, setEdit] = useState<{ inherit: boolean; draft: Choice[] } | null>(null);
  useEffect(() => setEdit(null), [data.data]);
  if (data.status === "error") return <ErrorState message={data.error} onRetry={data.reload} />;
  if (!data.data) return <Loading />;
  const d = data.data;
  const inherit = edit?.inherit ?? d.inherit;
  const draft = edit?.draft ?? choices(d.destinations);
  const setInherit = (v: boolean) => setEdit({ inherit: v, draft });
  const setDraft = (c: Choice[]) => setEdit({ inherit, draft: c });
  const from = d.inheritedFromOrgName ?? "the system-wide defaults";
  const dirty = inherit !== d.inherit || JSON.stringify(draft) !== JSON.stringify(choices(d.destinations));
  return (
    <form onSubmit={(e) => e.preventDefault()} aria-label="Destinations" data-testid="destinations-form">
      <InheritBox label="Inherit destination settings from parent" inherit={inherit} onChange={setInherit} from={from} testId="inherit-destinations" />
      <p class="hint">Users who move to an organization that does not offer a destination they back up to keep that data in cold storage until it is purged.</p>
      <OffersTable offers={d.destinations} draft={inherit ? choices(d.destinations) : draft} onChange={setDraft} disabled={inherit} />
      <SaveBar
        dirty={dirty}
        testId="save-destinations"
        onRevert={() => setEdit(null)}
        onSave={async () => {
          await putOrgOffers(orgId, inherit, draft);
          void data.reload();
        }}
      />
    </form>
  );
}

/** Settings > Organization > Destinations: the system-wide offers every inheriting org gets. */
export function SystemDestinations() {
  const data = useAsync((s) => systemOffers(s), []);
  const [edit, setDraft] = useState<Choice[] | null>(null);
  useEffect(() => setDraft(null), [data.data]);
  if (data.status === "error") return <ErrorState message={data.error} onRetry={data.reload} />;
  if (!data.data) return <Loading />;
  const offers = data.data;
  const draft = edit ?? choices(offers);
  return (
    <form onSubmit={(e) => e.preventDefault()} aria-label="System-wide destinations" data-testid="system-destinations-form">
      <p>
        Destinations checked here are offered to every organization that inherits destination settings. An organization can stop inheriting on its own{" "}
        <em>Destinations</em> tab (<a href={href("/orgs")}>Organizations</a> › an organization › Actions › Edit organization info).
      </p>
      <OffersTable offers={offers} draft={draft} onChange={setDraft} disabled={false} />
      <SaveBar
        dirty={JSON.stringify(draft) !== JSON.stringify(choices(offers))}
        testId="save-system-destinations"
        onRevert={() => setDraft(null)}
        onSave={async () => {
          await putSystemOffers(draft);
          void data.reload();
        }}
      />
    </form>
  );
}
