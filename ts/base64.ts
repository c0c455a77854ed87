// Arrays as base64 text, as the JSON form of checkpoints writes them: float32 values as their
// little-endian bytes (NaN payloads and -0 kept), bytes as they are.

const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The little-endian bytes of float32 values (a view of them on a little-endian machine). */
export function floatBytes(f: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
  const out = new Uint8Array(f.length * 4);
  const dv = new DataView(out.buffer);
  f.forEach((x, i) => dv.setFloat32(4 * i, x, true));
  return out;
}

/** Float32 values from little-endian bytes (a multiple of 4). */
export function bytesFloats(b: Uint8Array): Float32Array {
  const out = new Float32Array(b.length / 4);
  if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(b);
  else {
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    for (let i = 0; i < out.length; i++) out[i] = dv.getFloat32(4 * i, true);
  }
  return out;
}

/** Bytes in base64. */
export function encodeBytes(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode.apply(null, b.subarray(i, i + 0x8000) as unknown as number[]);
  return btoa(s);
}

/** Little-endian float32 bytes in base64 (NaN payloads and -0 kept). */
export function encodeFloats(f: Float32Array): string {
  return encodeBytes(floatBytes(f));
}

/** The bytes of base64 text, or undefined if `x` is not base64 text. */
export function decodeBytes(x: unknown): Uint8Array | undefined {
  if (typeof x !== 'string' || !BASE64.test(x)) return undefined;
  const s = atob(x);
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  return b;
}
