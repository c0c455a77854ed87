//! An optimizer: a rule plus the state every Keras optimizer shares (name, learning rate,
//! clipping, the Keras 3 stage options, `iterations`, slots and the weight list). The step
//! itself, stage by stage, is [`crate::step`].

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use crate::error::{Error, Result};
use crate::quant::{values, RawSlot};
use crate::rules::dispatch::{DynRule, Prepared};
use crate::rules::{finite, py_float, SlotSpec, UpdateRule, VarInfo};
use crate::slot::{filled, out_of_memory, Slot, SlotData, SlotDtype, SlotShape, SlotStorage};
use crate::step::clip::{Clip, Clipping};
use crate::step::constraints::Constraint;
use crate::step::rows::windows::Windows;
use crate::step::rows::RowMerge;
use crate::step::Stages;
use crate::store::{Store, TensorId};

mod weights;

/// A gradient for one variable.
#[derive(Clone, Copy, Debug)]
pub enum Gradient<'a> {
    /// Dense values, one per element of the variable.
    Dense(&'a [f32]),
    /// Dense values held in the store (no copy).
    Tensor(TensorId),
    /// Keras `IndexedSlices`: `indices.len()` rows of the variable, `values` holds them row-major.
    Sparse { indices: &'a [i64], values: &'a [f32] },
    /// `Sparse` whose rows are the values of a tensor of the store (read in place, no copy).
    SparseTensor { indices: &'a [i64], values: TensorId },
}

impl<'a> Gradient<'a> {
    /// The values held whole: dense, a tensor's, or the rows of a sparse gradient.
    pub(crate) fn values<'s>(&self, store: &'s Store) -> Result<&'s [f32]>
    where
        'a: 's,
    {
        Ok(match *self {
            Gradient::Dense(v) | Gradient::Sparse { values: v, .. } => v,
            Gradient::Tensor(id) | Gradient::SparseTensor { values: id, .. } => &store.get(id)?.data,
        })
    }

    /// The rows of a sparse gradient.
    pub(crate) fn indices(&self) -> Option<&'a [i64]> {
        match *self {
            Gradient::Sparse { indices, .. } | Gradient::SparseTensor { indices, .. } => Some(indices),
            Gradient::Dense(_) | Gradient::Tensor(_) => None,
        }
    }

    /// The tensor of the store that holds the values, if one does.
    pub(crate) fn tensor(&self) -> Option<TensorId> {
        match *self {
            Gradient::Tensor(id) | Gradient::SparseTensor { values: id, .. } => Some(id),
            Gradient::Dense(_) | Gradient::Sparse { .. } => None,
        }
    }
}

/// The state of one variable: the rule's slots and the Keras 3 stages' buffers.
pub(crate) struct VarSlots {
    pub(crate) var: TensorId,
    pub(crate) var_name: String,
    /// Elements of the variable.
    pub(crate) len: usize,
    pub(crate) slots: Vec<Slot>,
    /// Keras 3 `use_ema`: the moving average.
    pub(crate) average: Option<Vec<f32>>,
    /// Keras 3 `gradient_accumulation_steps`: the accumulated gradient.
    pub(crate) accumulator: Option<Vec<f32>>,
}

/// One entry of `weights` after `iterations`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum WeightRef {
    Global(usize),
    Average(usize),
    Accumulator(usize),
    Slot {
        var: usize,
        slot: usize,
    },
    /// An optimizer-wide weight of an external rule.
    Extra(usize),
}

/// An optimizer-wide weight of any shape that an external rule created.
pub(crate) struct ExtraWeight {
    pub(crate) name: String,
    pub(crate) shape: Vec<usize>,
    pub(crate) values: Vec<f32>,
}

/// Hyperparameter names every optimizer has.
pub const BASE_HYPERS: [&str; 2] = ["learning_rate", "decay"];

/// A Keras optimizer: a rule plus the shared state (iterations, slots, clipping, learning rate).
pub struct Optimizer {
    pub(crate) rule: Box<dyn DynRule>,
    name: String,
    learning_rate: f32,
    pub(crate) decay: f32,
    pub(crate) clipping: Clipping,
    /// Keras 3's stage options (none and not [`Optimizer::keras3_order`]: the TF 2.4 order).
    pub(crate) stages: Stages,
    /// Whether every step runs the Keras 3 order, stage options or not (every Keras 3 class).
    pub(crate) keras3_order: bool,
    /// Variables that weight decay skips (Keras 3's `exclude_from_weight_decay`).
    pub(crate) decay_excluded: FastSet<TensorId>,
    /// Variables the rule treats apart (Muon's `exclude_layers`), see [`VarInfo`].
    pub(crate) layer_excluded: FastSet<TensorId>,
    pub(crate) constraint: Option<Constraint>,
    /// Calls counted (Keras 3's `_iterations`).
    pub(crate) iterations: u64,
    pub(crate) slot_specs: Vec<SlotSpec>,
    pub(crate) globals: Vec<f32>,
    pub(crate) vars: FastMap<TensorId, usize>,
    pub(crate) states: Vec<VarSlots>,
    pub(crate) weights: Vec<WeightRef>,
    /// External rules' optimizer-wide weights.
    pub(crate) extras: Vec<ExtraWeight>,
    /// Sizes of the batches of variables whose slots were created together (one per step that
    /// met new variables), so a checkpoint can recreate the same weight order.
    pub(crate) batches: Vec<usize>,
    pub(crate) scratch: Scratch,
    /// How the rule's moment slots are stored (issue 16).
    pub(crate) slot_storage: SlotStorage,
    /// The f32 values of the last compressed weight read ([`Optimizer::weight_view`]).
    view: Vec<f32>,
}

/// Reused buffers, so steady-state steps allocate nothing.
#[derive(Default)]
pub(crate) struct Scratch {
    /// Sparse values rewritten by a prelude (unscale, clip).
    pub(crate) values: Vec<f32>,
    /// Sparse rows sorted and merged.
    pub(crate) rows: RowMerge,
    /// The sparse step's f32 windows of compressed slots.
    pub(crate) windows: Windows,
    /// The rule's buffer for a sparse step ([`crate::rules::SparseStep::scratch`]).
    pub(crate) sparse: Vec<f32>,
    /// An external Keras 3 step's gradients after unscale, accumulation and clipping
    /// ([`crate::external_keras3`]), one per non-None gradient.
    pub(crate) external: Vec<Vec<f32>>,
    pub(crate) preludes: Vec<Clip>,
    /// The gradients' squared norms (clipnorm, global_clipnorm).
    pub(crate) sums: Vec<f32>,
    /// Per state: whether this step's update fused its moving average (see `step::ema`).
    pub(crate) averaged: Vec<bool>,
}

impl Optimizer {
    /// An optimizer named after the rule's Keras class, with the given learning rate.
    pub fn new<R: UpdateRule>(rule: R, learning_rate: f32) -> Result<Self> {
        let slot_specs = rule.slots();
        let mut opt = Optimizer {
            rule: Box::new(Prepared::new(rule)),
            name: R::CLASS_NAME.to_string(),
            learning_rate: 0.0,
            decay: 0.0,
            clipping: Clipping::default(),
            stages: Stages::default(),
            keras3_order: R::KERAS3_ORDER,
            decay_excluded: FastSet::default(),
            layer_excluded: FastSet::default(),
            constraint: None,
            iterations: 0,
            slot_specs,
            globals: Vec::new(),
            vars: FastMap::default(),
            states: Vec::new(),
            weights: Vec::new(),
            extras: Vec::new(),
            batches: Vec::new(),
            scratch: Scratch::default(),
            slot_storage: SlotStorage::Float32,
            view: Vec::new(),
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

    /// The rule, if it is an `R`.
    pub fn rule<R: UpdateRule>(&self) -> Option<&R> {
        self.rule.as_any().downcast_ref()
    }

    /// The Keras class name of the rule.
    pub fn class_name(&self) -> &'static str {
        self.rule.class_name()
    }

    pub fn iterations(&self) -> u64 {
        self.iterations
    }

    pub fn set_iterations(&mut self, it: u64) {
        self.iterations = it;
    }

    /// Keras 3's stage options (see [`crate::step`]).
    pub fn stages(&self) -> &Stages {
        &self.stages
    }

    /// Sets Keras 3's stage options, after their checks. They shape the optimizer's state, so
    /// they can only be set before any variable has slots; on error nothing changes.
    pub fn set_stages(&mut self, stages: Stages) -> Result<()> {
        stages.check()?;
        if !self.states.is_empty() && stages != self.stages {
            return Err(Error::InvalidState {
                message: "Keras 3 stage options (EMA, accumulation, ...) must be set before the optimizer has slots".into(),
            });
        }
        self.stages = stages;
        Ok(())
    }

    /// Whether every step runs the Keras 3 order of stages (Keras 3 builds the state of every
    /// variable of a step, also those with a None gradient, and clips with its own formulas),
    /// whatever the stage options: true for the Keras 3 classes the registry builds.
    pub fn keras3_order(&self) -> bool {
        self.keras3_order
    }

    /// Turns the Keras 3 order on (the registry does it for the Keras 3 family); only before
    /// the optimizer has slots, like [`Optimizer::set_stages`].
    pub fn set_keras3_order(&mut self) -> Result<()> {
        if !self.states.is_empty() && !self.keras3_order {
            return Err(Error::InvalidState { message: "the Keras 3 order must be set before the optimizer has slots".into() });
        }
        self.keras3_order = true;
        Ok(())
    }

    /// Changes only the weight decay value (a Keras 3 `weight_decay` given as a schedule or
    /// function is resolved before each step): it shapes no state, so unlike
    /// [`Optimizer::set_stages`] it is allowed after the variables have slots. `None` turns the
    /// decay off. On error (not finite) nothing changes.
    pub fn set_weight_decay(&mut self, weight_decay: Option<f32>) -> Result<()> {
        let stages = Stages { weight_decay, ..self.stages.clone() };
        stages.check()?;
        self.stages = stages;
        Ok(())
    }

    /// Variables that weight decay skips (Keras 3's `exclude_from_weight_decay`, resolved to
    /// handles by the caller).
    pub fn set_weight_decay_exclusions(&mut self, vars: &[TensorId]) {
        self.decay_excluded = vars.iter().copied().collect();
    }

    /// Variables matched by Muon's `exclude_layers` (the regex search runs in the caller, on
    /// the Keras path). Read when a variable's slots are created.
    pub fn set_layer_exclusions(&mut self, vars: &[TensorId]) {
        self.layer_excluded = vars.iter().copied().collect();
    }

    /// The constraint hook of the Keras 3 order (see [`crate::step::constraints`]).
    pub fn set_constraint(&mut self, c: Option<Constraint>) {
        self.constraint = c;
    }

    /// Keras 3's `iterations`: `iterations()` divided by the accumulation steps, if any.
    pub fn update_iterations(&self) -> u64 {
        crate::step::count::update_iterations(self)
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
    pub(crate) fn create_slots(&mut self, store: &Store, new_vars: &[TensorId]) -> Result<()> {
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
            let info = VarInfo { name: &t.name, shape: &t.shape, layer_excluded: self.layer_excluded.contains(id) };
            let mut slots = specs
                .iter()
                .enumerate()
                .map(|(k, s)| if self.rule.has_slot(k, &info) { Slot::stored(s, &t.shape, self.slot_storage) } else { Ok(Slot::absent()) })
                .collect::<Result<Vec<_>>>()?;
            self.rule.init_slots(&t.data, &mut slots);
            let n = t.data.len();
            let average = self.stages.ema.map(|_| filled(n, 0.0)).transpose()?;
            let accumulator = self.stages.gradient_accumulation_steps.map(|_| filled(n, 0.0)).transpose()?;
            fresh.push(VarSlots { var: *id, var_name: t.name.clone(), len: n, slots, average, accumulator });
        }
        // Keras 3's order: moving averages, accumulators, then the rule's weights.
        let first = self.states.len();
        let batch = first..first + fresh.len();
        if self.stages.ema.is_some() {
            self.weights.extend(batch.clone().map(WeightRef::Average));
        }
        if self.stages.gradient_accumulation_steps.is_some() {
            self.weights.extend(batch.map(WeightRef::Accumulator));
        }
        let first_globals = self.states.is_empty() && self.globals.is_empty();
        let globals_last = self.rule.globals_last();
        if first_globals && !globals_last {
            self.push_globals();
        }
        for v in fresh {
            self.vars.insert(v.var, self.states.len());
            self.states.push(v);
        }
        // Slot groups one after the other; within a group, variable by variable.
        let nv = new_vars.len();
        let mut start = 0;
        for size in self.rule.slot_groups() {
            for var in first..first + nv {
                let present = |&slot: &usize| !matches!(self.states[var].slots[slot].data, SlotData::Absent);
                let refs: Vec<WeightRef> = (start..start + size).filter(present).map(|slot| WeightRef::Slot { var, slot }).collect();
                self.weights.extend(refs);
            }
            start += size;
        }
        debug_assert_eq!(start, specs.len(), "slot groups cover every slot once");
        if first_globals && globals_last {
            self.push_globals();
        }
        self.batches.push(nv);
        Ok(())
    }

    fn push_globals(&mut self) {
        for (i, spec) in self.rule.global_weights().iter().enumerate() {
            self.globals.push(spec.init);
            self.weights.push(WeightRef::Global(i));
        }
    }

    /// Sizes of the batches in which variables got their slots, in order (their sum is the
    /// number of variables with slots). Replaying them with [`Optimizer::create_slots_for`] on a
    /// fresh optimizer recreates the same weight list.
    pub fn slot_batches(&self) -> &[usize] {
        &self.batches
    }

    /// The rule's slot declarations, in creation order.
    pub fn slot_specs(&self) -> &[SlotSpec] {
        &self.slot_specs
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
        match self.states[state].slots.get(slot).map(|s| &s.data) {
            None | Some(SlotData::Absent) => Err(unknown()),
            Some(_) => Ok((state, slot)),
        }
    }

    /// Variables that have slots, in first-seen order: handle, name when the slots were made,
    /// and element count (the handle may since have been disposed; the slots stay).
    pub fn slot_variables(&self) -> impl Iterator<Item = (TensorId, &str, usize)> + '_ {
        self.states.iter().map(|s| (s.var, s.var_name.as_str(), s.len))
    }
}

/// Whether a rule's slots may be stored compressed: all of them moments of the variable's
/// shape (the external rule's slots are its own, never compressed).
pub(crate) fn supports_compressed_slots(specs: &[crate::rules::SlotSpec], class_name: &str) -> bool {
    class_name != "External" && specs.iter().all(|s| s.moment.is_some() && s.shape == SlotShape::LikeVar)
}

fn not_f32(slot: &str) -> Error {
    Error::InvalidState { message: format!("slot `{slot}` is not stored as float32") }
}

/// Maps keyed by tensor ids and row indices, hashed with FxHash (one rotate, xor and multiply
/// per word) rather than SipHash: they are looked up for every variable or row of every step.
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;
pub(crate) type FastSet<K> = HashSet<K, BuildHasherDefault<FxHasher>>;

#[derive(Default)]
pub(crate) struct FxHasher(u64);

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
