// simdopt/keras3: Keras 3's optimizers (pinned to Keras 3.15.1) with Keras 3's formulas, base
// options and config format, on the same wasm core as the root entry's TF 2.4 classes. Load the
// core first with `ready()` from `simdopt` (or `simdopt/slim`); tensors and errors come from there.
export { Optimizer } from './optimizer.js';
export { registerKerasSerializable } from './registration.js';
export type { Registration } from './registration.js';
export type { AddVariableOptions } from './custom.js';
export type { OptimizerVariable, WeightPath } from './weights.js';
export type { Keras3BaseOptions, Keras3BaseConfig, Keras3Value } from './types.js';
export type { Keras3Spec } from './options.js';
export type { MomentOptions, MomentConfig } from './optimizers/moments.js';
import { setKeras3Loader } from '../serialization.js';
import type { Serialized } from '../schedules/index.js';
import { deserialize, serialize } from './serialization.js';
import { setOptimizerCodec } from './wrappers/shared.js';

// The root entry's deserialize/get (and checkpoints) hand Keras 3 configs to this entry once it
// is imported (the root entry itself stays TF 2.4's: this module has that side effect).
setKeras3Loader({
  deserialize: (s, customObjects) => deserialize(s as Parameters<typeof deserialize>[0], customObjects),
  serialize: (optimizer) => serialize(optimizer as Parameters<typeof serialize>[0]) as unknown as Serialized,
});
// The wrappers (de)serialize the optimizers they hold with these (serialization.ts imports the
// wrappers, so they cannot import it back without a module cycle).
setOptimizerCodec({ serialize, deserialize: (config, customObjects) => deserialize(config, customObjects) });

export { serialize, deserialize, get, toKerasJson } from './serialization.js';
export type { SerializedOptimizer, AnyOptimizer } from './serialization.js';
export type { SerializedFunction } from './nested.js';
export * from './schedules/index.js';
export { keras3Classes } from './classes.js';
export type { Keras3OptimizerClass } from './classes.js';
export { clearSession } from './names.js';
export { SGD } from './optimizers/sgd.js';
export type { SGDOptions, SGDConfig } from './optimizers/sgd.js';
export { RMSprop } from './optimizers/rmsprop.js';
export type { RMSpropOptions, RMSpropConfig } from './optimizers/rmsprop.js';
export { Adam } from './optimizers/adam.js';
export type { AdamOptions, AdamConfig } from './optimizers/adam.js';
export { AdamW } from './optimizers/adamw.js';
export type { AdamWOptions, AdamWConfig } from './optimizers/adamw.js';
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
export { Lion } from './optimizers/lion.js';
export type { LionOptions, LionConfig } from './optimizers/lion.js';
export { Lamb } from './optimizers/lamb.js';
export type { LambOptions, LambConfig } from './optimizers/lamb.js';
export { Adafactor } from './optimizers/adafactor.js';
export type { AdafactorOptions, AdafactorConfig } from './optimizers/adafactor.js';
export { Muon } from './optimizers/muon.js';
export type { MuonOptions, MuonConfig } from './optimizers/muon.js';
export { ScheduleFreeAdamW } from './optimizers/schedule-free-adamw.js';
export type { ScheduleFreeAdamWOptions, ScheduleFreeAdamWConfig } from './optimizers/schedule-free-adamw.js';
export { LossScaleOptimizer } from './wrappers/loss-scale-optimizer.js';
export type { LossScaleOptimizerOptions, LossScaleOptimizerConfig } from './wrappers/loss-scale-optimizer.js';
export { MultiOptimizer } from './wrappers/multi-optimizer.js';
export type { MultiOptimizerOptions, MultiOptimizerConfig, SerializedOptimizerMap } from './wrappers/multi-optimizer.js';
export { OptimizerMap } from './wrappers/optimizer-map.js';
export type { OptimizerMapConfig } from './wrappers/optimizer-map.js';
export { OptimizerWrapper } from './wrappers/shared.js';
