// Types of train.mjs (a plain ES module run by node), for the tests that import it.
import type { Task } from './tasks.mjs';

export type SlotDtype = 'float32' | 'bfloat16' | 'int8';
export interface Run {
  loss: number;
  accuracy: number;
  testLoss: number;
  testAccuracy: number;
  curve: number[];
}
export const DTYPES: SlotDtype[];
export function stepsOf(task: Task, epochs?: number): number;
export function train(task: Task, dtype: SlotDtype, seed: number, options?: { steps?: number }): Run;
export function stateCheck(task: Task, options?: { steps?: number; seed?: number }): Record<string, Record<string, { error: number; medianRatio: number }>>;
export function decayProbe(options?: { steps?: number }): { steps: number; kept: Record<SlotDtype, number> };
