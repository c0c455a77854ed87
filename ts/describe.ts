// How error messages name a value the caller passed.

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
