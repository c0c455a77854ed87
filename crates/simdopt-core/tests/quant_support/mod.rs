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
