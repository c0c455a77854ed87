// Hooks and `minimize`: Keras' gradient aggregator and transformers (user functions over
// `[gradient, variable]` pairs, checked before and after they run) and `minimize`, which gets
// its gradients from a gradient source and hands them to `applyGradients`.
import { ArgumentError } from '../errors.js';
import { IndexedSlices, Tensor, Variable } from '../tensor.js';
import { describeValue, isDetached, readNumbers, typedArrayKind, typedArrayLength } from '../values.js';
import { StepArguments, checkLive, readGradient } from './step.js';
import type { ApplyGradientsOptions, Gradient, GradientAggregator, GradientSource, GradientTransformer, GradsAndVars, HookGradient, MinimizeOptions, StepResult } from './types.js';

export function checkAggregator(f: unknown): GradientAggregator {
  if (typeof f !== 'function') throw new ArgumentError('InvalidArgument', `\`gradientAggregator\` must be a function, got ${describeValue(f)}`);
  return f as GradientAggregator;
}

export function checkTransformers(list: unknown): readonly GradientTransformer[] {
  if (!Array.isArray(list)) throw new ArgumentError('InvalidArgument', `\`gradientTransformers\` must be an array of functions, got ${describeValue(list)}`);
  list.forEach((f, i) => {
    if (typeof f !== 'function') throw new ArgumentError('InvalidArgument', `gradientTransformers[${i}] must be a function, got ${describeValue(f)}`);
  });
  return Object.freeze([...list]) as readonly GradientTransformer[];
}

/** A gradient as hooks see it: Float32Array (a copy of a Tensor's or an array's values) or
 * IndexedSlices (of a copy of a Tensor's values). */
export function hookGradient(g: Gradient, v: Variable): HookGradient {
  if (g instanceof IndexedSlices) {
    const values: unknown = g.values;
    if (!(values instanceof Tensor)) return g as IndexedSlices;
    checkLive(values, v, true);
    return new IndexedSlices(values.read(), g.indices, g.denseShape);
  }
  if (typedArrayKind(g) === 'Float32Array') {
    if (typedArrayLength(g as Float32Array) === 0 && isDetached(g as Float32Array)) {
      throw new ArgumentError('InvalidArgument', `the gradient of '${v.name}' is a typed array whose ArrayBuffer is detached`);
    }
    return g as Float32Array;
  }
  if (g instanceof Tensor) {
    checkLive(g, v);
    return g.read();
  }
  if (Array.isArray(g)) return readNumbers(g, `the gradient of '${v.name}'`).array as Float32Array;
  throw new ArgumentError('InvalidArgument', `the gradient of '${v.name}' must be a Float32Array, number[], Tensor, IndexedSlices or null; got ${describeValue(g)}`);
}

/** Reads what an aggregator or transformer returned, once: one pair per pair given, for the
 * same variables. */
function checkHookResult(out: unknown, before: GradsAndVars, who: string): GradsAndVars {
  const length: unknown = Array.isArray(out) ? out.length : undefined;
  if (length !== before.length) {
    throw new ArgumentError('InvalidArgument', `${who} must return a list of ${before.length} [gradient, variable] pairs, got ${describeValue(out)}`);
  }
  const list = out as unknown[];
  const result: GradsAndVars = [];
  for (let i = 0; i < before.length; i++) {
    const v = before[i][1];
    const pair: unknown = list[i];
    if (!Array.isArray(pair) || pair.length !== 2)
      throw new ArgumentError('InvalidArgument', `${who} returned ${describeValue(pair)} at position ${i}, not a [gradient, variable] pair`);
    const g: unknown = pair[0];
    const w: unknown = pair[1];
    if (w !== v)
      throw new ArgumentError(
        'InvalidArgument',
        `${who} returned ${w instanceof Tensor ? `variable '${w.name}'` : describeValue(w)} at position ${i}, where '${v.name}' was given`,
      );
    if (g === null || g === undefined || g instanceof Tensor)
      throw new ArgumentError('InvalidArgument', `${who} returned ${describeValue(g)} as the gradient of '${v.name}'; expected a Float32Array or IndexedSlices`);
    result.push([hookGradient(g as Gradient, v), v]);
  }
  return result;
}

/**
 * Runs the aggregator (when given) and the transformers over the non-null gradients of a step's
 * snapshot (as Float32Array or IndexedSlices), checks what they return and reads the final
 * gradients into the snapshot at their positions.
 */
export function runGradientHooks(args: StepArguments, aggregator: GradientAggregator | undefined, transformers: readonly GradientTransformer[], stageTensors: boolean): void {
  let kept: GradsAndVars = [];
  const at: number[] = [];
  for (let i = 0; i < args.n; i++) {
    const g = args.gradients[i];
    if (g === null || g === undefined) continue;
    kept.push([hookGradient(g, args.variables[i]), args.variables[i]]);
    at.push(i);
  }
  if (kept.length > 0) {
    if (aggregator) kept = checkHookResult(aggregator(kept), kept, 'gradientAggregator');
    for (let t = 0; t < transformers.length; t++) kept = checkHookResult(transformers[t](kept), kept, `gradientTransformers[${t}]`);
  }
  for (let k = 0; k < at.length; k++) readGradient(args, at[k], kept[k][0], stageTensors);
}

/** What `minimize` needs of an optimizer. */
interface Minimizable {
  gradientSource: GradientSource | undefined;
  applyGradients(gradsAndVars: Iterable<readonly [Gradient, Variable]>, options?: ApplyGradientsOptions): StepResult;
}

/** Keras' `minimize` (see `Optimizer.minimize`). */
export function minimize<L>(opt: Minimizable, loss: L, varList: readonly Variable[] | (() => readonly Variable[]), options?: MinimizeOptions<L>): number {
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new ArgumentError('InvalidArgument', `minimize options must be an object, got ${describeValue(options)}`);
  }
  const source = options?.gradientSource ?? opt.gradientSource;
  if (source === undefined || source === null) {
    throw new ArgumentError(
      'InvalidArgument',
      'minimize needs a gradient source (JavaScript has no autodiff): pass { gradientSource } or set optimizer.gradientSource, e.g. finiteDifferenceGradients, or tfjsGradientSource from simdopt/tfjs',
    );
  }
  if (typeof source !== 'function') throw new ArgumentError('InvalidArgument', `a gradient source must be a function, got ${describeValue(source)}`);
  if (typeof varList !== 'function' && !Array.isArray(varList)) {
    throw new ArgumentError('InvalidArgument', `minimize expects var_list as an array of Variables or a function returning one, got ${describeValue(varList)}`);
  }
  let vars: readonly Variable[] | undefined;
  const resolve = (): readonly Variable[] => {
    if (vars) return vars;
    const list = typeof varList === 'function' ? varList() : varList;
    if (!Array.isArray(list)) throw new ArgumentError('InvalidArgument', `var_list must give an array of Variables, got ${describeValue(list)}`);
    list.forEach((v, i) => {
      if (!(v instanceof Tensor)) throw new ArgumentError('InvalidArgument', `var_list entry ${i} is ${describeValue(v)}, not a Variable`);
    });
    return (vars = Object.freeze([...list]) as readonly Variable[]);
  };
  const out = source(loss, resolve);
  if (out === null || typeof out !== 'object' || !Array.isArray(out.grads)) {
    throw new ArgumentError('InvalidArgument', `the gradient source must return { loss, grads }, got ${describeValue(out)}`);
  }
  if (typeof out.loss !== 'number') throw new ArgumentError('InvalidArgument', `the gradient source returned a loss of ${describeValue(out.loss)}, not a number`);
  const vs = resolve();
  if (out.grads.length !== vs.length) {
    throw new ArgumentError('InvalidArgument', `the gradient source returned ${out.grads.length} gradients for ${vs.length} variables`);
  }
  const { gradientSource: _ignored, ...applyOptions } = options ?? {};
  opt.applyGradients(
    vs.map((v, i) => [out.grads[i], v] as const),
    options === undefined ? undefined : applyOptions,
  );
  return out.loss;
}
