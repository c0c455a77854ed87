// Checks on values callers pass, and how error messages name them. No dependency on the wasm
// core, so the replicas' side (distribute/replica.ts) uses them too.

/** A short description of a value for error messages; never throws, whatever the value. */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (typeof v === 'object') return withArticle(constructorName(v as object));
  if (typeof v === 'string') return `string '${v.length > 40 ? v.slice(0, 40) + '...' : v}'`;
  if (typeof v === 'symbol') return 'a symbol';
  if (typeof v === 'function') return 'a function';
  return `${typeof v} ${String(v)}`;
}

function withArticle(noun: string): string {
  return `${/^[aeiou]/i.test(noun) ? 'an' : 'a'} ${noun}`;
}

function constructorName(o: object): string {
  try {
    const c: unknown = Object.getPrototypeOf(o)?.constructor;
    const name: unknown = typeof c === 'function' ? c.name : undefined;
    return typeof name === 'string' && name ? name : 'object';
  } catch {
    return 'object';
  }
}

/** Whether `values` holds only numbers: typed arrays other than the BigInt ones, or array-likes
 * whose every element is a number (checked, so a string or object does not become NaN). */
export function isNumeric(values: unknown): values is ArrayLike<number> {
  if (values instanceof Float32Array) return true;
  if (ArrayBuffer.isView(values)) return !(values instanceof BigInt64Array || values instanceof BigUint64Array || values instanceof DataView);
  if (values === null || typeof values !== 'object' || values instanceof String || typeof (values as ArrayLike<unknown>).length !== 'number') return false;
  const a = values as ArrayLike<unknown>;
  for (let i = 0; i < a.length; i++) if (typeof a[i] !== 'number') return false;
  return true;
}

/** Elements per row of a shape (the product of the dimensions after the first), as the core
 * counts them for sparse gradients. */
export function rowSize(shape: readonly number[]): number {
  let n = 1;
  for (let d = 1; d < shape.length; d++) n *= shape[d];
  return n;
}
