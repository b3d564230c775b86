/**
 * What rotation-schedule.ts and rotation-cron.ts share: time units, the
 * minimum interval between rotations that both rate() and cron() enforce, and
 * the error every invalid schedule raises.
 */
import { CofferError } from "../../shared/errors.ts";

export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;
/** A secret can be rotated at most every 4 hours (rate() and cron() alike). */
export const MIN_INTERVAL_HOURS = 4;

export function invalid(message: string): never {
  throw new CofferError("InvalidParameter", message);
}
