// Custom Keras 3 optimizers written against simdopt/keras3's API (`build`, `updateStep`,
// `addVariableFromReference`, `addVariable`, `assign*`): the TypeScript twins of the Python
// classes in tools/fixtures/keras3/custom_cases.py, registered under the same names.
import type { Variable, WasmTensor } from 'simdopt';
import { Optimizer, registerKerasSerializable } from 'simdopt/keras3';

/** Momentum SGD by hand (Keras 3's SGD with momentum, nesterov false): one slot per variable. */
export class HandSGD extends Optimizer {
  readonly momentum: number;
  private momentums: WasmTensor[] = [];

  constructor({ momentum = 0.9, learningRate = 0.01, name = 'hand_sgd', ...base }: Record<string, unknown> = {}) {
    super({ className: 'HandSGD', config: [['learning_rate', 0.01]] }, { learningRate, name, ...base });
    this.momentum = momentum as number;
  }

  override build(variables: readonly Variable[]): void {
    if (this.built) return;
    super.build(variables);
    this.momentums = variables.map((v) => this.addVariableFromReference(v, 'momentum'));
  }

  protected override updateStep(gradient: Float32Array, variable: Variable, learningRate: number): void {
    const m = this.momentums[this.getVariableIndex(variable)];
    const mu = Math.fround(this.momentum);
    const old = m.value;
    const next = new Float32Array(gradient.length);
    for (let i = 0; i < next.length; i++) next[i] = Math.fround(old[i] * mu) - Math.fround(gradient[i] * learningRate);
    this.assign(m, next);
    this.assignAdd(variable, m);
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), momentum: this.momentum };
  }
}

/** Momentum on row-scaled gradients: per variable a `momentum` slot and a per-row sum of squared
 * gradients (`add_variable`, shape `shape[:1]` or `[]`), plus a scalar count of updates. */
export class RowScaledMomentum extends Optimizer {
  readonly beta: number;
  readonly epsilon: number;
  private momentums: WasmTensor[] = [];
  private rowSums: WasmTensor[] = [];
  private updates: WasmTensor | null = null;

  constructor({ beta = 0.8, epsilon = 1e-3, learningRate = 0.05, name = 'row_scaled_momentum', ...base }: Record<string, unknown> = {}) {
    super({ className: 'RowScaledMomentum', config: [['learning_rate', 0.05]] }, { learningRate, name, ...base });
    this.beta = beta as number;
    this.epsilon = epsilon as number;
  }

  override build(variables: readonly Variable[]): void {
    if (this.built) return;
    super.build(variables);
    for (const v of variables) {
      this.momentums.push(this.addVariableFromReference(v, 'momentum'));
      const shape = v.shape.length === 2 ? [v.shape[0]] : [];
      this.rowSums.push(this.addVariable({ shape, initializer: 'zeros', dtype: 'float32', name: `${v.name.replace(/\//g, '_')}_row_sq` }));
    }
    this.updates = this.addVariable({ shape: [], name: 'updates' });
  }

  protected override updateStep(gradient: Float32Array, variable: Variable, learningRate: number): void {
    const i = this.getVariableIndex(variable);
    const [m, rs] = [this.momentums[i], this.rowSums[i]];
    const rows = variable.shape.length === 2 ? variable.shape[0] : 1;
    const cols = gradient.length / rows;
    const sums = new Float32Array(rows);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) sums[r] += Math.fround(gradient[r * cols + c] * gradient[r * cols + c]);
    this.assignAdd(rs, sums);
    const eps = Math.fround(this.epsilon);
    const beta = Math.fround(this.beta);
    const scale = rs.value.map((s) => 1 / Math.fround(Math.sqrt(Math.fround(s + eps))));
    const old = m.value;
    const next = new Float32Array(gradient.length);
    for (let k = 0; k < next.length; k++) next[k] = Math.fround(old[k] * beta) + Math.fround(gradient[k] * scale[Math.floor(k / cols)]);
    this.assign(m, next);
    this.assignSub(
      variable,
      next.map((x) => x * learningRate),
    );
    this.assignAdd(this.updates!, 1);
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), beta: this.beta, epsilon: this.epsilon };
  }
}

registerKerasSerializable('simdopt_tests')(HandSGD);
registerKerasSerializable('simdopt_tests')(RowScaledMomentum);
