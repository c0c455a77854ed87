// Keras 3's `exclude_from_weight_decay(var_list, var_names)`: variables excluded by identity, or
// by a regular expression search of their name (Keras' `variable.name`: the last part of the
// path, so `dense/kernel` is searched as `kernel`). The exclusion is resolved to core handles when
// the optimizer is built (and again if it changes after).
import { ArgumentError } from '../errors.js';
import { Tensor, Variable } from '../tensor.js';
import { describeValue } from '../values.js';
import { readList } from '../optimizer/step.js';

/** What `excludeFromWeightDecay` was given, read once. */
export interface WeightDecayExclusion {
  variables: ReadonlySet<Tensor>;
  /** Keras joins the names into one pattern (`'|'.join(set(var_names))`). */
  pattern: RegExp | null;
}

/** Reads `{ varList, varNames }` once; a pattern JavaScript cannot compile is an ArgumentError. */
export function readExclusion(options: { varList?: readonly Variable[] | null; varNames?: readonly string[] | null }): WeightDecayExclusion {
  if (options === null || typeof options !== 'object')
    throw new ArgumentError('InvalidArgument', `excludeFromWeightDecay expects { varList, varNames }, got ${describeValue(options)}`);
  const { varList, varNames } = options;
  const vars = varList == null ? [] : readList(varList as Iterable<unknown>, '`varList` must be an array of Variables');
  vars.forEach((v, i) => {
    if (!(v instanceof Tensor)) throw new ArgumentError('InvalidArgument', `varList[${i}] is ${describeValue(v)}, not a Variable`);
  });
  const names = varNames == null ? [] : readList(varNames as Iterable<unknown>, '`varNames` must be an array of strings');
  names.forEach((n, i) => {
    if (typeof n !== 'string') throw new ArgumentError('InvalidArgument', `varNames[${i}] is ${describeValue(n)}, not a string`);
  });
  let pattern: RegExp | null = null;
  if (names.length > 0) {
    const source = [...new Set(names as string[])].join('|');
    try {
      pattern = new RegExp(source);
    } catch (e) {
      throw new ArgumentError('InvalidArgument', `varNames: ${JSON.stringify(source)} is not a valid regular expression (${(e as Error).message})`);
    }
  }
  return { variables: new Set(vars as Tensor[]), pattern };
}

/** Keras 3's `variable.name` of a simdopt variable: the last part of its name (Keras' path). */
export function kerasName(v: Tensor): string {
  return v.name.slice(v.name.lastIndexOf('/') + 1);
}

/** The handles (`[index, generation, ...]`) of the variables of `vars` the exclusion matches. */
export function excludedHandles(exclusion: WeightDecayExclusion, vars: readonly Tensor[]): Uint32Array {
  const out: number[] = [];
  for (const v of vars) {
    if (exclusion.variables.has(v) || (exclusion.pattern !== null && exclusion.pattern.test(kerasName(v)))) out.push(v.handleIndex, v.handleGeneration);
  }
  return Uint32Array.from(out);
}
