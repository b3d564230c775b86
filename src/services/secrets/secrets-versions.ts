import type { VersionRecord } from "../../storage/store.ts";
import { AWSCURRENT, AWSPREVIOUS } from "./secrets-types.ts";

/**
 * Staging-label moves, as pure functions over a secret's versions. Each
 * returns the new stage list of every version whose labels change; the caller
 * writes those versions. A label sits on at most one version.
 */
export type StageChanges = Map<string, string[]>;

function stagesOf(versions: VersionRecord[], changes: StageChanges, versionId: string): string[] {
  return changes.get(versionId) ?? versions.find((v) => v.versionId === versionId)?.stages ?? [];
}

function setStage(versions: VersionRecord[], changes: StageChanges, stage: string, targetId: string): void {
  for (const v of versions) {
    const current = stagesOf(versions, changes, v.versionId);
    if (v.versionId !== targetId && current.includes(stage)) {
      changes.set(v.versionId, current.filter((s) => s !== stage));
    }
  }
  const target = stagesOf(versions, changes, targetId);
  if (!target.includes(stage)) changes.set(targetId, [...target, stage]);
}

/**
 * Attaches `stages` to `targetId`, taking each from the version that had it.
 * When AWSCURRENT moves, the version it leaves becomes AWSPREVIOUS.
 */
export function attachStages(versions: VersionRecord[], targetId: string, stages: string[]): StageChanges {
  const changes: StageChanges = new Map();
  const formerCurrent = versions.find((v) => v.stages.includes(AWSCURRENT))?.versionId;
  for (const stage of stages) setStage(versions, changes, stage, targetId);
  if (stages.includes(AWSCURRENT) && formerCurrent && formerCurrent !== targetId) {
    setStage(versions, changes, AWSPREVIOUS, formerCurrent);
  }
  return changes;
}

/** Removes `stage` from `versionId`. */
export function detachStage(versions: VersionRecord[], stage: string, versionId: string): StageChanges {
  const current = stagesOf(versions, new Map(), versionId);
  return new Map([[versionId, current.filter((s) => s !== stage)]]);
}

/** The deprecated versions to delete so that at most `max` remain, oldest first. */
export function versionsToPrune(versions: VersionRecord[], max: number): VersionRecord[] {
  let excess = versions.length - max;
  if (excess <= 0) return [];
  const oldestFirst = [...versions].sort((a, b) => a.createdAt - b.createdAt);
  const pruned: VersionRecord[] = [];
  for (const v of oldestFirst) {
    if (excess === 0) break;
    if (v.stages.length === 0) {
      pruned.push(v);
      excess--;
    }
  }
  return pruned;
}
