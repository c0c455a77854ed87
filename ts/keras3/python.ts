// How Python writes values: `repr()` in Keras' error messages, and the JSON text Keras' saving
// writes (`json.dumps`: `, ` and `: ` separators, floats as `repr(float)`, so `128.0`, `1e-07`).
// JavaScript numbers do not say whether they were ints or floats: the JSON writer takes the keys
// whose values are integers in Keras' configs; every other number is written as a float.

/** `repr(float)`: the shortest round-trip digits (as JavaScript's), in Python's notation
 * (`1.0`, `0.0001`, `1e-05`, `1e+16`, `nan`, `inf`). */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mantissa, exp] = x.toExponential().split('e');
  const e = Number(exp);
  if (e < -4 || e >= 16) {
    const m = mantissa.replace(/\.?0+$/, '');
    return `${m}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  }
  const sign = x < 0 ? '-' : '';
  const digits = mantissa.replace('-', '').replace('.', '');
  const point = e + 1; // digits before the decimal point
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}.0`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/** A JavaScript value as Python's `repr()` would show the value Keras received (`None`, `True`,
 * `'a'`, `[1, 2]`, `{'k': 0.5}`); integers print as ints, other numbers as floats. */
export function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : pyFloatRepr(v);
  if (typeof v === 'string') return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (typeof v === 'function') return `<function ${v.name || '<lambda>'}>`;
  if (typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  if (typeof v === 'object') {
    const name = (v as { constructor?: { name?: unknown } }).constructor?.name;
    if (name && name !== 'Object') return `<${String(name)} object>`;
    return `{${Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${pyRepr(k)}: ${pyRepr(x)}`)
      .join(', ')}}`;
  }
  return String(v);
}

/** `str()` of a value in a Keras message (`Received: name=a/b`): strings bare, the rest `repr`. */
export function pyStr(v: unknown): string {
  return typeof v === 'string' ? v : pyRepr(v);
}

/** Config keys whose values Keras keeps as Python ints (written without `.0`). */
export const INT_KEYS: ReadonlySet<string> = new Set([
  'gradient_accumulation_steps',
  'ema_overwrite_frequency',
  'ns_steps',
  'adam_lr_ratio',
  'warmup_steps',
  'decay_steps',
  'first_decay_steps',
  'boundaries',
  'dynamic_growth_steps',
]);

/**
 * `json.dumps(value)` as Python writes a Keras config: numbers under an {@link INT_KEYS} key as
 * integers, every other number as `repr(float)`. Non-finite numbers as Python writes them
 * (`NaN`, `Infinity`), which strict JSON parsers refuse, as they refuse Python's.
 */
export function pythonJson(value: unknown, intKeys: ReadonlySet<string> = INT_KEYS, key = ''): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return 'NaN';
    if (!Number.isFinite(value)) return value > 0 ? 'Infinity' : '-Infinity';
    return intKeys.has(key) && Number.isInteger(value) ? String(value) : pyFloatRepr(value);
  }
  if (typeof value === 'string') return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (Array.isArray(value)) return `[${value.map((x) => pythonJson(x, intKeys, key)).join(', ')}]`;
  return `{${Object.entries(value as Record<string, unknown>)
    .map(([k, x]) => `${JSON.stringify(k)}: ${pythonJson(x, intKeys, k)}`)
    .join(', ')}}`;
}

/** Keras' `to_snake_case` (`RMSprop` → `rm_sprop`, `AdamW` → `adam_w`). */
export function kerasSnakeCase(name: string): string {
  return name
    .replace(/\W+/g, '')
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}
