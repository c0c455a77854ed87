// Integrity of checkpoints: a canonical text of JSON data (read once, keys sorted) and CRC32C.
// CRC32C (the Castagnoli polynomial, as in iSCSI, ext4 and SSE 4.2) detects every error burst of
// up to 32 bits, so any one damaged byte is always found, not just probably. It is computed in
// the wasm core (the `crc` crate), in chunks, so a large checkpoint never needs as much WASM
// memory as itself.
import { ConfigError } from './errors.js';
import { call, core } from './wasm/loader.js';
import { describeValue } from './values.js';

/** How a checksum is written in a checkpoint: the algorithm, then 8 lowercase hex digits. */
const CHECKSUM = /^crc32c:[0-9a-f]{8}$/;

const CHUNK = 1 << 16;

/** CRC32C of bytes, as an unsigned 32-bit integer. */
export function crc32c(bytes: Uint8Array): number {
  const c = core();
  let crc = 0;
  for (let at = 0; at < bytes.length; at += CHUNK) {
    const chunk = bytes.subarray(at, Math.min(at + CHUNK, bytes.length));
    crc = call(() => c.checksum_crc32c(crc, chunk));
  }
  return crc >>> 0;
}

/** The checksum field of a checkpoint whose canonical text is `text`. */
export function checksumOfText(text: string): string {
  return `crc32c:${crc32c(new TextEncoder().encode(text)).toString(16).padStart(8, '0')}`;
}

export function isChecksum(x: unknown): x is string {
  return typeof x === 'string' && CHECKSUM.test(x);
}

/**
 * The canonical JSON text of `x` (object keys sorted, no spaces), leaving out the top-level key
 * `omit`. Reads every property and length exactly once, so a getter or a Proxy that answers
 * differently on each read cannot make what was checked differ from what is used: callers parse
 * this text and never read `x` again. Anything that is not JSON data (functions, bigints,
 * symbols, non-finite numbers, typed arrays, cycles) is a ConfigError.
 */
export function canonicalJson(x: unknown, omit?: string): string {
  const open = new Set<object>();
  const text = (v: unknown, path: string, top: boolean): string => {
    if (v === null) return 'null';
    switch (typeof v) {
      case 'boolean':
        return v ? 'true' : 'false';
      case 'string':
        return JSON.stringify(v);
      case 'number':
        if (!Number.isFinite(v)) notData(path, v);
        return JSON.stringify(v);
      case 'object':
        break;
      default:
        notData(path, v);
    }
    const o = v as object;
    if (ArrayBuffer.isView(o) || o instanceof ArrayBuffer) notData(path, o);
    if (open.has(o)) throw new ConfigError('InvalidConfig', `invalid optimizer state: ${path} refers to itself`);
    open.add(o);
    let out: string;
    if (Array.isArray(o)) {
      const n = o.length;
      const parts = new Array<string>(n);
      for (let i = 0; i < n; i++) parts[i] = text(o[i], `${path}[${i}]`, false);
      out = `[${parts.join(',')}]`;
    } else {
      const rec = o as Record<string, unknown>;
      const parts: string[] = [];
      for (const k of Object.keys(rec).sort()) {
        if (top && k === omit) continue;
        const value = rec[k];
        // (JSON.stringify leaves undefined properties out; so does the canonical text.)
        if (value !== undefined) parts.push(`${JSON.stringify(k)}:${text(value, `${path}.${k}`, false)}`);
      }
      out = `{${parts.join(',')}}`;
    }
    open.delete(o);
    return out;
  };
  return text(x, 'state', true);
}

function notData(path: string, v: unknown): never {
  throw new ConfigError('InvalidConfig', `invalid optimizer state: ${path} is ${describeValue(v)}, not JSON data`);
}
