// Typed errors. Every error a simdopt call raises leaves the optimizer and the variables as
// they were. `code` is stable; the class says what kind of mistake it was, as Keras' do.

/** The stable codes of {@link SimdoptError.code}, one per kind of failure. */
export type ErrorCode =
  | 'NotReady'
  | 'UnknownTensor'
  | 'Disposed'
  | 'ShapeMismatch'
  | 'GradientShape'
  | 'IndexOutOfRange'
  | 'SparseScalar'
  | 'DuplicateVariable'
  | 'InvalidHyperparameter'
  | 'UnknownHyperparameter'
  | 'UnknownOption'
  | 'UnknownClass'
  | 'InvalidConfig'
  | 'WeightCount'
  | 'WeightShape'
  | 'UnknownSlot'
  | 'InvalidArgument'
  | 'InvalidState'
  | 'UnsupportedSlotDtype'
  | 'CoreFailed'
  | 'ReplicaFailed'
  | 'ReplicaTimeout';

// Each class sets its `name` as a string: a minifier renames classes, so `new.target.name` would
// turn `ShapeError` into a letter. (A class field, not a static block, keeps the classes
// tree-shakable.)

/** Base class of every simdopt error. */
export class SimdoptError extends Error {
  /** `'SimdoptError'`, also in minified builds. */
  override name = 'SimdoptError';
  /** What went wrong, stable across versions (the class says what kind of mistake it was). */
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.code = code;
  }

  /** Builds the typed error for a code. */
  static of(code: ErrorCode, message: string): SimdoptError {
    const Cls = ERROR_CLASSES[code] ?? SimdoptError;
    return new Cls(code, message);
  }

  /** Converts an error thrown by the wasm core (`"<Code>: message"`). */
  static fromCore(e: unknown): Error {
    if (e instanceof SimdoptError) return e;
    const msg = e instanceof Error ? e.message : String(e);
    const m = /^([A-Za-z]+): ([\s\S]*)$/.exec(msg);
    if (m && m[1] in ERROR_CLASSES) return SimdoptError.of(m[1] as ErrorCode, m[2]);
    return e instanceof Error ? e : new Error(msg);
  }
}

/** A value of the wrong shape or size (Keras' ValueError for shapes). */
export class ShapeError extends SimdoptError {
  /** `'ShapeError'`, also in minified builds. */
  override name = 'ShapeError';
}
/** A sparse index outside the variable (TF's InvalidArgumentError). */
export class IndexError extends SimdoptError {
  /** `'IndexError'`, also in minified builds. */
  override name = 'IndexError';
}
/** A hyperparameter or option value Keras refuses (Keras' ValueError). */
export class HyperparameterError extends SimdoptError {
  /** `'HyperparameterError'`, also in minified builds. */
  override name = 'HyperparameterError';
}
/** An option or config key, or a class name, that does not exist (Keras' TypeError / ValueError). */
export class ConfigError extends SimdoptError {
  /** `'ConfigError'`, also in minified builds. */
  override name = 'ConfigError';
}
/** A use of something disposed, not ready, or not in a state to serve the call (RuntimeError).
 * Code `CoreFailed`: the wasm core panicked or trapped and every later call fails. */
export class StateError extends SimdoptError {
  /** `'StateError'`, also in minified builds. */
  override name = 'StateError';
}
/** `setWeights` with the wrong number or sizes of weights. */
export class WeightsError extends SimdoptError {
  /** `'WeightsError'`, also in minified builds. */
  override name = 'WeightsError';
}
/** An unknown slot or variable for `getSlot` (Keras' KeyError). */
export class SlotError extends SimdoptError {
  /** `'SlotError'`, also in minified builds. */
  override name = 'SlotError';
}
/** An argument of the wrong type or form. */
export class ArgumentError extends SimdoptError {
  /** `'ArgumentError'`, also in minified builds. */
  override name = 'ArgumentError';
}
/** A replica (worker) of a distribution strategy threw, died or timed out (code
 * `ReplicaTimeout`) during a step; nothing was applied. `cause` is the replica's error,
 * `replicaId` the replica, `exitCode` set if it died. */
export class ReplicaError extends SimdoptError {
  /** `'ReplicaError'`, also in minified builds. */
  override name = 'ReplicaError';
  /** The replica that failed, if one did. */
  readonly replicaId?: number;
  /** The worker's exit code, if it died. */
  readonly exitCode?: number;
  constructor(code: ErrorCode, message: string, details: { replicaId?: number; exitCode?: number; cause?: unknown } = {}) {
    super(code, message);
    this.replicaId = details.replicaId;
    this.exitCode = details.exitCode;
    if (details.cause !== undefined) this.cause = details.cause;
  }
}

const ERROR_CLASSES: Record<ErrorCode, new (code: ErrorCode, message: string) => SimdoptError> = {
  NotReady: StateError,
  UnknownTensor: StateError,
  Disposed: StateError,
  InvalidState: StateError,
  CoreFailed: StateError,
  ShapeMismatch: ShapeError,
  GradientShape: ShapeError,
  SparseScalar: ShapeError,
  IndexOutOfRange: IndexError,
  DuplicateVariable: ArgumentError,
  InvalidArgument: ArgumentError,
  InvalidHyperparameter: HyperparameterError,
  UnknownHyperparameter: ConfigError,
  UnknownOption: ConfigError,
  UnknownClass: ConfigError,
  InvalidConfig: ConfigError,
  UnsupportedSlotDtype: ConfigError,
  WeightCount: WeightsError,
  WeightShape: WeightsError,
  UnknownSlot: SlotError,
  ReplicaFailed: ReplicaError,
  ReplicaTimeout: ReplicaError,
};
