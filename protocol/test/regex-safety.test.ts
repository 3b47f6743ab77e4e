/** Exclusion patterns that could hang every device (nested repeats) are told apart from the usual ones. */
import { describe, expect, it } from "vitest";
import { MAX_REPEAT, regexHazard } from "../src/regex-safety.js";

describe("regexHazard", () => {
  it("passes the patterns administrators write", () => {
    for (const ok of [
      "\\.tmp$",
      "/node_modules/",
      "\\.(mp3|mp4|mov)$",
      "^/home/[^/]+/\\.cache/",
      "/cache/$",
      "\\.(bak|old)~?$",
      "[a-z]+\\.log(\\.[0-9]+)?$",
      "(?:/\\.git/|/\\.svn/)",
      "x{2,5}",
      "\\((a+)\\)",
      "[(a+)+]",
      "([0-9]+\\.){3}[0-9]+",
      "/(\\d+\\.){2}\\d+/",
    ])
      expect(regexHazard(ok), ok).toBeNull();
  });

  it("refuses a repeated group that repeats inside, and huge counted repeats", () => {
    for (const bad of ["(a+)+$", "(a*)*", "(\\w+\\s?)*$", "(?:x|y+){2,}", "((a+))+", "(.*a){20}", "^(([a-z])+.)+[A-Z]([a-z])+$", "^(/[^/]+)*/node_modules/"])
      expect(regexHazard(bad), bad).toMatch(/nested/);
    expect(regexHazard(`a{1,${MAX_REPEAT + 1}}`)).toMatch(/repeat of more than/);
    expect(regexHazard(`a{${MAX_REPEAT + 1},}`)).toMatch(/repeat of more than/);
  });
});
