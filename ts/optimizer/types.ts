// The public types of the optimizer API: hyperparameter values, gradients and the hooks that
// see them, options, step results, weights and the description of an optimizer class.
import type { IndexedSlices, Tensor, Variable } from '../tensor.js';
import type { LearningRateSchedule, Serialized } from '../schedules/index.js';
import type { Optimizer } from './optimizer.js';

/** A hyperparameter: a number, a zero-argument function called at each step, or (for the
 * learning rate) a schedule called with the iteration. */
export type HyperValue = number | (() => number) | LearningRateSchedule;

/** A gradient: values (copied into WASM memory), a WASM-side {@link Tensor} (no copy), a sparse
 * {@link IndexedSlices} (its rows copied, or read in place when they are a Tensor), or
 * null/undefined for a variable without a gradient (skipped). */
export type Gradient = Float32Array | readonly number[] | Tensor | IndexedSlices<Float32Array | Tensor> | null | undefined;

/** A gradient as the gradient hooks and custom optimizers see it. */
export type HookGradient = Float32Array | IndexedSlices;

/** `[gradient, variable]` pairs as the gradient hooks receive them (no null gradients). */
export type GradsAndVars = Array<[HookGradient, Variable]>;

/** Keras' `gradient_transformers` entry: `fn(grads_and_vars) -> grads_and_vars`. It must return
 * one pair per pair given, for the same variables in the same order. */
export type GradientTransformer = (gradsAndVars: GradsAndVars) => ReadonlyArray<readonly [HookGradient | readonly number[], Variable]>;

/** Keras' `gradient_aggregator`: `fn(grads_and_vars) -> grads_and_vars`, run first (only when
 * `experimentalAggregateGradients` is true). Same contract as a {@link GradientTransformer}. */
export type GradientAggregator = GradientTransformer;

/**
 * Where `minimize` gets its loss value and gradients (JavaScript has no autodiff). It must
 * evaluate the loss first, then resolve the variables with `varList()` (Keras' order: a callable
 * `var_list` may create variables during the first loss evaluation), then compute one gradient
 * per variable, in `varList()` order.
 */
export type GradientSource<L = any> = (
  loss: L,
  varList: () => readonly Variable[],
) => {
  /** The loss, evaluated once. */
  loss: number;
  /** One gradient per variable, in order. */
  grads: readonly Gradient[];
};

/** Options of `minimize`: a gradient source plus those of `applyGradients`. */
export interface MinimizeOptions<L = any> extends ApplyGradientsOptions {
  /** The gradient source of this call (else the optimizer's `gradientSource`). */
  gradientSource?: GradientSource<L>;
}

/** What `resourceApplyDense` / `resourceApplySparse` of a custom optimizer receive besides the
 * gradient: Keras' `apply_state` for the step. Custom entries may be added by `prepareLocal`. */
export interface ApplyState {
  /** The step's learning rate (schedule called with `iterations`, legacy `decay` applied), f32. */
  lrT: number;
  /** `iterations` before this step's increment (Keras' `t`). */
  iterations: number;
  [key: string]: unknown;
}

/** A variable that has slots in an optimizer (as checkpoints save it). */
export interface SlotVariableInfo {
  /** The variable's name when its slots were made (it is part of the weight names). */
  name: string;
  /** Its shape, or null if it had been disposed when the state was saved. */
  shape: number[] | null;
  /** Its number of elements (= of each of its slots). */
  size: number;
}

/** An initializer of `addSlot` / `addWeight`: a constant, `'zeros'`, `'ones'`, or a function of
 * the shape returning the values (or a constant). */
export type Initializer = number | 'zeros' | 'ones' | ((shape: readonly number[]) => ArrayLike<number> | number);

/** Options every optimizer takes (Keras' base keyword arguments, in camelCase). */
export interface BaseOptimizerOptions {
  /**
   * The optimizer's name; weight names start with it.
   * @default the class name (`'Adam'`)
   */
  name?: string;
  /** Keras' `gradient_aggregator` (see {@link GradientAggregator}). Not part of the config. */
  gradientAggregator?: GradientAggregator | null;
  /** Keras' `gradient_transformers`, run in list order after clipping; exclusive with the clip
   * options. Not part of the config. */
  gradientTransformers?: readonly GradientTransformer[] | null;
  /** Clip each gradient element to [-clipvalue, clipvalue]. */
  clipvalue?: number;
  /** Clip each gradient to this L2 norm. */
  clipnorm?: number;
  /** Clip all gradients of a step together to this global L2 norm. */
  globalClipnorm?: number;
  /** Legacy inverse-time decay: lr / (1 + decay * iterations). */
  decay?: number;
  /** Legacy alias of `learningRate`; wins over it, as in Keras. */
  lr?: HyperValue;
  /**
   * How the moment slots are stored: `'float32'` (Keras' numbers), `'bfloat16'` or `'int8'`
   * (block-wise 8-bit, as bitsandbytes' 8-bit optimizers); variables under 4,096 elements keep
   * f32 slots. For Adam, SGD with momentum, RMSprop, Adagrad, Adamax, Nadam (and, in
   * `simdopt/keras3`, their Keras 3 forms, AdamW and Lion); others throw a ConfigError
   * (`UnsupportedSlotDtype`). Not part of the Keras config; checkpoints keep it.
   * @default 'float32'
   */
  slotDtype?: 'float32' | 'bfloat16' | 'int8';
}

/** Per-call options of `applyGradients`. */
export interface ApplyGradientsOptions {
  /** Keras' `experimental_aggregate_gradients`; with a single replica it changes nothing. */
  experimentalAggregateGradients?: boolean;
  /** Check every gradient for NaN and ±Infinity first (one read pass in the core) and, if any
   * has one, skip the whole step: no variable, slot or `iterations` changes. Defaults to the
   * optimizer's `skipNonFinite` property (false: non-finite values propagate, as in Keras). */
  skipNonFinite?: boolean;
  /** Called when this step is skipped (instead of the optimizer's `onNonFinite`). */
  onNonFinite?: (step: NonFiniteStep) => void;
}

/** What `applyGradients` did. */
export interface StepResult {
  /** False only when the step was skipped for non-finite gradients (`skipNonFinite`). */
  readonly applied: boolean;
  /** Positions, in the list given, of the gradients that hold NaN or ±Infinity (empty when applied). */
  readonly nonFiniteIndices: readonly number[];
  /** The variables of those gradients. */
  readonly nonFiniteVariables: readonly Variable[];
}

/** A step skipped for non-finite gradients, as `onNonFinite` receives it. */
export interface NonFiniteStep extends StepResult {
  /** The optimizer that skipped the step. */
  readonly optimizer: Optimizer;
  /** `iterations`, unchanged by the skipped step. */
  readonly iterations: number;
}

/** One Keras config entry of an optimizer: its snake_case key and default. */
export type ConfigDefault = number | boolean;

/** A weight as `getWeights` returns it: iterations as int64, every other weight as f32. */
export type WeightValue = Float32Array | BigInt64Array;

/** Describes an optimizer class for the generic machinery below. */
export interface OptimizerSpec {
  /** Keras class name. */
  className: string;
  /** Config keys after `name` and the clip keys, in Keras' get_config order, with defaults.
   * Numbers are hyperparameters (settable, may be functions); booleans are fixed flags. */
  config: ReadonlyArray<readonly [string, ConfigDefault]>;
  /** Whether the legacy `lr` option is honoured (Keras' Ftrl ignores it). */
  acceptsLr?: boolean;
  /** Keras' `_momentum` flag: a function `momentum` selects the momentum kernel (SGD, RMSprop). */
  callableMomentum?: boolean;
  /** How `setWeights` reads a Keras-1 weight list (see `KERAS1_WEIGHTS`). */
  keras1Weights?: (ws: unknown[], expected: number) => unknown[];
  /** The slots the class keeps per variable, in creation order (the built-ins declare them; the
   * core makes them, and a test checks the two agree). */
  slots?: readonly SlotSpec[];
}

/** A slot an optimizer keeps for each variable, shaped like it. */
export interface SlotSpec {
  /** Keras' slot name (`m`, `vhat`, `accumulator`). */
  name: string;
  /** Whether the constructor's config makes it (absent: always), e.g. Adam's `vhat` only with
   * `amsgrad`. A function hyperparameter is passed as the function. */
  when?: (config: Readonly<Record<string, HyperValue | boolean>>) => boolean;
}

/** What every built-in optimizer's `getConfig()` holds (Keras' snake_case keys); each class
 * adds its own (`AdamConfig`, ...). A function hyperparameter is written as its current value,
 * a schedule as its `{class_name, config}`. */
export type BaseOptimizerConfig = {
  /** The optimizer's name. */
  name: string;
  /** Present when set. */
  clipnorm?: number;
  /** Present when set. */
  clipvalue?: number;
  /** Present when set. */
  global_clipnorm?: number;
  /** The learning rate, or its schedule. */
  learning_rate: number | Serialized;
  /** The legacy learning-rate decay (Nadam: the schedule decay). */
  decay: number;
};
