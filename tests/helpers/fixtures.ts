// Shared helpers for tests that replay TF 2.4 reference data (tests/fixtures/, format in
// tools/fixtures/README.md). Nothing here depends on a particular optimizer or schedule.
//
//   import { loadFixture, compareClose, toGradient, OptimizerFixture } from './helpers/fixtures';
//   const fx = loadFixture<OptimizerFixture>('tf24/optimizers/Adam.json');
//   const dev = compareClose(variable.read(), step.variables[0], 1e-6, 'Adam/case/step 3/v0');
//
// `compareClose` throws an Error that names the label, index and both values on the first
// element out of tolerance, and returns the largest scaled deviation otherwise, so a test can
// both assert and report how close it got.
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IndexedSlices } from 'simdopt';

/** The repository root (this file is tests/helpers/fixtures.ts). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** tests/fixtures/ */
export const FIXTURES_DIR = resolve(REPO_ROOT, 'tests/fixtures');

const cache = new Map<string, unknown>();

/**
 * Parses a JSON fixture (cached per path). `path` is absolute, relative to the repository root
 * (`'tests/fixtures/tf24/schedules.json'`) or relative to tests/fixtures (`'tf24/schedules.json'`).
 * The result is shared between callers: do not mutate it.
 */
export function loadFixture<T = unknown>(path: string): T {
  const full = isAbsolute(path) ? path : path.startsWith('tests/') ? resolve(REPO_ROOT, path) : resolve(FIXTURES_DIR, path);
  let data = cache.get(full);
  if (data === undefined) {
    data = JSON.parse(readFileSync(full, 'utf8')) as unknown;
    cache.set(full, data);
  }
  return data as T;
}

/** A number, bigint, or array-like of them (Float32Array, BigInt64Array, number[], ...). */
export type Numeric = number | bigint | ArrayLike<number | bigint>;

function toNumbers(x: Numeric): number[] {
  if (typeof x === 'number' || typeof x === 'bigint') return [Number(x)];
  return Array.from(x as ArrayLike<number | bigint>, (v) => Number(v));
}

/**
 * Checks `|actual[i] - expected[i]| <= tol * max(1, |expected[i]|)` for every element (a scalar
 * is a one-element array; bigints are converted to numbers; NaN only matches NaN; infinities must
 * be equal). Lengths must match. Throws on the first failure with `label` in the message;
 * returns the largest `|actual - expected| / max(1, |expected|)` seen (0 for empty arrays).
 */
export function compareClose(actual: Numeric, expected: Numeric, tol: number, label: string): number {
  const a = toNumbers(actual);
  const e = toNumbers(expected);
  if (a.length !== e.length) throw new Error(`${label}: length ${a.length}, expected ${e.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = e[i];
    if (Number.isNaN(y) || Number.isNaN(x)) {
      if (Number.isNaN(x) && Number.isNaN(y)) continue;
      throw new Error(`${label}[${i}]: got ${x}, expected ${y}`);
    }
    if (!Number.isFinite(y) || !Number.isFinite(x)) {
      if (x === y) continue;
      throw new Error(`${label}[${i}]: got ${x}, expected ${y}`);
    }
    const dev = Math.abs(x - y) / Math.max(1, Math.abs(y));
    if (!(dev <= tol)) throw new Error(`${label}[${i}]: got ${x}, expected ${y} (deviation ${dev.toExponential(3)} > ${tol})`);
    if (dev > worst) worst = dev;
  }
  return worst;
}

// ---- optimizer fixture format (tools/fixtures/README.md, "Optimizer case format") ------------

/** A gradient of one variable in one step: dense values, a sparse slice, or none. */
export type FixtureGradient = { dense: number[] } | { indices: number[]; values: number[]; dense_shape: number[] } | null;

export interface FixtureStep {
  gradients: FixtureGradient[];
  /** Each variable's values after the step, flat row-major. */
  variables: number[][];
  /** `opt.get_weights()` after the step: iterations, then flat slot values. */
  weights: [number, ...number[][]];
  /** Present only when the weight list changed in this step. */
  weight_names?: string[];
}

export interface FixtureCase {
  name: string;
  /** `{class_name, config}`: `get_config()` before the first step; feed it to `deserialize`. */
  optimizer: { class_name: string; config: Record<string, unknown> };
  /** The Python constructor arguments as given. */
  kwargs: Record<string, unknown>;
  variables: { name: string; shape: number[]; initial: number[] }[];
  /** `[w.name for w in opt.weights]` after step 1. */
  weight_names: string[];
  steps: FixtureStep[];
}

export interface OptimizerFixture {
  generator: string;
  tensorflow: string;
  cases: FixtureCase[];
}

/** A fixture gradient as `applyGradients` takes it: Float32Array, IndexedSlices or null. */
export function toGradient(g: FixtureGradient): Float32Array | IndexedSlices | null {
  if (g === null) return null;
  if ('dense' in g) return Float32Array.from(g.dense);
  return new IndexedSlices(g.values, g.indices, g.dense_shape);
}
