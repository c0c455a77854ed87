// The API of `simdopt` and `simdopt/slim`, all but `ready()`: the two entry points differ only in
// where `ready()` takes the WebAssembly from (index.ts: embedded; slim.ts: `.wasm` files), and
// a bundle of `simdopt/slim` must not reach the embedded copies (esbuild keeps every dynamic
// import it sees, used or not).
export { backend, simdSupported, memoryBytes, stats, coreFailure } from './wasm/loader.js';
export type { Backend, ReadyOptions, ThreadsOption, WasmSource, CoreStats } from './wasm/loader.js';
export * from './errors.js';
export { Tensor, Variable, IndexedSlices, WasmTensor } from './tensor.js';
export type { Shape, TensorValues, TensorOptions, VariableOptions, Constraint } from './tensor.js';
export { Optimizer, SlotVariable } from './optimizer/index.js';
export type {
  HyperValue,
  BaseOptimizerConfig,
  ConfigDefault,
  Gradient,
  BaseOptimizerOptions,
  ApplyGradientsOptions,
  StepResult,
  NonFiniteStep,
  WeightValue,
  OptimizerSpec,
  SlotSpec,
  HookGradient,
  GradsAndVars,
  GradientTransformer,
  GradientAggregator,
  GradientSource,
  MinimizeOptions,
  ApplyState,
  Initializer,
  SlotDtype,
  RawSlotWeight,
  RawBfloat16Slot,
  RawInt8Slot,
} from './optimizer/index.js';
export { finiteDifferenceGradients, finiteDifferences } from './gradients.js';
export type { LossFunction, FiniteDifferenceOptions } from './gradients.js';
export { LearningRateSchedule, registerSchedule, serializeSchedule, deserializeSchedule } from './schedules/index.js';
export type { Serialized } from './schedules/index.js';
export {
  ExponentialDecay,
  PiecewiseConstantDecay,
  PolynomialDecay,
  InverseTimeDecay,
  CosineDecay,
  CosineDecayRestarts,
  LinearCosineDecay,
  NoisyLinearCosineDecay,
} from './schedules/index.js';
export type {
  ExponentialDecayOptions,
  ExponentialDecayConfig,
  PiecewiseConstantDecayOptions,
  PiecewiseConstantDecayConfig,
  PolynomialDecayOptions,
  PolynomialDecayConfig,
  InverseTimeDecayOptions,
  InverseTimeDecayConfig,
  CosineDecayOptions,
  CosineDecayConfig,
  CosineDecayRestartsOptions,
  CosineDecayRestartsConfig,
  LinearCosineDecayOptions,
  LinearCosineDecayConfig,
  NoisyLinearCosineDecayOptions,
  NoisyLinearCosineDecayConfig,
} from './schedules/index.js';
export { serialize, deserialize, get } from './serialization.js';
export { optimizerClasses, declaredSlots } from './optimizers/index.js';
export type { BuiltinOptimizerClass } from './optimizers/index.js';
export { saveState, loadState, saveCheckpoint, restoreCheckpoint, encodeCheckpoint, decodeCheckpoint, sealCheckpoint } from './checkpoint.js';
export type { OptimizerState, Checkpoint, SlotVariableInfo } from './checkpoint.js';
export { SGD } from './optimizers/sgd.js';
export type { SGDOptions, SGDConfig } from './optimizers/sgd.js';
export { Adam } from './optimizers/adam.js';
export type { AdamOptions, AdamConfig } from './optimizers/adam.js';
/** `RMSProp` is Keras' alias of the `RMSprop` class. */
export { RMSprop, RMSprop as RMSProp } from './optimizers/rmsprop.js';
export type { RMSpropOptions, RMSpropConfig } from './optimizers/rmsprop.js';
export { Adagrad } from './optimizers/adagrad.js';
export type { AdagradOptions, AdagradConfig } from './optimizers/adagrad.js';
export { Adadelta } from './optimizers/adadelta.js';
export type { AdadeltaOptions, AdadeltaConfig } from './optimizers/adadelta.js';
export { Adamax } from './optimizers/adamax.js';
export type { AdamaxOptions, AdamaxConfig } from './optimizers/adamax.js';
export { Nadam } from './optimizers/nadam.js';
export type { NadamOptions, NadamConfig } from './optimizers/nadam.js';
export { Ftrl } from './optimizers/ftrl.js';
export type { FtrlOptions, FtrlConfig } from './optimizers/ftrl.js';
