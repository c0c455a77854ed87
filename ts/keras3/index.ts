// simdopt/keras3: Keras 3's optimizers (pinned to Keras 3.15.1) with Keras 3's formulas, base
// options and config format, on the same wasm core as the root entry's TF 2.4 classes. Load the
// core first with `ready()` from `simdopt` (or `simdopt/slim`); tensors and errors come from there.
export { Optimizer } from './optimizer.js';
export type { OptimizerVariable, WeightPath } from './weights.js';
export type { Keras3BaseOptions, Keras3BaseConfig, Keras3Value } from './types.js';
export type { Keras3Spec } from './options.js';
export { serialize, deserialize, get, toKerasJson } from './serialization.js';
export type { SerializedOptimizer } from './serialization.js';
export type { SerializedFunction } from './nested.js';
export * from './schedules/index.js';
export { keras3Classes } from './classes.js';
export type { Keras3OptimizerClass } from './classes.js';
export { clearSession } from './names.js';
export { Lion } from './optimizers/lion.js';
export type { LionOptions, LionConfig } from './optimizers/lion.js';
