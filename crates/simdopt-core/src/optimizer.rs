//! The Keras `OptimizerV2` step shared by every rule: validation first (so a bad call changes
//! nothing), then slot creation, learning rate, clipping, the rule's kernels and `iterations`.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use crate::clip::{Clip, Clipping, Identity, Scale};
use crate::error::{Error, Result};
use crate::lanes::sum_of_squares;
use crate::rules::{finite, py_float, DenseStep, SlotSpec, SparseRows, SparseStep, StepContext, UpdateRule, NO_GRAD};
use crate::slot::{out_of_memory, Slot};
use crate::store::{Store, TensorId};

/// A gradient for one variable.
#[derive(Clone, Copy, Debug)]
pub enum Gradient<'a> {
    /// Dense values, one per element of the variable.
    Dense(&'a [f32]),
    /// Dense values held in the store (no copy).
    Tensor(TensorId),
    /// Keras `IndexedSlices`: `indices.len()` rows of the variable, `values` holds them row-major.
    Sparse { indices: &'a [i64], values: &'a [f32] },
}

/// The slots of one variable.
struct VarSlots {
    var: TensorId,
    var_name: String,
    /// Elements of the variable (and of each slot).
    len: usize,
    slots: Vec<Slot>,
}

/// One entry of `weights` after `iterations`.
#[derive(Clone, Copy, Debug, PartialEq)]
enum WeightRef {
    Global(usize),
    Slot { var: usize, slot: usize },
}

/// Hyperparameter names every optimizer has.
pub const BASE_HYPERS: [&str; 2] = ["learning_rate", "decay"];

/// A Keras optimizer: a rule plus the shared state (iterations, slots, clipping, learning rate).
pub struct Optimizer<R: UpdateRule> {
    rule: R,
    name: String,
    learning_rate: f32,
    decay: f32,
    clipping: Clipping,
    iterations: u64,
    slot_specs: Vec<SlotSpec>,
    globals: Vec<f32>,
    vars: FastMap<TensorId, usize>,
    states: Vec<VarSlots>,
    weights: Vec<WeightRef>,
    /// Sizes of the batches of variables whose slots were created together (one per step that
    /// met new variables), so a checkpoint can recreate the same weight order.
    batches: Vec<usize>,
    scratch: Scratch,
}

/// Reused buffers, so steady-state steps allocate nothing.
#[derive(Default)]
struct Scratch {
    values: Vec<f32>,
    summed: Vec<f32>,
    rows: Vec<usize>,
    first_pos: FastMap<usize, usize>,
    preludes: Vec<Clip>,
    /// Row -> position of its gradient, for rules whose sparse update visits every row.
    grad_of_row: Vec<u32>,
}

impl<R: UpdateRule> Optimizer<R> {
    /// An optimizer named after the rule's Keras class, with the given learning rate.
    pub fn new(rule: R, learning_rate: f32) -> Result<Self> {
        let slot_specs = rule.slots();
        let mut opt = Optimizer {
            rule,
            name: R::CLASS_NAME.to_string(),
            learning_rate: 0.0,
            decay: 0.0,
            clipping: Clipping::default(),
            iterations: 0,
            slot_specs,
            globals: Vec::new(),
            vars: FastMap::default(),
            states: Vec::new(),
            weights: Vec::new(),
            batches: Vec::new(),
            scratch: Scratch::default(),
        };
        opt.set_hyper("learning_rate", learning_rate)?;
        Ok(opt)
    }

    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.set_name(name);
        self
    }

    pub fn set_name(&mut self, name: impl Into<String>) {
        self.name = name.into();
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn rule(&self) -> &R {
        &self.rule
    }

    pub fn iterations(&self) -> u64 {
        self.iterations
    }

    pub fn set_iterations(&mut self, it: u64) {
        self.iterations = it;
    }

    pub fn clipping(&self) -> Clipping {
        self.clipping
    }

    /// Sets the clipping options after Keras' checks (see [`Clipping::check`]); on error
    /// nothing changes.
    pub fn set_clipping(&mut self, c: Clipping) -> Result<()> {
        c.check()?;
        self.clipping = c;
        Ok(())
    }

    /// Names of every hyperparameter: `learning_rate`, `decay`, then the rule's.
    pub fn hyper_names(&self) -> Vec<&'static str> {
        BASE_HYPERS.iter().chain(self.rule.hyper_names()).copied().collect()
    }

    pub fn hyper(&self, name: &str) -> Result<f32> {
        match name {
            "learning_rate" => Ok(self.learning_rate),
            "decay" => Ok(self.decay),
            _ => self.rule.hyper(name).ok_or_else(|| Error::UnknownHyperparameter { name: name.into() }),
        }
    }

    /// Sets a hyperparameter; on error nothing changes.
    pub fn set_hyper(&mut self, name: &str, value: f32) -> Result<()> {
        match name {
            "learning_rate" => self.learning_rate = finite(name, value)?,
            "decay" => {
                let v = finite(name, value)?;
                if v < 0.0 {
                    return Err(Error::InvalidHyperparameter {
                        name: name.into(),
                        value: v as f64,
                        reason: format!("Expected decay >= 0, received: {}", py_float(v)),
                    });
                }
                self.decay = v
            }
            _ => self.rule.set_hyper(name, value)?,
        }
        Ok(())
    }

    /// The learning rate of the next step: Keras' `lr / (1 + decay * t)` when decay > 0.
    pub fn current_lr(&self) -> f32 {
        if self.decay > 0.0 && self.rule.uses_lr_decay() {
            self.learning_rate / (1.0 + self.decay * self.iterations as f32)
        } else {
            self.learning_rate
        }
    }

    /// Applies one step of gradients, as Keras' `apply_gradients`. `None` gradients are skipped;
    /// an empty list does nothing (not even the increment). On error nothing changes.
    pub fn apply_gradients(&mut self, store: &mut Store, pairs: &[(Option<Gradient<'_>>, TensorId)]) -> Result<()> {
        self.apply(store, pairs, None).map(|_| ())
    }

    /// [`Optimizer::apply_gradients`] that first checks every gradient for NaN and ±Inf (one read
    /// pass, after validation). If any is not finite, the step is skipped: no slot, variable or
    /// `iterations` changes, `Ok(false)` is returned and `non_finite` holds the positions in
    /// `pairs` of the offending gradients. Otherwise the step is applied as by `apply_gradients`
    /// and `Ok(true)` is returned (`non_finite` empty). Errors as `apply_gradients`.
    pub fn apply_gradients_checked(
        &mut self,
        store: &mut Store,
        pairs: &[(Option<Gradient<'_>>, TensorId)],
        non_finite: &mut Vec<usize>,
    ) -> Result<bool> {
        non_finite.clear(); // also for an empty list, which `apply` returns early on
        self.apply(store, pairs, Some(non_finite))
    }

    fn apply(&mut self, store: &mut Store, pairs: &[(Option<Gradient<'_>>, TensorId)], guard: Option<&mut Vec<usize>>) -> Result<bool> {
        if pairs.is_empty() {
            return Ok(true);
        }
        if !self.check_step(store, pairs, guard)? {
            return Ok(false);
        }
        let new_vars: Vec<TensorId> = pairs.iter().filter(|(g, v)| g.is_some() && !self.vars.contains_key(v)).map(|(_, v)| *v).collect();
        self.create_slots(store, &new_vars)?;
        self.compute_preludes(store, pairs);

        let ctx = StepContext { iteration: self.iterations, lr: self.current_lr(), decay: self.decay };
        let coeffs = self.rule.prepare(&ctx, &mut self.globals);
        let mut k = 0;
        for (g, var_id) in pairs {
            let Some(g) = g else { continue };
            let pre = self.scratch.preludes[k];
            k += 1;
            let state = self.vars[var_id];
            let slots = &mut self.states[state].slots;
            let tensor_grad = match *g {
                Gradient::Tensor(id) => Some(id),
                _ => None,
            };
            let (shape, var, held) = store.var_and_grad(*var_id, tensor_grad).expect("validated");
            match *g {
                Gradient::Dense(values) => apply_dense(&self.rule, &coeffs, pre, shape, var, values, slots),
                Gradient::Tensor(_) => apply_dense(&self.rule, &coeffs, pre, shape, var, held.expect("validated"), slots),
                Gradient::Sparse { indices, values } => {
                    let (n_rows, row_len) = (shape[0], row_len(shape));
                    let s = &mut self.scratch;
                    s.values.clear();
                    s.values.extend_from_slice(values);
                    if !pre.is_identity() {
                        pre.apply_slice(&mut s.values);
                    }
                    s.rows.clear();
                    if self.rule.sums_duplicates() {
                        combine_duplicates(indices, row_len, &mut s.values, &mut s.summed, &mut s.rows, &mut s.first_pos);
                    } else {
                        s.rows.extend(indices.iter().map(|&i| i as usize));
                    }
                    s.grad_of_row.clear();
                    if self.rule.sparse_visits_all_rows() {
                        s.grad_of_row.resize(n_rows, NO_GRAD);
                        for (k, &r) in s.rows.iter().enumerate() {
                            s.grad_of_row[r] = k as u32;
                        }
                    }
                    let g = SparseRows { rows: &s.rows, values: &s.values, row_len, grad_of_row: &s.grad_of_row };
                    self.rule.apply_sparse(&coeffs, SparseStep { shape, var, grad: g, slots });
                }
            }
        }
        self.iterations += 1;
        Ok(true)
    }

    /// The front half of a step, for optimizers whose update runs outside the core (custom
    /// optimizers written in JavaScript): validates `pairs` as [`Optimizer::apply_gradients`]
    /// does, checks for non-finite values when `guard` is given, and returns the clipping
    /// prelude of each non-None gradient, in order. Nothing changes: no slot, no variable, no
    /// `iterations`. `Ok(None)` when the guard found non-finite gradients (their positions are
    /// in `guard`); an empty list gives no preludes.
    pub fn prepare_external(
        &mut self,
        store: &Store,
        pairs: &[(Option<Gradient<'_>>, TensorId)],
        guard: Option<&mut Vec<usize>>,
    ) -> Result<Option<Vec<Clip>>> {
        if pairs.is_empty() {
            return Ok(Some(Vec::new()));
        }
        if !self.check_step(store, pairs, guard)? {
            return Ok(None);
        }
        self.compute_preludes(store, pairs);
        Ok(Some(self.scratch.preludes.clone()))
    }

    /// The checks every step makes before it changes anything: at least one gradient, a valid
    /// call (`validate`), and, with `guard`, no NaN or ±Inf (their positions go into `guard`;
    /// then `Ok(false)`).
    fn check_step(&self, store: &Store, pairs: &[(Option<Gradient<'_>>, TensorId)], guard: Option<&mut Vec<usize>>) -> Result<bool> {
        if pairs.iter().all(|(g, _)| g.is_none()) {
            let names: Vec<String> = pairs.iter().map(|(_, v)| store.get(*v).map(|t| t.name.clone()).unwrap_or_default()).collect();
            return Err(Error::InvalidState { message: format!("No gradients provided for any variable: {names:?}.") });
        }
        if self.iterations == u64::MAX {
            return Err(Error::InvalidState {
                message: format!("iterations is {}, the largest count: no further step can be counted", u64::MAX),
            });
        }
        self.validate(store, pairs)?;
        let Some(out) = guard else { return Ok(true) };
        out.clear();
        for (i, (g, _)) in pairs.iter().enumerate() {
            let finite = match *g {
                None => true,
                Some(Gradient::Dense(v)) | Some(Gradient::Sparse { values: v, .. }) => all_finite(v),
                Some(Gradient::Tensor(id)) => all_finite(&store.get(id)?.data),
            };
            if !finite {
                out.push(i);
            }
        }
        Ok(out.is_empty())
    }

    fn validate(&self, store: &Store, pairs: &[(Option<Gradient<'_>>, TensorId)]) -> Result<()> {
        // Duplicates: pairwise for short lists, a set for long ones (pairwise, 1000 variables
        // would be 500 000 comparisons per step).
        let long = pairs.len() > 16;
        let mut seen = FastSet::with_capacity_and_hasher(if long { pairs.len() } else { 0 }, Default::default());
        for (i, (g, var_id)) in pairs.iter().enumerate() {
            let var = store.get(*var_id)?;
            let duplicate = if long { !seen.insert(*var_id) } else { pairs[..i].iter().any(|(_, v)| v == var_id) };
            if duplicate {
                return Err(Error::DuplicateVariable { variable: var.name.clone() });
            }
            let Some(g) = g else { continue };
            let n = var.data.len();
            match *g {
                Gradient::Dense(values) => check_len(&var.name, n, values.len())?,
                Gradient::Tensor(id) => {
                    let t = store.get(id)?;
                    if id == *var_id {
                        return Err(Error::InvalidState {
                            message: format!("the gradient of variable '{}' is the variable itself", var.name),
                        });
                    }
                    check_len(&var.name, n, t.data.len())?
                }
                Gradient::Sparse { indices, values } => {
                    let rows = var.rows().ok_or_else(|| Error::SparseScalar { variable: var.name.clone() })?;
                    let row_len = row_len(&var.shape);
                    // Saturating: on wasm32 the product of a long index list and a long row can
                    // wrap around to a small number (and would pass the check).
                    check_len(&var.name, indices.len().saturating_mul(row_len), values.len())?;
                    if let Some((offset, &index)) = indices.iter().enumerate().find(|(_, &ix)| ix < 0 || ix as u64 >= rows as u64) {
                        return Err(Error::IndexOutOfRange { variable: var.name.clone(), index, offset, rows });
                    }
                }
            }
        }
        Ok(())
    }

    /// Creates the slots of `vars` now, as Keras' `_create_all_weights(var_list)` (`build`) does,
    /// instead of at their first step: variables that already have slots are skipped, the others
    /// get theirs as one batch, in the order given (the order of the weights, as a step with
    /// these variables would create them). Checks that every variable exists and none repeats;
    /// on error nothing changes.
    pub fn create_slots_for(&mut self, store: &Store, vars: &[TensorId]) -> Result<()> {
        let mut new_vars = Vec::new();
        for (i, id) in vars.iter().enumerate() {
            let t = store.get(*id)?;
            if vars[..i].contains(id) {
                return Err(Error::DuplicateVariable { variable: t.name.clone() });
            }
            if !self.vars.contains_key(id) {
                new_vars.push(*id);
            }
        }
        self.create_slots(store, &new_vars)
    }

    /// Creates slots for variables seen for the first time (validated, distinct), in Keras'
    /// order. The slot buffers are allocated before anything changes, so running out of memory
    /// is an error that changes nothing.
    fn create_slots(&mut self, store: &Store, new_vars: &[TensorId]) -> Result<()> {
        if new_vars.is_empty() {
            return Ok(());
        }
        // Initial values as the rule has them now (Adagrad's and Ftrl's initial_accumulator_value
        // may have been set since construction); the names and their order never change.
        let specs = self.rule.slots();
        let mut fresh = Vec::new();
        fresh.try_reserve_exact(new_vars.len()).map_err(|_| out_of_memory(new_vars.len()))?;
        for id in new_vars {
            let t = store.get(*id)?;
            let slots = specs.iter().map(|s| Slot::new(s, &t.shape)).collect::<Result<Vec<_>>>()?;
            fresh.push(VarSlots { var: *id, var_name: t.name.clone(), len: t.data.len(), slots });
        }
        if self.states.is_empty() && self.globals.is_empty() {
            for (i, spec) in self.rule.global_weights().iter().enumerate() {
                self.globals.push(spec.init);
                self.weights.push(WeightRef::Global(i));
            }
        }
        let first = self.states.len();
        for v in fresh {
            self.vars.insert(v.var, self.states.len());
            self.states.push(v);
        }
        let (nv, ns) = (new_vars.len(), self.slot_specs.len());
        for k in 0..nv * ns {
            let (var, slot) = if R::INTERLEAVED_SLOTS { (k / ns, k % ns) } else { (k % nv, k / nv) };
            self.weights.push(WeightRef::Slot { var: first + var, slot });
        }
        self.batches.push(nv);
        Ok(())
    }

    /// Sizes of the batches in which variables got their slots, in order (their sum is the
    /// number of variables with slots). Replaying them with [`Optimizer::create_slots_for`] on a
    /// fresh optimizer recreates the same weight list.
    pub fn slot_batches(&self) -> &[usize] {
        &self.batches
    }

    /// One clipping prelude per non-None gradient (norms in one read pass each).
    fn compute_preludes(&mut self, store: &Store, pairs: &[(Option<Gradient<'_>>, TensorId)]) {
        let c = self.clipping;
        let preludes = &mut self.scratch.preludes;
        preludes.clear();
        let grads = pairs.iter().filter_map(|(g, _)| g.as_ref());
        if c.clipnorm.is_none() && c.global_clipnorm.is_none() {
            preludes.extend(grads.map(|_| c.prelude(0.0, 0.0)));
            return;
        }
        let sums: Vec<f32> = grads
            .map(|g| {
                let values = match *g {
                    Gradient::Dense(v) | Gradient::Sparse { values: v, .. } => v,
                    Gradient::Tensor(id) => &store.get(id).expect("validated").data,
                };
                sum_of_squares(values, c.clipvalue)
            })
            .collect();
        // TF's global_norm: sqrt(2 * sum(l2_loss)), l2_loss = sum(x^2) / 2.
        let global = sums.iter().fold(0.0f32, |acc, s| acc + s * 0.5) * 2.0;
        preludes.extend(sums.iter().map(|&s| c.prelude(s, global)));
    }

    /// Number of weights: iterations, global weights, then slots.
    pub fn weight_count(&self) -> usize {
        1 + self.weights.len()
    }

    /// Keras names of the weights (`Adam/iter:0`, `Adam/w/m:0`, ...).
    pub fn weight_names(&self) -> Vec<String> {
        let globals = self.rule.global_weights();
        std::iter::once(format!("{}/iter:0", self.name))
            .chain(self.weights.iter().map(|w| match *w {
                WeightRef::Global(i) => format!("{}/{}:0", self.name, globals[i].name),
                WeightRef::Slot { var, slot } => format!("{}/{}/{}:0", self.name, self.states[var].var_name, self.slot_specs[slot].name),
            }))
            .collect()
    }

    /// The value of weight `i >= 1` (weight 0 is `iterations`).
    pub fn weight(&self, i: usize) -> Option<&[f32]> {
        match *self.weights.get(i.checked_sub(1)?)? {
            WeightRef::Global(g) => Some(core::slice::from_ref(&self.globals[g])),
            WeightRef::Slot { var, slot } => self.states[var].slots[slot].f32(),
        }
    }

    fn weight_mut(&mut self, i: usize) -> Option<&mut [f32]> {
        match *self.weights.get(i.checked_sub(1)?)? {
            WeightRef::Global(g) => Some(core::slice::from_mut(&mut self.globals[g])),
            WeightRef::Slot { var, slot } => self.states[var].slots[slot].f32_mut(),
        }
    }

    /// Keras' `set_weights`: `iterations`, then every other weight in order. Checks the count and
    /// every size before writing anything.
    pub fn set_weights(&mut self, iterations: u64, rest: &[&[f32]]) -> Result<()> {
        if rest.len() + 1 != self.weight_count() {
            return Err(Error::WeightCount { optimizer: self.name.clone(), expected: self.weight_count(), got: rest.len() + 1 });
        }
        for (k, w) in rest.iter().enumerate() {
            let expected = self.weight(k + 1).expect("counted").len();
            if w.len() != expected {
                return Err(Error::WeightShape { index: k + 1, expected, got: w.len() });
            }
        }
        for (k, w) in rest.iter().enumerate() {
            self.weight_mut(k + 1).expect("counted").copy_from_slice(w);
        }
        self.iterations = iterations;
        Ok(())
    }

    /// Slot names in creation order (Keras' `get_slot_names`).
    pub fn slot_names(&self) -> Vec<&str> {
        self.slot_specs.iter().map(|s| s.name.as_ref()).collect()
    }

    /// A slot of a variable (Keras' `get_slot`).
    pub fn slot(&self, var: TensorId, name: &str) -> Result<&[f32]> {
        let (state, slot) = self.slot_index(var, name)?;
        self.states[state].slots[slot].f32().ok_or_else(|| not_f32(name))
    }

    /// A mutable slot of a variable.
    pub fn slot_mut(&mut self, var: TensorId, name: &str) -> Result<&mut [f32]> {
        let (state, slot) = self.slot_index(var, name)?;
        self.states[state].slots[slot].f32_mut().ok_or_else(|| not_f32(name))
    }

    fn slot_index(&self, var: TensorId, name: &str) -> Result<(usize, usize)> {
        let unknown = || Error::UnknownSlot { variable: format!("{:?}", var), slot: name.into() };
        let state = *self.vars.get(&var).ok_or_else(unknown)?;
        let slot = self.slot_specs.iter().position(|s| s.name == name).ok_or_else(unknown)?;
        Ok((state, slot))
    }

    /// Variables that have slots, in first-seen order: handle, name when the slots were made,
    /// and element count (the handle may since have been disposed; the slots stay).
    pub fn slot_variables(&self) -> impl Iterator<Item = (TensorId, &str, usize)> + '_ {
        self.states.iter().map(|s| (s.var, s.var_name.as_str(), s.len))
    }
}

fn apply_dense<R: UpdateRule>(rule: &R, c: &R::Coeffs, pre: Clip, shape: &[usize], var: &mut [f32], grad: &[f32], slots: &mut [Slot]) {
    if pre.is_identity() {
        rule.apply_dense(c, DenseStep { pre: Identity, shape, var, grad, slots })
    } else if pre.is_scale_only() {
        rule.apply_dense(c, DenseStep { pre: Scale(pre.scale), shape, var, grad, slots })
    } else {
        rule.apply_dense(c, DenseStep { pre, shape, var, grad, slots })
    }
}

/// Whether every value is finite. One read pass without early exit: the largest exponent field
/// seen is all ones only for NaN and ±Inf, and a running maximum vectorises.
pub fn all_finite(values: &[f32]) -> bool {
    let mut max_exponent = 0u32;
    for &x in values {
        max_exponent = max_exponent.max(x.to_bits() & 0x7f80_0000);
    }
    max_exponent != 0x7f80_0000
}

/// Elements per row of a shape (saturating: with 0 rows the rest of the shape may overflow).
fn row_len(shape: &[usize]) -> usize {
    shape[1..].iter().fold(1usize, |n, &d| n.saturating_mul(d))
}

fn not_f32(slot: &str) -> Error {
    Error::InvalidState { message: format!("slot `{slot}` is not stored as float32") }
}

fn check_len(name: &str, expected: usize, got: usize) -> Result<()> {
    if expected == got {
        Ok(())
    } else {
        Err(Error::GradientShape { variable: name.into(), expected, got })
    }
}

/// Keras' `_deduplicate_indexed_slices`: unique rows in first-occurrence order, their values
/// summed in occurrence order (`unsorted_segment_sum`). Rewrites `values` in place (`summed` is
/// the reused buffer it swaps with).
fn combine_duplicates(
    indices: &[i64],
    row_len: usize,
    values: &mut Vec<f32>,
    summed: &mut Vec<f32>,
    rows: &mut Vec<usize>,
    first_pos: &mut FastMap<usize, usize>,
) {
    first_pos.clear();
    let mut has_dup = false;
    for &ix in indices {
        let r = ix as usize;
        if let std::collections::hash_map::Entry::Vacant(e) = first_pos.entry(r) {
            e.insert(rows.len());
            rows.push(r);
        } else {
            has_dup = true;
        }
    }
    if !has_dup {
        return;
    }
    summed.clear();
    summed.resize(rows.len() * row_len, 0.0);
    for (k, &ix) in indices.iter().enumerate() {
        let u = first_pos[&(ix as usize)];
        for (d, s) in summed[u * row_len..(u + 1) * row_len].iter_mut().zip(&values[k * row_len..(k + 1) * row_len]) {
            *d += *s;
        }
    }
    core::mem::swap(values, summed);
}

/// Maps keyed by tensor ids and row indices, hashed with FxHash (one rotate, xor and multiply
/// per word) rather than SipHash: they are looked up for every variable or row of every step.
type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;
type FastSet<K> = HashSet<K, BuildHasherDefault<FxHasher>>;

#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn write_usize(&mut self, x: usize) {
        self.write_u64(x as u64)
    }
}
