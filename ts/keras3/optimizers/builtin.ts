// What every built-in class of simdopt/keras3 shares: it is made from the `spec` it declares
// (Keras class name, config keys and defaults, slots, checks: options.ts reads and checks the
// options by it), and its options and config types type its constructor and `getConfig()`.
import { Optimizer } from '../optimizer.js';
import type { Keras3Spec } from '../options.js';
import type { Keras3BaseConfig, Keras3BaseOptions } from '../types.js';

/**
 * A built-in Keras 3 class: constructed from its static `spec` with options of type `Options`;
 * `getConfig()` returns a `Config`. A class adds its hyperparameters' accessors (as `declare`d
 * fields: the base class defines them from the spec).
 */
export abstract class BuiltinOptimizer<Options extends Keras3BaseOptions, Config extends Keras3BaseConfig> extends Optimizer {
  /**
   * @param options - The class's options: Keras 3's arguments in camelCase, plus those of every optimizer.
   */
  constructor(options?: Options) {
    super((new.target as unknown as { readonly spec: Keras3Spec }).spec, options as Record<string, unknown> | undefined);
  }

  /** Keras 3's `get_config()`. */
  override getConfig(): Config {
    return super.getConfig() as Config;
  }
}
