// How a built-in schedule is declared once: its arguments (Keras key, kind, default).
import { ArgumentError, ConfigError, HyperparameterError } from '../errors.js';
import { camelCase, didYouMean } from '../keys.js';
import { describeValue } from '../values.js';
import { LearningRateSchedule } from './schedule.js';

// ---- declared schedules ----------------------------------------------------------------------
//
// Each built-in schedule is declared once: its arguments (Keras key, kind, default) in a table
// that checks the constructor options, sets the properties, and gives `getConfig` and
// `fromConfig`; the class adds only the property types and `call`.

type ParamKind = 'number' | 'boolean' | 'name' | 'numbers' | 'optionalNumber';
type KindValue = { number: number; boolean: boolean; name: string | null; numbers: number[]; optionalNumber: number | null };

/** One argument: its Keras key (the option and property are its camelCase), kind and default
 * (absent = required). */
type Param = readonly [key: string, kind: ParamKind, dflt?: number | boolean | string | null];

/** The Keras config of a schedule declared with `params`, in their order. */
export type ConfigOf<P extends readonly Param[]> = { [E in P[number] as E[0]]: KindValue[E[1]] };

/** A built-in schedule's declaration. */
export interface ScheduleDeclaration {
  /** The name its error messages give. */
  className: string;
  params: readonly Param[];
  /** Checks beyond each argument's own (after they are read). */
  check?: (args: Record<string, unknown>) => void;
}

function checkNumber(cls: string, key: string, v: unknown): number {
  if (typeof v !== 'number') throw new ArgumentError('InvalidArgument', `${cls}: \`${key}\` must be a number, got ${describeValue(v)}`);
  if (!Number.isFinite(v)) throw new HyperparameterError('InvalidHyperparameter', `${cls}: \`${key}\` must be a finite number, got ${v}`);
  return v;
}

/** One argument read from the options and checked. */
function readArgument(cls: string, [key, kind, dflt]: Param, options: Record<string, unknown>): unknown {
  const camel = camelCase(key);
  let v = options[camel];
  if (v === undefined) {
    if (dflt === undefined && kind !== 'name') throw new ArgumentError('InvalidArgument', `${cls}: missing required argument \`${camel}\``);
    v = dflt ?? null;
  }
  switch (kind) {
    case 'number':
      return checkNumber(cls, camel, v);
    case 'optionalNumber':
      return v === null ? null : checkNumber(cls, camel, v);
    case 'boolean':
      if (typeof v !== 'boolean') throw new ArgumentError('InvalidArgument', `${cls}: \`${camel}\` must be a boolean, got ${describeValue(v)}`);
      return v;
    case 'name':
      if (v !== null && typeof v !== 'string') throw new ArgumentError('InvalidArgument', `${cls}: \`name\` must be a string or null, got ${describeValue(v)}`);
      return v;
    case 'numbers': {
      if (!Array.isArray(v) && !ArrayBuffer.isView(v)) throw new ArgumentError('InvalidArgument', `${cls}: \`${camel}\` must be an array of numbers, got ${describeValue(v)}`);
      const arr = Array.from(v as ArrayLike<unknown>);
      arr.forEach((x, i) => checkNumber(cls, `${camel}[${i}]`, x));
      return Object.freeze(arr);
    }
  }
}

/**
 * Reads and checks constructor options (camelCase keys): the values by Keras key, defaults
 * filled in. Unknown keys → ConfigError('UnknownOption'); missing required or wrongly typed
 * arguments → ArgumentError; non-finite numbers → HyperparameterError.
 */
function readArguments(d: ScheduleDeclaration, options: unknown): Record<string, unknown> {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new ArgumentError('InvalidArgument', `${d.className}: expected an options object, got ${describeValue(options)}`);
  }
  const opts = options as Record<string, unknown>;
  for (const key of Object.keys(opts)) {
    const known = (k: string) => d.params.some((p) => camelCase(p[0]) === k);
    if (!known(key)) throw new ConfigError('UnknownOption', `${d.className}: unexpected keyword argument \`${key}\`${didYouMean(key, known)}`);
  }
  const args: Record<string, unknown> = {};
  for (const p of d.params) args[p[0]] = readArgument(d.className, p, opts);
  d.check?.(args);
  return args;
}

/**
 * Constructor arguments as Keras and tfjs users write them: one options object, or Keras'
 * positional arguments in the declaration's order (`new ExponentialDecay(0.1, 1000, 0.96)`).
 */
export function scheduleOptions(d: ScheduleDeclaration, args: readonly unknown[]): unknown {
  const first = args[0];
  if (args.length === 1 && first !== null && typeof first === 'object' && !Array.isArray(first) && !ArrayBuffer.isView(first)) return first;
  const names = d.params.map((p) => camelCase(p[0]));
  if (args.length > names.length) {
    throw new ArgumentError('InvalidArgument', `${d.className} takes one options object or at most ${names.length} arguments (${names.join(', ')}), got ${args.length}`);
  }
  const options: Record<string, unknown> = {};
  args.forEach((v, i) => {
    if (v !== undefined) options[names[i]] = v;
  });
  return options;
}

/** Keras' `from_config` → constructor options: snake_case keys become camelCase ones; an unknown
 * key is refused like Keras' `cls(**config)` does (ConfigError 'UnknownOption'). */
function optionsFromConfig(d: ScheduleDeclaration, config: unknown): Record<string, unknown> {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new ConfigError('InvalidConfig', `${d.className}: a schedule config must be an object, got ${describeValue(config)}`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(config as Record<string, unknown>)) {
    if (!d.params.some((p) => p[0] === key)) throw new ConfigError('UnknownOption', `${d.className}: __init__() got an unexpected keyword argument '${key}'`);
    out[camelCase(key)] = v;
  }
  return out;
}

/** Base of the built-in schedules: the arguments of its class's `declaration` become its
 * properties (camelCase) and its config (Keras keys). */
export abstract class DeclaredSchedule<C extends Record<string, unknown>> extends LearningRateSchedule {
  /** The schedule's name (Keras' `name`), or null. */
  declare readonly name: string | null;

  constructor(...positionalOrOptions: unknown[]) {
    super();
    const declaration = declarationOf(new.target);
    const args = readArguments(declaration, scheduleOptions(declaration, positionalOrOptions));
    for (const key of Object.keys(args)) (this as Record<string, unknown>)[camelCase(key)] = args[key];
  }

  getConfig(): C {
    const config: Record<string, unknown> = {};
    for (const [key, kind] of declarationOf(this.constructor).params) {
      const v = (this as Record<string, unknown>)[camelCase(key)];
      config[key] = kind === 'numbers' ? [...(v as number[])] : v;
    }
    return config as C;
  }

  static override fromConfig<C extends new (options: never) => LearningRateSchedule>(this: C, config: Record<string, unknown>): InstanceType<C> {
    return new this(optionsFromConfig(declarationOf(this), config) as never) as InstanceType<C>;
  }
}

/** The declaration of a built-in schedule class (or of a user subclass of one). */
function declarationOf(cls: unknown): ScheduleDeclaration {
  return (cls as { declaration: ScheduleDeclaration }).declaration;
}

export function checkStep(step: unknown): number {
  if (typeof step !== 'number') throw new ArgumentError('InvalidArgument', `a schedule step must be a number, got ${describeValue(step)}`);
  return Math.fround(step);
}

// The float32 helpers moved to math.ts with the schedules' math; also importable from here.
export { f, minf, powf, PI_F32 } from './math.js';
