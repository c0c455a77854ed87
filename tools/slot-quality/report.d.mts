// Types of report.mjs (a plain ES module run by node), for the tests that import it.
import type { Run, SlotDtype } from './train.mjs';

export type Summary = Record<SlotDtype, { runs: Run[]; curve: number[]; loss: number; accuracy: number; testLoss: number; testAccuracy: number }>;
export const TOLERANCE: number;
export function summarize(runs: Record<SlotDtype, Run[]>): Summary;
export function relative(x: number, base: number): number;
export function withinTolerance(summary: Summary, dtype: SlotDtype): boolean;
