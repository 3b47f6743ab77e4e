import { isCairnError } from "@cairn/protocol";
import { describe, expect, it } from "vitest";
import { ancestorIds, assertCanDeactivate, assertCanMove, isDescendant, isInSubtree, parentIdOf, validateOrgName } from "../src/orgs/org-tree.js";

const node = (orgId: number, path: string, active = true) => ({ orgId, parentId: parentIdOf(path), path, active });
const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (e) {
    return isCairnError(e) ? e.code : "other";
  }
};

describe("org tree rules", () => {
  it.each([
    ["ab", "ORG_NAME_INVALID"],
    ["  ab  ", "ORG_NAME_INVALID"],
    ["abc", undefined],
    ["x".repeat(220), undefined],
    ["x".repeat(221), "ORG_NAME_INVALID"],
    ["a/b/c", "ORG_NAME_INVALID"],
    ["a\\bc", "ORG_NAME_INVALID"],
    ["ab\u0000c", "ORG_NAME_INVALID"],
    ["Ünïcødé", undefined],
  ])("name %j → %s", (name, want) => {
    expect(code(() => validateOrgName(name))).toBe(want);
  });

  it("trims names and counts characters, not UTF-16 units", () => {
    expect(validateOrgName("  QA team ")).toBe("QA team");
    expect(code(() => validateOrgName("😀😀😀"))).toBeUndefined();
    expect(code(() => validateOrgName(null))).toBe("ORG_NAME_INVALID");
  });

  it("reads paths", () => {
    expect(ancestorIds("/1/5/9/")).toEqual([1, 5, 9]);
    expect(parentIdOf("/1/5/9/")).toBe(5);
    expect(parentIdOf("/1/")).toBeNull();
    expect(isInSubtree("/1/5/9/", "/1/5/")).toBe(true);
    expect(isInSubtree("/1/50/", "/1/5/")).toBe(false);
    expect(isDescendant(node(5, "/1/5/"), node(5, "/1/5/"))).toBe(false);
  });

  it("keeps the top level in place and active", () => {
    expect(code(() => assertCanDeactivate(node(1, "/1/")))).toBe("ORG_TOP_LEVEL");
    expect(code(() => assertCanMove(node(1, "/1/"), node(2, "/1/2/")))).toBe("ORG_TOP_LEVEL");
  });

  it("moves nothing under itself or its descendant, and nothing into a deactivated org", () => {
    const a = node(2, "/1/2/");
    expect(code(() => assertCanMove(a, node(3, "/1/2/3/")))).toBe("ORG_MOVE_INVALID");
    expect(code(() => assertCanMove(a, a))).toBe("ORG_MOVE_INVALID");
    expect(code(() => assertCanMove(a, node(4, "/1/4/", false)))).toBe("ORG_DEACTIVATED");
    expect(code(() => assertCanMove(node(2, "/1/2/", false), node(4, "/1/4/")))).toBe("ORG_DEACTIVATED");
    expect(code(() => assertCanMove(a, node(4, "/1/4/")))).toBeUndefined();
  });
});
