// Types of spam.mjs (a plain ES module run by node), for the tests that import it.
import type { Ftrl, Variable } from 'simdopt';

export interface Mail {
  features: Int32Array;
  spam: boolean;
}
export interface SpamModel {
  weights: Variable;
  bias: Variable;
  optimizer: Ftrl;
  dispose(): void;
}
export const FEATURES: number;
export function loadCorpus(): { text: string; spam: boolean }[];
export function featurize(text: string): Int32Array;
export function makeModel(): SpamModel;
export function train(model: SpamModel, mails: readonly Mail[], sparse: boolean): number;
export function evaluate(model: SpamModel, mails: readonly Mail[]): { accuracy: number; precision: number; recall: number };
export function dataset(options?: { limit?: number; heldOut?: number }): { train: Mail[]; test: Mail[] };
