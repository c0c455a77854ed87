//! Shared by the `quant_*` tests: reading the bitsandbytes fixtures (hex-encoded arrays, see
//! `tools/fixtures/bnb/common.py`).
#![allow(dead_code)]

use serde_json::Value;
use simdopt_core::quant::Codebook;
use std::path::PathBuf;

pub fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/bnb").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn bytes(v: &Value) -> Vec<u8> {
    let s = v.as_str().expect("hex string");
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

pub fn hex_u8(v: &Value) -> Vec<u8> {
    bytes(v)
}

/// float32 values, little-endian, exact (NaN payloads kept).
pub fn f32s(v: &Value) -> Vec<f32> {
    bytes(v).chunks(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

pub fn map_of(signed: bool) -> &'static Codebook {
    if signed {
        Codebook::signed()
    } else {
        Codebook::unsigned()
    }
}

/// bitsandbytes 0.50's look-up table: entry `i` holds the nearest code of `-1 + 2i / 65535`
/// (midpoints `0.5 * (c[i] + c[i+1])`, a value on a midpoint going to the lower code).
pub fn lut_0_50(codes: &[f32; 256]) -> Vec<u8> {
    let mids: Vec<f32> = codes.windows(2).map(|w| 0.5 * (w[0] + w[1])).collect();
    let mut lut = vec![0u8; 65536];
    let mut k = 0;
    for (i, e) in lut.iter_mut().enumerate() {
        let v = -1.0f32 + (2.0 * i as f32) / 65535.0;
        while k < 255 && mids[k] < v {
            k += 1;
        }
        *e = k as u8;
    }
    lut
}

/// Its grid point of a normalised value (NaN lands on entry 0, as its float → uint16 cast does on x86).
pub fn lut_index(v: f32) -> usize {
    let v = v.clamp(-1.0, 1.0);
    if v.is_nan() {
        return 0;
    }
    ((v + 1.0) * 0.5 * 65535.0 + 0.5) as u16 as usize
}
