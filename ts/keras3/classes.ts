// The Keras 3 optimizer classes of `simdopt/keras3`, in Keras' order: `deserialize`, `get` and
// the tests iterate this list. Adding a class: its rule in the core's registry (family keras3),
// its file in ./optimizers/, an entry here and in index.ts, its fixture replays.
import type { Optimizer } from './optimizer.js';
import type { Keras3Spec } from './options.js';
import { SGD } from './optimizers/sgd.js';
import { RMSprop } from './optimizers/rmsprop.js';
import { Adam } from './optimizers/adam.js';
import { AdamW } from './optimizers/adamw.js';
import { Adagrad } from './optimizers/adagrad.js';
import { Adadelta } from './optimizers/adadelta.js';
import { Adamax } from './optimizers/adamax.js';
import { Nadam } from './optimizers/nadam.js';
import { Ftrl } from './optimizers/ftrl.js';
import { Lion } from './optimizers/lion.js';
import { Lamb } from './optimizers/lamb.js';
import { Adafactor } from './optimizers/adafactor.js';
import { Muon } from './optimizers/muon.js';
import { ScheduleFreeAdamW } from './optimizers/schedule-free-adamw.js';

/** A Keras 3 optimizer class: constructible from options, described by its `spec`. */
export interface Keras3OptimizerClass {
  new (options?: Record<string, unknown>): Optimizer;
  /** Its Keras class name, config defaults and slots. */
  readonly spec: Keras3Spec;
  /** Keras 3's `from_config`. */
  fromConfig(config: Record<string, unknown>, customObjects?: Record<string, unknown>): Optimizer;
}

/** The Keras 3 optimizer classes, in Keras' order. */
export const keras3Classes: readonly Keras3OptimizerClass[] = Object.freeze([
  SGD,
  RMSprop,
  Adam,
  AdamW,
  Adagrad,
  Adadelta,
  Adamax,
  Nadam,
  Ftrl,
  Lion,
  Lamb,
  Adafactor,
  Muon,
  ScheduleFreeAdamW,
] as unknown as Keras3OptimizerClass[]);
