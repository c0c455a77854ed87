// Keras 3's default names: `auto_name(class name)` — the class name in snake_case, then `_1`,
// `_2`, ... for later instances of the same prefix, until `clearSession()` (Keras'
// `keras.utils.clear_session()`) starts the counts again. An explicit name takes no number.
import { kerasSnakeCase } from './python.js';

const counts = new Map<string, number>();

/** The default name of a new instance of `className` (`adam`, then `adam_1`, ...). */
export function autoName(className: string): string {
  const prefix = kerasSnakeCase(className);
  const n = (counts.get(prefix) ?? 0) + 1;
  counts.set(prefix, n);
  return n === 1 ? prefix : `${prefix}_${n - 1}`;
}

/**
 * Keras' `keras.utils.clear_session()` for names: the next default-named optimizer of each class
 * is again `adam`, `sgd`, ... (the counts are per JavaScript realm, as Keras' are per session).
 */
export function clearSession(): void {
  counts.clear();
}
