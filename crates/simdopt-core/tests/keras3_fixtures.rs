//! Replays the Keras 3.15.1 trajectories of `tests/fixtures/keras3/` (format and generators:
//! `tools/fixtures/keras3/`) for the Keras 3 classes the registry has, through `build_optimizer`
//! with the case's own `get_config()`, and compares every step with issue 13's rule
//! (`|Δ| <= 1e-5·max(1,|x|)`; 1e-4 for Lamb, Adafactor, Muon): variables, every optimizer
//! variable in Keras' order (iteration, learning_rate, EMA averages, accumulators, slots) and
//! `iterations`. Each case runs as a whole trajectory and anchored (each step from Keras' state).
//! Run with `--nocapture` for the largest deviation per class.

#[path = "../../../tools/fixtures/keras3/keras3_fixtures.rs"]
mod keras3_fixtures;

use keras3_fixtures::{load, replay, replay_anchored, Case, Gradient as FxGradient, Subject};
use serde_json::Value;
use simdopt_core::registry::{self, Family};
use simdopt_core::{build_optimizer, Gradient, Optimizer, Store, Tensor, TensorId};

/// The case's optimizer built from its Keras 3 config, or None when a key is not a number we
/// take (a schedule as learning rate: the Keras 3 schedules are not in the core).
fn build(case: &Case) -> Option<Optimizer> {
    let config = case.optimizer["config"].as_object()?;
    let mut options: Vec<(&str, f32)> = Vec::new();
    for (k, v) in config {
        match v {
            Value::String(_) if k == "name" => {}
            Value::Bool(b) => options.push((k, if *b { 1.0 } else { 0.0 })),
            Value::Number(n) => options.push((k, n.as_f64().unwrap() as f32)),
            Value::Null => {}
            _ => return None,
        }
    }
    let mut opt = build_optimizer(&case.class_name, &options).unwrap_or_else(|e| panic!("{}: {e}", case.name));
    opt.set_name(config["name"].as_str().unwrap());
    Some(opt)
}

struct Core {
    opt: Optimizer,
    store: Store,
    vars: Vec<TensorId>,
    lr: f32,
}

impl Subject for Core {
    fn apply(&mut self, gradients: &[Option<FxGradient>]) {
        let pairs: Vec<(Option<Gradient<'_>>, TensorId)> = gradients
            .iter()
            .zip(&self.vars)
            .map(|(g, &v)| {
                let g = g.as_ref().map(|g| match g {
                    FxGradient::Dense(d) => Gradient::Dense(d),
                    FxGradient::Sparse { indices, values, .. } => Gradient::Sparse { indices, values },
                });
                (g, v)
            })
            .collect();
        self.opt.apply_gradients(&mut self.store, &pairs).unwrap();
    }

    fn variables(&self) -> Vec<Vec<f32>> {
        self.vars.iter().map(|&v| self.store.get(v).unwrap().data.clone()).collect()
    }

    /// Keras' `optimizer.variables`: the raw call count, the learning rate, then the core's
    /// weights after `iterations` (averages, accumulators, slots: Keras' order).
    fn optimizer_variables(&self) -> Vec<Vec<f64>> {
        let mut out = vec![vec![self.opt.iterations() as f64], vec![self.lr as f64]];
        for i in 1..self.opt.weight_count() {
            out.push(self.opt.weight(i).unwrap().iter().map(|&x| x as f64).collect());
        }
        out
    }

    fn iterations(&self) -> i64 {
        self.opt.update_iterations() as i64
    }

    fn load_state(&mut self, variables: &[Vec<f32>], optimizer_variables: &[Vec<f64>]) {
        for (&v, values) in self.vars.iter().zip(variables) {
            self.store.get_mut(v).unwrap().data.copy_from_slice(values);
        }
        let rest: Vec<Vec<f32>> = optimizer_variables[2..].iter().map(|w| w.iter().map(|&x| x as f32).collect()).collect();
        let refs: Vec<&[f32]> = rest.iter().map(|w| w.as_slice()).collect();
        self.opt.set_weights(optimizer_variables[0][0] as u64, &refs).unwrap();
    }
}

fn subject(case: &Case, opt: Optimizer) -> Core {
    let mut store = Store::new();
    let vars: Vec<TensorId> =
        case.variables.iter().map(|v| store.insert(Tensor::new(v.path.clone(), v.shape.clone(), v.initial.clone()).unwrap())).collect();
    let lr = case.optimizer["config"]["learning_rate"].as_f64().unwrap() as f32;
    let mut core = Core { opt, store, vars, lr };
    // Keras 3 builds every variable's state before the first step; a zero-size step would not,
    // so create them as `build` does.
    core.opt.create_slots_for(&core.store, &core.vars).unwrap();
    core
}

/// Every case of `file` whose class is `class_name` (a wrapper's inner class is not looked at).
fn cases_of(file: &str, class_name: &str) -> Vec<Case> {
    load(file).cases.into_iter().filter(|c| c.class_name == class_name && c.error.is_none()).collect()
}

#[test]
fn keras3_classes_replay_their_fixtures() {
    let classes: Vec<&str> = registry::CLASSES.iter().filter(|c| c.family == Family::Keras3).map(|c| c.class_name).collect();
    assert!(!classes.is_empty());
    for class_name in classes {
        let mut cases = cases_of(&format!("optimizers/{class_name}.json"), class_name);
        cases.extend(cases_of("optimizers/_base_features.json", class_name));
        cases.extend(cases_of("sparse.json", class_name));
        let (mut worst, mut at, mut ran) = (0.0f64, String::new(), 0);
        for case in &cases {
            if build(case).is_none() {
                continue;
            }
            for anchored in [false, true] {
                let mut s = subject(case, build(case).unwrap());
                let r = if anchored { replay_anchored(case, &mut s, |_| None) } else { replay(case, &mut s, |_| None) };
                let r = r.unwrap_or_else(|e| panic!("{}{e}", if anchored { "anchored: " } else { "" }));
                if r.worst > worst {
                    worst = r.worst;
                    at = r.worst_at;
                }
            }
            ran += 1;
        }
        assert!(ran >= 3, "{class_name}: only {ran} fixture cases replayed");
        println!("{class_name}: {ran} cases, largest |Δ|/max(1,|x|) {worst:.3e} at {at}");
    }
}
