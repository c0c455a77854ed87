// The optimizer base class and what subclasses and the rest of the package use of it.
export { Optimizer } from './optimizer.js';
export { SlotVariable } from './weights.js';
export { KERAS1_WEIGHTS, constructorOptions, kerasMomentum, optionsObject, pyFloat } from './options.js';
export type * from './types.js';
export { SLOT_DTYPES, INT8_BLOCK } from './slot-dtype.js';
export type { SlotDtype, RawSlotWeight, RawBfloat16Slot, RawInt8Slot } from './slot-dtype.js';
