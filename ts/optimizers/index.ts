// The registry: the one list of the built-in optimizer classes (TF 2.4's, at the package root),
// in Keras' order. Each class carries its description (`spec`: Keras class name, config keys and
// defaults, the hyperparameter and flag table, its slots); serialization, the tests and the
// fixture replays iterate this list, and tests/registry.test.ts checks it against the core's
// registry. Adding an optimizer: its rule (crates/simdopt-core), its class file here, an entry
// below, its tests (CONTRIBUTING.md).
import type { Optimizer, OptimizerSpec, SlotSpec } from '../optimizer/index.js';
import { SGD } from './sgd.js';
import { RMSprop } from './rmsprop.js';
import { Adam } from './adam.js';
import { Adagrad } from './adagrad.js';
import { Adadelta } from './adadelta.js';
import { Adamax } from './adamax.js';
import { Nadam } from './nadam.js';
import { Ftrl } from './ftrl.js';

/** A built-in optimizer class: constructible from options, and described by its `spec`. */
export interface BuiltinOptimizerClass {
  new (options?: Record<string, unknown>): Optimizer;
  /** Its Keras class name, config defaults and slots. */
  readonly spec: OptimizerSpec;
  /** Keras' `from_config`. */
  fromConfig(config: Record<string, unknown>, customObjects?: Record<string, unknown>): Optimizer;
}

/** The built-in optimizer classes (Keras' `tf.keras.optimizers`), in Keras' order. */
export const optimizerClasses: readonly BuiltinOptimizerClass[] = Object.freeze([SGD, RMSprop, Adam, Adagrad, Adadelta, Adamax, Nadam, Ftrl] as unknown as BuiltinOptimizerClass[]);

/** The slots a class declares for a constructor config (Keras keys; absent keys take the
 * defaults), in creation order. */
export function declaredSlots(spec: OptimizerSpec, config: Readonly<Record<string, unknown>> = {}): string[] {
  const values: Record<string, unknown> = Object.fromEntries(spec.config);
  for (const [k, v] of Object.entries(config)) if (v !== undefined) values[k] = v;
  return (spec.slots ?? []).filter((s: SlotSpec) => !s.when || s.when(values as Parameters<NonNullable<SlotSpec['when']>>[0])).map((s) => s.name);
}
