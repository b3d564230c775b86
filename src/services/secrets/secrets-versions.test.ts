import { describe, expect, it } from "vitest";
import type { VersionRecord } from "../../storage/store.ts";
import { attachStages, detachStage, versionsToPrune } from "./secrets-versions.ts";

const v = (versionId: string, stages: string[], createdAt = 0): VersionRecord => ({
  secretArn: "arn",
  versionId,
  createdAt,
  stages,
  keyArn: "k",
  valueKind: "string",
});

const apply = (versions: VersionRecord[], changes: Map<string, string[]>) =>
  Object.fromEntries(versions.map((x) => [x.versionId, (changes.get(x.versionId) ?? x.stages).slice().sort()]));

describe("attachStages", () => {
  it("gives the first version AWSCURRENT", () => {
    const versions = [v("a", [])];
    expect(apply(versions, attachStages(versions, "a", ["AWSCURRENT"]))).toEqual({ a: ["AWSCURRENT"] });
  });

  it("moves AWSCURRENT and makes the old holder AWSPREVIOUS, taking AWSPREVIOUS from its holder", () => {
    const versions = [v("a", ["AWSPREVIOUS"]), v("b", ["AWSCURRENT"]), v("c", [])];
    expect(apply(versions, attachStages(versions, "c", ["AWSCURRENT"]))).toEqual({
      a: [],
      b: ["AWSPREVIOUS"],
      c: ["AWSCURRENT"],
    });
  });

  it("keeps other labels of the old current version", () => {
    const versions = [v("a", ["AWSCURRENT", "blue"]), v("b", [])];
    expect(apply(versions, attachStages(versions, "b", ["AWSCURRENT"]))).toEqual({
      a: ["AWSPREVIOUS", "blue"],
      b: ["AWSCURRENT"],
    });
  });

  it("moves AWSPENDING without touching AWSCURRENT", () => {
    const versions = [v("a", ["AWSCURRENT"]), v("b", ["AWSPENDING"]), v("c", [])];
    expect(apply(versions, attachStages(versions, "c", ["AWSPENDING"]))).toEqual({
      a: ["AWSCURRENT"],
      b: [],
      c: ["AWSPENDING"],
    });
  });

  it("does nothing to AWSPREVIOUS when AWSCURRENT is attached where it already is", () => {
    const versions = [v("a", ["AWSPREVIOUS"]), v("b", ["AWSCURRENT", "AWSPENDING"])];
    expect(apply(versions, attachStages(versions, "b", ["AWSCURRENT"]))).toEqual({
      a: ["AWSPREVIOUS"],
      b: ["AWSCURRENT", "AWSPENDING"],
    });
  });

  it("finishes a rotation: AWSCURRENT joins AWSPENDING, the old version becomes AWSPREVIOUS", () => {
    const versions = [v("old", ["AWSCURRENT"]), v("new", ["AWSPENDING"])];
    expect(apply(versions, attachStages(versions, "new", ["AWSCURRENT"]))).toEqual({
      old: ["AWSPREVIOUS"],
      new: ["AWSCURRENT", "AWSPENDING"],
    });
  });
});

describe("detachStage", () => {
  it("removes one label and leaves the rest", () => {
    const versions = [v("a", ["AWSCURRENT", "x"])];
    expect(apply(versions, detachStage(versions, "x", "a"))).toEqual({ a: ["AWSCURRENT"] });
  });
});

describe("versionsToPrune", () => {
  it("removes the oldest deprecated versions beyond the limit, never labelled ones", () => {
    const versions = [v("new", ["AWSCURRENT"], 5), v("d2", [], 4), v("prev", ["AWSPREVIOUS"], 3), v("d1", [], 2), v("d0", [], 1)];
    expect(versionsToPrune(versions, 3).map((x) => x.versionId)).toEqual(["d0", "d1"]);
    expect(versionsToPrune(versions, 5)).toEqual([]);
    expect(versionsToPrune([v("a", ["AWSCURRENT"], 1), v("b", ["X"], 2)], 1)).toEqual([]);
  });
});
