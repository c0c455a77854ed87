// Types of tasks.mjs (a plain ES module run by node), for the tests that import it.
import type { AdamOptions } from 'simdopt';

export interface DenseData {
  x: Float32Array;
  y: Int32Array;
  n: number;
}
export interface SparseData {
  sparse: { idx: Int32Array; val: number }[];
  y: Int32Array;
  n: number;
}
export interface Task {
  name: string;
  about: string;
  sizes: number[];
  act: 'tanh' | 'relu';
  train: DenseData | SparseData;
  test: DenseData | SparseData;
  adam(): AdamOptions;
  batch: number;
  shuffle: boolean;
  epochs: number;
  pointSteps: number;
  xLabel: string;
  xPerPoint: number;
}
export const MIN_COMPRESSED: number;
export function irisTask(): Task;
export function spiralsTask(): Task;
export function spamTask(options?: { epochs?: number; limit?: number }): Task;
export function parameterCounts(sizes: readonly number[]): { total: number; compressed: number };
