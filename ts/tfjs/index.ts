// simdopt/tfjs: any simdopt optimizer as a TensorFlow.js `tf.Optimizer`, so tfjs-layers'
// `model.compile({optimizer})` / `model.fit`, `optimizer.minimize(f)` and custom loops over
// `tf.variableGrads` update tfjs variables with simdopt's (Keras 2.4) update rules.
//
// This is the only module of the package that imports @tensorflow/tfjs-core (an optional peer
// dependency); the main entry point never does.
//
// Each step: the gradient of each tfjs variable is read where the backend keeps it (the cpu
// backend's array, the wasm backend's heap: no copy; on GPU backends one readback for all),
// simdopt applies all of them to simdopt Variables that mirror the tfjs variables in one call
// into wasm (large gradients streamed into its core), and each updated value is written back
// into the variable's own array on the cpu backend, else with `variable.assign` (on the wasm
// backend from simdopt's memory straight into tfjs' heap). See memory.ts. Every tensor the
// adapter creates is disposed.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, Optimizer, StateError, Variable, WeightsError, deserialize, get, serialize } from '../api.js';
import type { Gradient, GradientSource, Serialized } from '../api.js';
import type { RawInt8Slot } from '../api.js';
import { readNumbers } from '../values.js';
import { BackendMemory, currentBackend, soleOwner, valuesInPlace, warnGpuOnce } from './memory.js';
import { RawSlotPart, int8Slots, isRawSlotName, rawSlotTensors, readRawSlots } from './raw-slots.js';

/** `{name, tensor}` (tfjs-core's NamedTensor, which its index does not export). */
/** A weight as tfjs' `Optimizer.getWeights()` returns it. */
export interface NamedTensor {
  /** Keras' weight name (`Adam/dense/kernel/m:0`, ...). */
  name: string;
  /** Its values (owned by the adapter: disposed by the next `getWeights()`). */
  tensor: tf.Tensor;
}

/** The Keras config of the wrapped optimizer as `getConfig` stores it (snake_case keys), and
 * `slot_dtype` (`'bfloat16'` or `'int8'`) when its `slotDtype` is not float32. */
export interface TfjsOptimizerConfig extends tf.serialization.ConfigDict {
  /** `{ class_name, config }` of the wrapped optimizer (Keras' format). */
  optimizer: tf.serialization.ConfigDict;
}

/** Options of {@link toTfjs} and the {@link TfjsOptimizer} constructor. */
export interface TfjsOptimizerOptions {
  /**
   * `dispose()` also disposes the wrapped simdopt optimizer.
   * @default true
   */
  disposeOptimizer?: boolean;
}

/** Where an adapter's steps spent their time, in milliseconds (`performance.now`). */
export interface TfjsStepStats {
  /** Steps applied (calls of `applyGradients` that updated at least one variable). */
  steps: number;
  /** Reading gradients out of tfjs (and re-syncing mirrors a caller changed). */
  readMs: number;
  /** The simdopt step itself (one call into wasm for every variable). */
  coreMs: number;
  /** Writing the updated values back into the tfjs variables. */
  writeMs: number;
}

interface Mirror {
  /** The tfjs variable mirrored. */
  source: tf.Variable;
  /** simdopt's copy, updated in place by the optimizer. */
  variable: Variable;
  /** `source.dataId` after our last write; a different id means someone else assigned it. */
  dataId: unknown;
}

interface PendingWeights {
  iterations: number;
  /** The Keras weight names (iterations first). */
  names: string[];
  /** The weights after iterations (f32; the views of 8-bit slots). */
  values: Float32Array[];
  /** The 8-bit slots' codes and scales, by weight number. */
  raws: Map<number, RawInt8Slot>;
}

const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());

/**
 * A simdopt optimizer as a `tf.Optimizer`. Create it with {@link toTfjs} or `new TfjsOptimizer(opt)`.
 *
 * Mirrors of the tfjs variables are made lazily, the first time a variable gets a gradient, so
 * variables created after the first step are handled. If a tfjs variable is assigned by someone
 * else between steps (`model.setWeights`, `variable.assign`), its mirror is refreshed.
 *
 * Serialization fits tfjs-layers' `model.save(handler, {includeOptimizer: true})` and
 * `tf.loadLayersModel`: the class is registered under `'SimdoptOptimizer'`, `getConfig()` holds
 * the wrapped optimizer's Keras config, and `getWeights()`/`setWeights()` carry Keras' weight
 * list (iterations, then the slots). Weights set before the first step (as tfjs-layers does when
 * loading) are kept and restored at the first step, once the variables are known.
 */
export class TfjsOptimizer extends tf.Optimizer {
  /** The name under which tfjs-layers saves and finds this class. */
  static readonly className = 'SimdoptOptimizer';

  /** The wrapped simdopt optimizer (its slots, config and iterations are the adapter's). */
  readonly optimizer: Optimizer;
  /** Time spent per phase of `applyGradients`, summed over steps. */
  readonly stats: TfjsStepStats = { steps: 0, readMs: 0, coreMs: 0, writeMs: 0 };

  private readonly mirrors = new Map<string, Mirror>();
  private readonly disposeOptimizer: boolean;
  private pending: PendingWeights | undefined;
  private weightTensors: tf.Tensor[] = [];
  private disposedAdapter = false;

  constructor(optimizer: Optimizer, options: TfjsOptimizerOptions = {}) {
    super();
    if (!(optimizer instanceof Optimizer)) {
      throw new ConfigError('InvalidConfig', 'TfjsOptimizer wraps a simdopt optimizer (new Adam({...}) etc.)');
    }
    registerTfjsOptimizer();
    this.optimizer = optimizer;
    this.disposeOptimizer = options.disposeOptimizer ?? true;
  }

  /** The wrapped optimizer's step count (Keras' `iterations`). */
  override get iterations(): number {
    return this.pending ? this.pending.iterations : this.optimizer.iterations;
  }

  /**
   * One step: applies `{name: gradient}` (or `[{name, tensor}]`) to the tfjs variables of those
   * names. Variables without a gradient (null/undefined) are skipped, as tfjs does.
   */
  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    this.live();
    const entries: Array<[string, tf.Tensor | null | undefined]> = Array.isArray(variableGradients)
      ? variableGradients.map((g) => [g.name, g.tensor] as [string, tf.Tensor])
      : Object.keys(variableGradients).map((name) => [name, variableGradients[name]] as [string, tf.Tensor]);

    const t0 = now();
    const memory = currentBackend();
    warnGpuOnce(memory);
    const grads: tf.Tensor[] = [];
    const touched: Mirror[] = [];
    const variables = tf.engine().registeredVariables;
    for (const [name, grad] of entries) {
      if (grad == null) continue;
      const source = variables[name];
      if (source == null) throw new StateError('InvalidState', `no tfjs variable named '${name}' is registered (disposed?)`);
      if (grad.dtype !== 'float32') throw new StateError('InvalidState', `the gradient of '${name}' is ${grad.dtype}; simdopt updates float32 variables`);
      touched.push(this.mirrorOf(source));
      grads.push(grad);
    }
    if (touched.length === 0) return;
    // The gradients are read last, when no more tfjs code runs before the step (a view of the
    // wasm backend's heap stays valid until tfjs allocates).
    const values = readGradients(memory, grads);
    const pairs = touched.map((m, i) => [values[i], m.variable] as [Gradient, Variable]);
    const t1 = now();
    if (this.pending) this.restorePending(pairs);
    this.optimizer.applyGradients(pairs);
    const t2 = now();
    for (const mirror of touched) writeBack(memory, mirror);
    const t3 = now();
    this.stats.steps++;
    this.stats.readMs += t1 - t0;
    this.stats.coreMs += t2 - t1;
    this.stats.writeMs += t3 - t2;
  }

  /** simdopt's mirror of a tfjs variable, or undefined before its first gradient. */
  mirror(variable: tf.Variable): Variable | undefined {
    const m = this.mirrors.get(variable.name);
    return m && m.source === variable ? m.variable : undefined;
  }

  private mirrorOf(source: tf.Variable): Mirror {
    let m = this.mirrors.get(source.name);
    if (m && m.source !== source) {
      // A variable of that name was disposed and a new one made: a new variable, new state.
      m.variable.dispose();
      m = undefined;
    }
    if (!m) {
      if (source.dtype !== 'float32') throw new StateError('InvalidState', `tfjs variable '${source.name}' is ${source.dtype}; simdopt updates float32 variables`);
      const variable = new Variable(source.dataSync() as Float32Array, { shape: source.shape, name: source.name, trainable: source.trainable });
      m = { source, variable, dataId: source.dataId };
      this.mirrors.set(source.name, m);
    } else if (m.dataId !== source.dataId) {
      m.variable.assign(source.dataSync() as Float32Array);
      m.dataId = source.dataId;
    }
    return m;
  }

  /** Weights set before the variables were known: create the slots with a step of zero
   * gradients (the variables are put back), then set them. */
  private restorePending(pairs: Array<[Gradient, Variable]>): void {
    const pending = this.pending!;
    this.pending = undefined;
    const expected = pending.values.length + 1;
    if (this.optimizer.getWeightNames().length !== expected) {
      const saved = pairs.map(([, v]) => v.read());
      this.optimizer.applyGradients(pairs.map(([, v]) => [new Float32Array(v.size), v] as [Gradient, Variable]));
      pairs.forEach(([, v], i) => v.assign(saved[i]));
    }
    const have = this.optimizer.getWeightNames().length;
    if (have !== expected) {
      throw new WeightsError(
        'WeightCount',
        `the restored optimizer weights (${expected}: ${pending.names.join(', ')}) do not fit the ${pairs.length} variables of this step, which need ${have}`,
      );
    }
    this.optimizer.setWeights([BigInt64Array.of(BigInt(pending.iterations)), ...pending.values.map((v, i) => pending.raws.get(i + 1) ?? v)]);
  }

  // ---- weights (tfjs-layers' save/load with includeOptimizer) ------------------------------

  /**
   * Keras' weight list as tfjs tensors: `iter` (int32 scalar: the step count the optimizer
   * saves, Keras 3's calls counted), then every slot, named as Keras names them
   * (`Adam/dense_Dense1/kernel/m:0`). With `slotDtype: 'int8'`, each 8-bit slot is its f32
   * view and, after all of them, its codes (`<name>:int8_codes`, four to an int32) and block
   * scales (`<name>:int8_absmax`), which `setWeights` restores exactly. The tensors belong to the
   * adapter: they stay valid until the next `getWeights`, `setWeights` or `dispose`, which
   * dispose them.
   */
  override async getWeights(): Promise<NamedTensor[]> {
    this.live();
    this.releaseWeightTensors();
    const out: NamedTensor[] = [];
    if (this.pending) {
      const p = this.pending;
      out.push({ name: p.names[0] ?? 'iter', tensor: tf.scalar(p.iterations, 'int32') });
      p.values.forEach((v, i) => out.push({ name: p.names[i + 1], tensor: tf.tensor(v.slice(), [v.length], 'float32') }));
      out.push(...rawSlotTensors(p.names, p.raws));
    } else {
      const names = this.optimizer.getWeightNames();
      const values = this.optimizer.getWeights();
      out.push({ name: names[0], tensor: tf.scalar(Number((values[0] as BigInt64Array)[0]), 'int32') });
      for (let i = 1; i < names.length; i++) {
        const v = values[i] as Float32Array;
        out.push({ name: names[i], tensor: tf.tensor(v, this.weightShape(names[i], v.length), 'float32') });
      }
      if (this.optimizer.slotDtype === 'int8') out.push(...rawSlotTensors(names, int8Slots(this.optimizer.getWeights({ raw: true }))));
    }
    this.weightTensors = out.map((w) => w.tensor);
    return out;
  }

  /** The shape of a slot: its variable's when the name says which and the size fits. */
  private weightShape(name: string, size: number): number[] {
    const prefix = `${this.optimizer.name}/`;
    if (name.startsWith(prefix)) {
      const rest = name.slice(prefix.length);
      const cut = rest.lastIndexOf('/');
      const m = cut > 0 ? this.mirrors.get(rest.slice(0, cut)) : undefined;
      if (m && m.variable.size === size) return [...m.source.shape];
    }
    return size === 1 ? [] : [size];
  }

  /**
   * Sets Keras' weight list (`iterations` first), with the 8-bit slots' codes and scales that
   * `getWeights` adds (exact; without them an 8-bit slot's f32 values are quantized). If the
   * optimizer has no slots for them yet (a model just loaded), they are kept and set at the first
   * step, when the variables are known.
   */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    this.live();
    this.releaseWeightTensors();
    // The list and each entry's name and tensor (and its dtype) are read once, before the first
    // await (other code may run at each await).
    const entries = Array.from(weightValues, (w) => {
      const tensor = w.tensor;
      return { name: w.name, tensor, dtype: tensor?.dtype };
    });
    if (entries.length === 0) throw new WeightsError('WeightCount', 'setWeights needs at least the iterations weight');
    const iterations = Number((await entries[0].tensor.data())[0]);
    if (!Number.isInteger(iterations) || iterations < 0) throw new WeightsError('WeightShape', `weight 0 (iterations) must be a non-negative integer, got ${iterations}`);
    const names = [entries[0].name];
    const values: Float32Array[] = [];
    const parts: RawSlotPart[] = [];
    for (let i = 1; i < entries.length; i++) {
      const { name, tensor, dtype } = entries[i];
      const { array } = readNumbers(await tensor.data(), `weight ${i} ('${name}')`);
      if (typeof name === 'string' && isRawSlotName(name)) {
        parts.push({ name, dtype: String(dtype), values: dtype === 'int32' ? Int32Array.from(array) : Float32Array.from(array) });
      } else {
        names.push(name);
        values.push(Float32Array.from(array));
      }
    }
    const raws = readRawSlots(names, values, parts);
    if (this.optimizer.getWeightNames().length === names.length) {
      this.pending = undefined;
      this.optimizer.setWeights([BigInt64Array.of(BigInt(iterations)), ...values.map((v, i) => raws.get(i + 1) ?? v)]);
    } else {
      this.pending = { iterations, names, values, raws };
    }
  }

  // ---- config ------------------------------------------------------------------------------

  /** `{optimizer: {class_name, config}}`: the wrapped optimizer in Keras' format, and its
   * `slot_dtype` beside it when not float32 (the Keras config has no such key). */
  override getConfig(): TfjsOptimizerConfig {
    const optimizer = serialize(this.optimizer) as unknown as tf.serialization.ConfigDict;
    return this.optimizer.slotDtype === 'float32' ? { optimizer } : { optimizer, slot_dtype: this.optimizer.slotDtype };
  }

  /**
   * Rebuilds the adapter from `getConfig()`'s output, either as is or as tfjs-layers hands it
   * over after `convertPythonicToTs` (camelCase keys).
   */
  static override fromConfig<T extends tf.serialization.Serializable>(cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    const inner = config?.optimizer as Record<string, unknown> | undefined;
    if (inner == null || typeof inner !== 'object') throw new ConfigError('InvalidConfig', `a ${TfjsOptimizer.className} config needs \`optimizer\`: {class_name, config}`);
    const keras = fromLayersFormat(inner);
    // (tfjs-layers hands the config over camelCased.)
    const slotDtype = config.slot_dtype ?? config.slotDtype;
    return new cls(deserialize(slotDtype == null ? keras : { ...keras, config: { ...keras.config, slot_dtype: slotDtype } }));
  }

  // ---- lifetime ----------------------------------------------------------------------------

  /** Frees the mirrors, the tensors `getWeights` returned and (by default) the wrapped optimizer. */
  override dispose(): void {
    if (this.disposedAdapter) return;
    this.disposedAdapter = true;
    this.releaseWeightTensors();
    for (const m of this.mirrors.values()) m.variable.dispose();
    this.mirrors.clear();
    if (this.disposeOptimizer) this.optimizer.dispose();
  }

  private releaseWeightTensors(): void {
    for (const t of this.weightTensors) t.dispose();
    this.weightTensors = [];
  }

  private live(): void {
    if (this.disposedAdapter) throw new StateError('Disposed', 'this TfjsOptimizer has been disposed');
  }
}

/**
 * Wraps a simdopt optimizer as a `tf.Optimizer` (see {@link TfjsOptimizer}). Takes an optimizer,
 * or what Keras' `tf.keras.optimizers.get` takes: a class name (`'adam'`, with Keras' defaults)
 * or a Keras config `{class_name, config}`, also as JSON text (as Python's
 * `json.dumps(tf.keras.optimizers.serialize(opt))` writes it).
 * @param optimizer - The optimizer, a class name, a Keras config or its JSON.
 * @param options - See {@link TfjsOptimizerOptions}.
 * @example
 * ```ts
 * model.compile({ optimizer: toTfjs(new Adam(0.01)), loss: 'meanSquaredError' });
 * model.compile({ optimizer: toTfjs('adam'), loss: 'meanSquaredError' });
 * model.compile({ optimizer: toTfjs('{"class_name": "Adam", "config": {"learning_rate": 0.01}}'), loss: 'meanSquaredError' });
 * ```
 */
export function toTfjs(optimizer: Optimizer | string | Serialized, options: TfjsOptimizerOptions = {}): TfjsOptimizer {
  return new TfjsOptimizer(optimizerFrom(optimizer), options);
}

/** An optimizer from what `toTfjs` takes (Keras' `optimizers.get`, plus JSON text). */
function optimizerFrom(identifier: Optimizer | string | Serialized): Optimizer {
  if (typeof identifier === 'string' && identifier.trim().startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(identifier);
    } catch (e) {
      throw new ConfigError('InvalidConfig', `toTfjs: the Keras config is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
    }
    return get(parsed as Serialized);
  }
  return get(identifier);
}

/** The gradients' values: in place where the backend holds them in CPU memory, else read with
 * `dataSync` (on a GPU backend all of them in one readback). Each tensor's `dataId` and `size`
 * are read once. */
function readGradients(memory: BackendMemory, grads: tf.Tensor[]): Float32Array[] {
  if (memory.kind === 'gpu' && grads.length > 1) {
    const flat = tf.tidy(() => tf.concat(grads.map((g) => tf.reshape(g, [-1]))));
    try {
      const all = flat.dataSync() as Float32Array;
      let at = 0;
      return grads.map((g) => {
        const n = g.size;
        at += n;
        return all.subarray(at - n, at);
      });
    } finally {
      flat.dispose();
    }
  }
  return grads.map((g) => valuesInPlace(memory, g.dataId, g.size) ?? (g.dataSync() as Float32Array));
}

/** Writes a mirror's updated values into its tfjs variable. On the cpu backend, into the
 * variable's own array when the variable alone holds it (its kernels read that array at every
 * op; no allocation). Elsewhere with `assign` of a new tensor: tfjs-wasm caches the packed
 * weights of a matMul per tensor, so a write in place would not be seen; its new tensor is
 * copied straight from simdopt's memory into tfjs' heap (no JavaScript copy in between). */
function writeBack(memory: BackendMemory, mirror: Mirror): void {
  const source = mirror.source;
  const dataId = source.dataId;
  if (memory.kind === 'cpu' && dataId === mirror.dataId && soleOwner(memory, dataId)) {
    const target = valuesInPlace(memory, dataId, mirror.variable.size);
    if (target !== undefined) {
      target.set(mirror.variable.value);
      return;
    }
  }
  // (tfjs-wasm copies a new tensor's values at once; other backends may keep the array given.)
  const t = tf.tensor(memory.kind === 'wasm' ? mirror.variable.value : mirror.variable.read(), source.shape, 'float32');
  try {
    source.assign(t);
  } finally {
    t.dispose();
  }
  mirror.dataId = source.dataId;
}

let registered = false;
/** Registers {@link TfjsOptimizer} with `tf.serialization.registerClass` (done on import and by
 * the constructor; call it again if tfjs was re-initialised). */
export function registerTfjsOptimizer(): void {
  const map = tf.serialization.SerializationMap.getMap().classNameMap;
  if (registered && map[TfjsOptimizer.className]?.[0] === TfjsOptimizer) return;
  tf.serialization.registerClass(TfjsOptimizer as unknown as tf.serialization.SerializableConstructor<TfjsOptimizer>);
  registered = true;
}
registerTfjsOptimizer();

/**
 * A gradient source for simdopt's own API: runs `f` under `tf.variableGrads` and returns the
 * loss and one Float32Array gradient per variable (zeros where `f` does not depend on it).
 * Every tensor it makes is disposed.
 */
export function tfjsGradients(
  f: () => tf.Scalar,
  variables: readonly tf.Variable[],
): {
  /** The value of `f()`. */
  loss: number;
  /** d loss / d variable, one per variable, in order. */
  grads: Float32Array[];
} {
  const { value, grads } = tf.variableGrads(f, [...variables]);
  try {
    return {
      loss: value.dataSync()[0],
      grads: variables.map((v) => {
        const g = grads[v.name];
        return g ? Float32Array.from(g.dataSync()) : new Float32Array(v.size);
      }),
    };
  } finally {
    value.dispose();
    tf.dispose(grads);
  }
}

/** A loss for {@link tfjsGradientSource}: a tfjs scalar computed from tfjs copies of the simdopt
 * Variables (in `varList` order). */
export type TfjsLoss = (variables: tf.Variable[]) => tf.Scalar;

/**
 * A `minimize` gradient source built on `tf.variableGrads`: `opt.minimize(vars => loss(vars),
 * varList, { gradientSource: tfjsGradientSource })` copies each simdopt Variable into a
 * trainable tfjs variable, computes the loss and its gradients with {@link tfjsGradients} and
 * disposes everything it made. tfjs must know the variables before it records the loss, so this
 * source resolves `varList` first (Keras resolves it after the loss).
 */
export const tfjsGradientSource: GradientSource<TfjsLoss> = (loss, varList) => {
  if (typeof loss !== 'function') throw new ConfigError('InvalidConfig', 'tfjsGradientSource needs the loss as a function of tfjs variables');
  const vars = varList();
  const copies = vars.map((v) => {
    const t = tf.tensor(v.read(), [...v.shape], 'float32');
    try {
      return tf.variable(t, true);
    } finally {
      t.dispose();
    }
  });
  try {
    return tfjsGradients(() => loss(copies), copies);
  } finally {
    copies.forEach((c) => c.dispose());
  }
};

// ---- config conversion ---------------------------------------------------------------------

/** tfjs-layers' `toCamelCase` (what `convertPythonicToTs` does to every key). */
function layersCamel(key: string): string {
  if (key.length <= 1 || key.indexOf('_') === -1) return key;
  return key.replace(/[_]+(\w|$)/g, (_m, c: string) => c.toUpperCase());
}

/** `initialLearningRate` → `initial_learning_rate` (schedule keys have no digits). */
function genericSnake(key: string): string {
  return key.replace(/([A-Z])/g, '_$1').toLowerCase();
}

/** `{class_name, config}` back from tfjs-layers' camelCased copy (or as is if not converted). */
function fromLayersFormat(inner: Record<string, unknown>): Serialized {
  if (typeof inner.class_name === 'string') return inner as unknown as Serialized;
  const className = inner.className;
  const config = inner.config as Record<string, unknown> | undefined;
  if (typeof className !== 'string' || config == null || typeof config !== 'object') {
    throw new ConfigError('InvalidConfig', `expected {class_name, config} for the wrapped optimizer, got ${JSON.stringify(inner)}`);
  }
  // The optimizer's own keys are known: those of a default instance, and the clip keys.
  const probe = deserialize({ class_name: className, config: {} });
  const keys = [...Object.keys(probe.getConfig()), 'clipnorm', 'clipvalue', 'global_clipnorm', 'lr'];
  probe.dispose();
  const back = new Map(keys.map((k) => [layersCamel(k), k]));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config)) {
    if (k === 'customObjects') continue; // tfjs-layers adds it to every config it deserializes
    out[back.get(k) ?? genericSnake(k)] = scheduleBack(v);
  }
  return { class_name: className, config: out };
}

/** A nested `{className, config}` (a learning-rate schedule) back to Keras' format. */
function scheduleBack(v: unknown): unknown {
  if (v == null || typeof v !== 'object' || Array.isArray(v)) return v;
  const o = v as Record<string, unknown>;
  if (typeof o.className === 'string' && o.config && typeof o.config === 'object') {
    const config: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(o.config as Record<string, unknown>)) config[genericSnake(k)] = x;
    return { class_name: o.className, config };
  }
  return v;
}
