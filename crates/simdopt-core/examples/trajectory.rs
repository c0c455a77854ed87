//! Runs optimizer trajectories natively and prints every value as f32 bits, so they can be
//! compared bit for bit with the wasm builds (tests/native-determinism.test.ts).
//!
//! ```sh
//! cargo run --release --example trajectory < spec.json > out.json
//! ```
//!
//! Spec (stdin): `{"cases": [{"name", "class_name", "options": [[key, number], ...],
//! "variables": [{"name", "shape": [..], "initial": HEX}], "steps": [[GRAD, ...], ...]}]}` with one
//! GRAD per variable: `null`, `{"dense": HEX}` or `{"indices": [..], "values": HEX}`. HEX is the
//! f32 values as 8 lowercase hex digits each (their bits). Options are `build_optimizer`'s (flags
//! as 0/1). Output (stdout): `{"cases": [{"name", "steps": [{"variables": [HEX], "weights":
//! [HEX], "iterations"}], "weight_names": [..]}]}` or `{"name", "error"}` for a case that fails.

use std::io::Read;

use serde_json::{json, Value};
use simdopt_core::{build_optimizer, Gradient, Store, Tensor};

fn hex(values: &[f32]) -> String {
    values.iter().map(|x| format!("{:08x}", x.to_bits())).collect()
}

fn unhex(s: &str) -> Result<Vec<f32>, String> {
    if s.len() % 8 != 0 {
        return Err(format!("hex of length {} is not a multiple of 8", s.len()));
    }
    (0..s.len() / 8).map(|i| u32::from_str_radix(&s[8 * i..8 * i + 8], 16).map(f32::from_bits).map_err(|e| e.to_string())).collect()
}

fn field<'a>(v: &'a Value, key: &str) -> Result<&'a Value, String> {
    v.get(key).ok_or_else(|| format!("missing `{key}`"))
}

fn str_of<'a>(v: &'a Value, key: &str) -> Result<&'a str, String> {
    field(v, key)?.as_str().ok_or_else(|| format!("`{key}` is not a string"))
}

fn array<'a>(v: &'a Value, key: &str) -> Result<&'a Vec<Value>, String> {
    field(v, key)?.as_array().ok_or_else(|| format!("`{key}` is not an array"))
}

/// A decoded gradient: sparse indices (None for dense) and values.
type Decoded = (Option<Vec<i64>>, Vec<f32>);

fn run_case(case: &Value) -> Result<Value, String> {
    let class = str_of(case, "class_name")?;
    let options: Vec<(String, f32)> = array(case, "options")?
        .iter()
        .map(|kv| {
            let key = kv.get(0).and_then(Value::as_str).ok_or("option key")?;
            // JSON numbers are f64; the facade hands f64 to the core as f32 the same way.
            let value = kv.get(1).and_then(Value::as_f64).ok_or("option value")?;
            Ok((key.to_string(), value as f32))
        })
        .collect::<Result<_, String>>()?;
    let pairs: Vec<(&str, f32)> = options.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let mut opt = build_optimizer(class, &pairs).map_err(|e| format!("{}: {e}", e.code()))?;

    let mut store = Store::new();
    let mut vars = Vec::new();
    for v in array(case, "variables")? {
        let shape: Vec<usize> =
            array(v, "shape")?.iter().map(|d| d.as_u64().map(|d| d as usize).ok_or("shape")).collect::<Result<_, _>>()?;
        let data = unhex(str_of(v, "initial")?)?;
        vars.push(store.insert(Tensor::new(str_of(v, "name")?, shape, data).map_err(|e| e.to_string())?));
    }

    let mut steps = Vec::new();
    for step in array(case, "steps")? {
        let grads = step.as_array().ok_or("a step is not an array")?;
        // Own the decoded values first; the pairs borrow them.
        let mut decoded: Vec<Option<Decoded>> = Vec::new();
        for g in grads {
            decoded.push(match g {
                Value::Null => None,
                g if g.get("dense").is_some() => Some((None, unhex(str_of(g, "dense")?)?)),
                g => {
                    let idx = array(g, "indices")?.iter().map(|i| i.as_i64().ok_or("index")).collect::<Result<Vec<_>, _>>()?;
                    Some((Some(idx), unhex(str_of(g, "values")?)?))
                }
            });
        }
        let pairs: Vec<(Option<Gradient<'_>>, _)> = decoded
            .iter()
            .zip(&vars)
            .map(|(d, v)| {
                let g = d.as_ref().map(|(idx, values)| match idx {
                    None => Gradient::Dense(values),
                    Some(indices) => Gradient::Sparse { indices, values },
                });
                (g, *v)
            })
            .collect();
        opt.apply_gradients(&mut store, &pairs).map_err(|e| format!("{}: {e}", e.code()))?;
        let variables: Vec<String> = vars.iter().map(|v| hex(&store.get(*v).unwrap().data)).collect();
        let weights: Vec<String> = (1..opt.weight_count()).map(|i| hex(opt.weight(i).unwrap())).collect();
        steps.push(json!({ "variables": variables, "weights": weights, "iterations": opt.iterations() }));
    }
    Ok(json!({ "name": case.get("name"), "steps": steps, "weight_names": opt.weight_names(), "flavor": simdopt_core::kernel_flavor() }))
}

fn main() {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).expect("read stdin");
    let spec: Value = serde_json::from_str(&input).expect("the spec is not JSON");
    let cases = spec.get("cases").and_then(Value::as_array).expect("the spec has no `cases` array");
    let out: Vec<Value> = cases.iter().map(|c| run_case(c).unwrap_or_else(|e| json!({ "name": c.get("name"), "error": e }))).collect();
    println!("{}", json!({ "cases": out }));
}
