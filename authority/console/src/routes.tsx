/** The route table: path patterns to pages. */
import type { VNode } from "preact";
import { OrgsList } from "./pages/orgs-list.js";
import { ErrorState } from "./ui/status.js";

type Page = (params: string[]) => VNode;

const ROUTES: [RegExp, Page][] = [
  [/^\/$/, () => <OrgsList />],
  [/^\/orgs$/, () => <OrgsList />],
];

/** The page for `path`, or a not-found state. */
export function routePage(path: string): VNode {
  for (const [re, page] of ROUTES) {
    const m = re.exec(path);
    if (m) return page(m.slice(1));
  }
  return <ErrorState message={`There is no page at ${path}.`} />;
}
