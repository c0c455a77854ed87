// Rust rule: crates/simdopt-core/src/rules/keras3/muon.rs. Keras 3's Muon (Jordan et al., 2024;
// Liu et al., 2025).
import { call, core } from '../../wasm/loader.js';
import { ArgumentError } from '../../errors.js';
import { describeValue } from '../../values.js';
import type { Variable } from '../../tensor.js';
import { BuiltinOptimizer } from './builtin.js';
import type { Keras3Spec } from '../options.js';
import type { Keras3BaseConfig, Keras3BaseOptions, Keras3Value } from '../types.js';

/** The options of {@link Muon}: Keras 3's arguments in camelCase, plus those of every optimizer. */
export interface MuonOptions extends Keras3BaseOptions {
  /**
   * The step size: a number, a schedule of the step, or a zero-argument function.
   * @default 0.001
   */
  learningRate?: Keras3Value;
  /**
   * Decoupled weight decay of the variables Muon updates (`weightDecay: null`: none).
   * @default 0.004
   */
  weightDecay?: Keras3BaseOptions['weightDecay'];
  /**
   * AdamW's first-moment decay, for the variables that take the AdamW step.
   * @default 0.9
   */
  adamBeta1?: number;
  /**
   * AdamW's second-moment decay.
   * @default 0.999
   */
  adamBeta2?: number;
  /**
   * AdamW's epsilon (outside the square root).
   * @default 1e-7
   */
  epsilon?: number;
  /**
   * Regular expressions: a variable whose path one of them finds (a search, as Python's `re.search`) takes the AdamW step.
   * @default []
   */
  excludeLayers?: readonly string[] | null;
  /** Newton–Schulz coefficient a. @default 3.4445 */
  muonA?: number;
  /** Newton–Schulz coefficient b. @default -4.775 */
  muonB?: number;
  /** Newton–Schulz coefficient c. @default 2.0315 */
  muonC?: number;
  /**
   * AdamW's learning rate is `learningRate * adamLrRatio`.
   * @default 1
   */
  adamLrRatio?: number;
  /**
   * Momentum of the Muon step.
   * @default 0.95
   */
  momentum?: number;
  /**
   * Newton–Schulz iterations.
   * @default 5
   */
  nsSteps?: number;
  /**
   * Nesterov momentum in the Muon step.
   * @default true
   */
  nesterov?: boolean;
  /**
   * Variables with "embedding" in their path take the AdamW step.
   * @default true
   */
  excludeEmbeddings?: boolean;
  /**
   * Weight decay of the variables that take the AdamW step (null: none).
   * @default 0.004
   */
  adamWeightDecay?: number | null;
  /**
   * The Muon update is scaled by `sqrt(max(rows, cols)) * rmsRate` (null: not scaled).
   * @default 0.2
   */
  rmsRate?: number | null;
}

/** Muon's Keras 3 config, as `getConfig()` returns it. */
export type MuonConfig = Keras3BaseConfig & {
  /** {@link MuonOptions.adamBeta1}. */
  adam_beta_1: number;
  /** {@link MuonOptions.adamBeta2}. */
  adam_beta_2: number;
  /** {@link MuonOptions.epsilon}. */
  epsilon: number;
  /** {@link MuonOptions.excludeLayers}. */
  exclude_layers: string[];
  /** {@link MuonOptions.muonA}. */
  muon_a: number;
  /** {@link MuonOptions.muonB}. */
  muon_b: number;
  /** {@link MuonOptions.muonC}. */
  muon_c: number;
  /** {@link MuonOptions.adamLrRatio}. */
  adam_lr_ratio: number;
  /** {@link MuonOptions.momentum}. */
  momentum: number;
  /** {@link MuonOptions.nsSteps}. */
  ns_steps: number;
  /** {@link MuonOptions.nesterov}. */
  nesterov: boolean;
  /** {@link MuonOptions.excludeEmbeddings}. */
  exclude_embeddings: boolean;
  /** {@link MuonOptions.adamWeightDecay}. */
  adam_weight_decay: number | null;
  /** {@link MuonOptions.rmsRate}. */
  rms_rate: number | null;
};

/** Keras 3's order of Muon's keys in `get_config` (after the base keys). */
const ORDER = [
  'adam_beta_1',
  'adam_beta_2',
  'epsilon',
  'exclude_layers',
  'muon_a',
  'muon_b',
  'muon_c',
  'adam_lr_ratio',
  'momentum',
  'ns_steps',
  'nesterov',
  'exclude_embeddings',
  'adam_weight_decay',
  'rms_rate',
] as const;

/** `exclude_layers` read once: a list of strings (None: empty), each compiled. */
function readPatterns(v: unknown): RegExp[] {
  if (v === null || v === undefined) return [];
  if (!Array.isArray(v)) throw new ArgumentError('InvalidArgument', `\`exclude_layers\` must be a list of strings, got ${describeValue(v)}`);
  return Array.from(v as unknown[], (p, i) => {
    if (typeof p !== 'string') throw new ArgumentError('InvalidArgument', `exclude_layers[${i}] is ${describeValue(p)}, not a string`);
    try {
      return new RegExp(p);
    } catch (e) {
      throw new ArgumentError('InvalidArgument', `exclude_layers[${i}]: ${JSON.stringify(p)} is not a valid regular expression (${(e as Error).message})`);
    }
  });
}

const SPEC: Keras3Spec = {
  className: 'Muon',
  config: [
    ['learning_rate', 0.001],
    ['adam_beta_1', 0.9],
    ['adam_beta_2', 0.999],
    ['epsilon', 1e-7],
    ['muon_a', 3.4445],
    ['muon_b', -4.775],
    ['muon_c', 2.0315],
    ['adam_lr_ratio', 1],
    ['momentum', 0.95],
    ['ns_steps', 5],
    ['nesterov', true],
    ['exclude_embeddings', true],
    ['adam_weight_decay', 0.004],
    ['rms_rate', 0.2],
  ],
  extra: [['exclude_layers', []]],
  nullable: ['adam_weight_decay', 'rms_rate'],
  weightDecay: 0.004,
  slots: [{ name: 'momentum' }, { name: 'velocity' }],
  check: (c) => {
    readPatterns(c.exclude_layers);
    const n = c.ns_steps as number;
    if (!Number.isInteger(n) || n < 0) throw new ArgumentError('InvalidArgument', `\`ns_steps\` must be an integer >= 0. Received: ns_steps=${n}`);
  },
};

/**
 * Muon: momentum orthogonalized by Newton–Schulz iterations for exactly-2-D variables, AdamW for
 * the others (and for embeddings and the `excludeLayers` patterns' variables, as Keras decides).
 *
 * @example
 * ```ts
 * await ready();
 * const w = new Variable(new Float32Array(6).fill(0.5), { shape: [2, 3], name: 'dense/kernel' });
 * const opt = new Muon({ learningRate: 0.02, excludeLayers: ['head'] });
 * opt.applyGradients([[new Float32Array([0.1, -0.2, 0.3, 0.4, -0.5, 0.6]), w]]);
 * ```
 */
export class Muon extends BuiltinOptimizer<MuonOptions, MuonConfig> {
  /** How the base class sees the class: Keras class name, config defaults, slots. */
  static readonly spec: Keras3Spec = SPEC;
  private readonly patterns: RegExp[];
  private readonly excludeLayersGiven: string[];
  /**
   * @param options - See {@link MuonOptions}.
   */
  constructor(options?: MuonOptions) {
    super(options);
    const layers = super.getConfig().exclude_layers;
    this.patterns = readPatterns(layers);
    this.excludeLayersGiven = layers === null || layers === undefined ? [] : [...(layers as string[])];
  }
  /** {@link MuonOptions.adamBeta1}. */
  declare adamBeta1: number;
  /** {@link MuonOptions.adamBeta2}. */
  declare adamBeta2: number;
  /** {@link MuonOptions.epsilon}. */
  declare epsilon: number;
  /** {@link MuonOptions.muonA}. */
  declare muonA: number;
  /** {@link MuonOptions.muonB}. */
  declare muonB: number;
  /** {@link MuonOptions.muonC}. */
  declare muonC: number;
  /** {@link MuonOptions.adamLrRatio}. */
  declare adamLrRatio: number;
  /** {@link MuonOptions.momentum}. */
  declare momentum: number;
  /** {@link MuonOptions.nsSteps}. */
  declare nsSteps: number;
  /** {@link MuonOptions.nesterov} (fixed at construction). */
  declare readonly nesterov: boolean;
  /** {@link MuonOptions.excludeEmbeddings} (fixed at construction). */
  declare readonly excludeEmbeddings: boolean;

  /** {@link MuonOptions.excludeLayers} (fixed at construction). */
  get excludeLayers(): string[] {
    return [...this.excludeLayersGiven];
  }

  /** Marks the variables the patterns find (on their Keras path) before the optimizer builds. */
  private sendLayerExclusions(vars: readonly Variable[]): void {
    if (this.built) return;
    const handles: number[] = [];
    for (const v of vars) if (this.patterns.some((p) => p.test(v.name))) handles.push(v.handleIndex, v.handleGeneration);
    call(() => core().optimizer_set_layer_exclusions(this.id, Uint32Array.from(handles)));
  }

  /** @internal */
  protected override checkStepVariables(variables: readonly Variable[], n: number): void {
    this.sendLayerExclusions(variables.slice(0, n));
    super.checkStepVariables(variables, n);
  }

  override build(vars: readonly Variable[]): void {
    this.sendLayerExclusions(Array.from(vars));
    super.build(vars);
  }

  /** @internal */
  override restoreSlotLayout(vars: readonly Variable[], batches: readonly number[]): void {
    this.sendLayerExclusions(vars);
    super.restoreSlotLayout(vars, batches);
  }

  /** Keras 3's `get_config()` (Muon's keys in Keras' order; None as null). */
  override getConfig(): MuonConfig {
    const c = super.getConfig();
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(c)) if (!(ORDER as readonly string[]).includes(k)) out[k] = v;
    for (const k of ORDER) out[k] = typeof c[k] === 'number' && Number.isNaN(c[k]) ? null : k === 'exclude_layers' ? this.excludeLayers : c[k];
    return out as MuonConfig;
  }
}
