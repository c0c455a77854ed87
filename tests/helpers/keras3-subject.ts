// The package as a Keras3Subject (tests/helpers/keras3-fixtures.ts): a case's optimizer built by
// `deserialize` of simdopt/keras3 from Keras's own serialize() output, its variables named by
// their Keras paths, exclude_from_weight_decay as the case gives it.
import { Variable } from 'simdopt';
import { deserialize } from 'simdopt/keras3';
import type { Optimizer } from 'simdopt/keras3';
import { Keras3Case, Keras3Subject, toF32 } from './keras3-fixtures';

/** The case's variables, named by their Keras paths (simdopt's variable name is Keras' path). */
export function keras3Variables(c: Keras3Case): Variable[] {
  return c.variables.map((v) => new Variable(toF32(v.initial), { shape: v.shape, name: v.path }));
}

/** Applies the case's exclude_from_weight_decay to an optimizer. */
export function applyExclusion(c: Keras3Case, opt: Optimizer, vars: Variable[]): void {
  const ex = c.exclude_from_weight_decay;
  if (!ex) return;
  opt.excludeFromWeightDecay({ varList: ex.var_list.map((p) => vars[c.variables.findIndex((v) => v.path === p)]), varNames: ex.var_names });
}

/** A subject stepping `deserialize(case.optimizer)` through the package. */
export function keras3Subject(c: Keras3Case, { build = true } = {}): Keras3Subject & { optimizer: Optimizer; vars: Variable[] } {
  const opt = deserialize(c.optimizer as Parameters<typeof deserialize>[0]) as Optimizer;
  const vars = keras3Variables(c);
  applyExclusion(c, opt, vars);
  // Keras's generator builds the optimizer on the variables first (the paths are compared then);
  // without it, the first applyGradients builds it on the variables it is given.
  if (build) opt.build(vars);
  return {
    optimizer: opt,
    vars,
    apply: (grads) => void opt.applyGradients(grads.map((g, i) => [g, vars[i]] as const)),
    variables: () => vars.map((v) => v.read()),
    optimizerVariables: () => opt.getWeights(),
    optimizerVariablePaths: () => opt.getWeightNames(),
    iterations: () => opt.iterations,
    loadState: (values, optimizerValues) => {
      values.forEach((x, i) => vars[i].assign(x));
      opt.setWeights([BigInt64Array.of(BigInt(optimizerValues[0][0])), ...optimizerValues.slice(1)]);
    },
    finalize: () => opt.finalizeVariableValues(vars),
    dispose: () => {
      opt.dispose();
      vars.forEach((v) => v.dispose());
    },
  };
}
