// The Keras 3 optimizer classes of `simdopt/keras3`, in Keras' order: `deserialize`, `get` and
// the tests iterate this list. Adding a class: its rule in the core's registry (family keras3),
// its file in ./optimizers/, an entry here and in index.ts, its fixture replays.
import type { Optimizer } from './optimizer.js';
import type { Keras3Spec } from './options.js';
import { Lion } from './optimizers/lion.js';

/** A Keras 3 optimizer class: constructible from options, described by its `spec`. */
export interface Keras3OptimizerClass {
  new (options?: Record<string, unknown>): Optimizer;
  /** Its Keras class name, config defaults and slots. */
  readonly spec: Keras3Spec;
  /** Keras 3's `from_config`. */
  fromConfig(config: Record<string, unknown>, customObjects?: Record<string, unknown>): Optimizer;
}

/** The Keras 3 optimizer classes, in Keras' order. */
export const keras3Classes: readonly Keras3OptimizerClass[] = Object.freeze([Lion] as unknown as Keras3OptimizerClass[]);
