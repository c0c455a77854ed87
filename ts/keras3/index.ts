// simdopt/keras3: Keras 3's optimizers (pinned to Keras 3.15.1) with Keras 3's formulas, base
// options and config format, on the same wasm core as the root entry's TF 2.4 classes. Load the
// core first with `ready()` from `simdopt` (or `simdopt/slim`); tensors and errors come from there.
import { setKeras3Loader } from '../serialization.js';
import { deserialize } from './serialization.js';
import type { Keras3Serialized } from './schedules/index.js';
export { Optimizer } from './optimizer.js';
export type { OptimizerVariable, WeightPath } from './weights.js';
export type { Keras3BaseOptions, Keras3BaseConfig, Keras3Value } from './types.js';
export type { Keras3Spec } from './options.js';
export { serialize, deserialize, get, toKerasJson } from './serialization.js';
export type { SerializedOptimizer, AnyOptimizer } from './serialization.js';
export type { SerializedFunction } from './nested.js';
export * from './schedules/index.js';
export { keras3Classes } from './classes.js';
export type { Keras3OptimizerClass } from './classes.js';
export { clearSession } from './names.js';
export { Lion } from './optimizers/lion.js';
export type { LionOptions, LionConfig } from './optimizers/lion.js';
export { LossScaleOptimizer } from './wrappers/loss-scale-optimizer.js';
export type { LossScaleOptimizerOptions, LossScaleOptimizerConfig } from './wrappers/loss-scale-optimizer.js';
export { MultiOptimizer } from './wrappers/multi-optimizer.js';
export type { MultiOptimizerOptions, MultiOptimizerConfig, SerializedOptimizerMap } from './wrappers/multi-optimizer.js';
export { OptimizerMap } from './wrappers/optimizer-map.js';
export { OptimizerWrapper } from './wrappers/shared.js';
export type { OptimizerMapConfig } from './wrappers/optimizer-map.js';

// Importing this entry lets the root entry's deserialize / get load Keras 3 configs too (the
// root does not import the Keras 3 family itself: its bundles stay TF 2.4-only).
setKeras3Loader({ deserialize: (serialized, customObjects) => deserialize(serialized as unknown as Keras3Serialized, customObjects) });
