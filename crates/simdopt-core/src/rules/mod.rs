//! Update rules: one file per optimizer, each declaring its hyperparameters, its slots and its
//! fused kernels. The shared step (validation, slot creation, clipping, iterations) lives in
//! [`crate::optimizer::Optimizer`].

use crate::drive::{self, GradIn, LaneKernel};
use crate::error::{Error, Result};
pub use crate::registry::Options;
pub use crate::slot::{Slot, SlotDtype, SlotShape, SlotSpec};
use crate::step::clip::Identity;
use crate::step::rows;
use crate::step::DensePrelude;

pub mod adadelta;
pub mod adagrad;
pub mod adam;
pub mod adamax;
pub mod dispatch;
pub mod external;
pub mod ftrl;
pub mod hypers;
pub mod keras3;
pub mod lion;
pub mod nadam;
pub mod rmsprop;
pub mod sgd;

pub use adadelta::Adadelta;
pub use adagrad::Adagrad;
pub use adam::Adam;
pub use adamax::Adamax;
pub use ftrl::Ftrl;
pub(crate) use hypers::{hyper_fields, hypers_in, tf24_epsilon};
pub use lion::Lion;
pub use nadam::Nadam;
pub use rmsprop::RmsProp;
pub use sgd::Sgd;

/// A variable as a rule sees it when its slots are created.
#[derive(Clone, Copy, Debug)]
pub struct VarInfo<'a> {
    /// The tensor's name (the facade names tensors by their Keras path, `dense/kernel`).
    pub name: &'a str,
    pub shape: &'a [usize],
    /// Whether the caller marked it with [`crate::Optimizer::set_layer_exclusions`] (Muon's
    /// `exclude_layers`, a regex search the facade runs on the Keras path).
    pub layer_excluded: bool,
}

/// What one step of a rule sees besides the gradients.
#[derive(Clone, Copy, Debug)]
pub struct StepContext {
    /// `iterations` before this step's increment (Keras' `t`).
    pub iteration: u64,
    /// The effective learning rate of this step (schedule and legacy decay applied).
    pub lr: f32,
    /// The base class' `decay` hyperparameter (Nadam reads it as its `schedule_decay`).
    pub decay: f32,
}

/// One variable's dense step as a rule sees it: the gradient prelude the core fused into this
/// step (clipping; identity when none), the variable's shape and values, its gradient and its
/// slots (in [`UpdateRule::slots`] order, each of its declared shape and storage).
pub struct DenseStep<'a, P> {
    pub pre: P,
    pub shape: &'a [usize],
    pub var: &'a mut [f32],
    pub grad: GradIn<'a>,
    pub slots: &'a mut [Slot],
    /// The optimizer's calls so far (`iterations`): seeds the stochastic rounding of bfloat16 slots.
    pub iteration: u64,
}

/// One variable's sparse step: duplicates handled as [`UpdateRule::sums_duplicates`] asks,
/// preludes already applied to the values.
pub struct SparseStep<'a> {
    pub shape: &'a [usize],
    pub var: &'a mut [f32],
    pub grad: SparseRows<'a>,
    pub slots: &'a mut [Slot],
    /// A buffer the rule may use for the step, kept between steps (Keras 3's densified
    /// gradient windows), so that steps allocate nothing.
    pub scratch: &'a mut Vec<f32>,
}

/// A sparse update after Keras' duplicate handling: the rows in ascending order, unique when the
/// rule sums duplicates, and where each row's values are (see [`crate::step::rows`]).
#[derive(Clone, Copy)]
pub struct SparseRows<'a> {
    pub rows: &'a [usize],
    /// Per entry of `rows`: the element offset of its values in `values`, or (at
    /// `values.len()` and beyond) in `merged`.
    pub at: &'a [usize],
    pub values: &'a [f32],
    pub merged: &'a [f32],
    pub row_len: usize,
    /// Rows of the variable.
    pub n_rows: usize,
    /// Whether the rows read in place (from `values`) take `0 + g` in the kernel's pass (the
    /// step had repeated rows; see [`crate::step::rows`]).
    pub zero_add: bool,
}

impl SparseRows<'_> {
    /// The gradient values of the `k`-th row.
    #[inline]
    pub fn row_values(&self, k: usize) -> &[f32] {
        let (a, w) = (self.at[k], self.row_len);
        match a.checked_sub(self.values.len()) {
            None => &self.values[a..a + w],
            Some(m) => &self.merged[m..m + w],
        }
    }

    /// The gradient values of the `k`-th row as a kernel sees them (with the `0 + g` of
    /// [`SparseRows::update_row`]), for rules that read rows outside the lane driver.
    pub fn row_gradient(&self, k: usize) -> impl Iterator<Item = f32> + '_ {
        let zero = self.zero_add && self.at[k] < self.values.len();
        self.row_values(k).iter().map(move |&x| if zero { 0.0 + x } else { x })
    }

    /// Runs `kernel` on the `k`-th row (`var` and `slots` are that row's elements) with its
    /// gradient, as `0 + g` where the merge leaves that to the kernel.
    #[inline]
    pub fn update_row<K: LaneKernel<S>, const S: usize>(&self, k: usize, kernel: &K, var: &mut [f32], slots: [&mut [f32]; S]) {
        rows::update_row(kernel, var, self.row_values(k), self.zero_add && self.at[k] < self.values.len(), slots)
    }

    /// For rules that touch every row (they sum duplicates, so the rows are unique): each row
    /// with a gradient ([`RowRun::Grad`]) and each maximal run of rows without one
    /// ([`RowRun::NoGrad`], as one element range), in row order.
    pub fn all_rows(&self) -> impl Iterator<Item = RowRun> + '_ {
        let w = self.row_len;
        let (mut next, mut k) = (0, 0);
        core::iter::from_fn(move || {
            if next >= self.n_rows {
                return None;
            }
            let row = self.rows.get(k).copied().unwrap_or(self.n_rows);
            if row > next {
                let start = next;
                next = row;
                return Some(RowRun::NoGrad(start * w..row * w));
            }
            next = row + 1;
            k += 1;
            Some(RowRun::Grad { row, k: k - 1 })
        })
    }
}

/// See [`SparseRows::all_rows`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RowRun {
    /// Row `row` has the `k`-th gradient row.
    Grad { row: usize, k: usize },
    /// These elements belong to rows without a gradient.
    NoGrad(core::ops::Range<usize>),
}

/// Runs `k` on each indexed row of a sparse step (the rows of `var` and of every slot).
pub fn update_indexed_rows<K: LaneKernel<S>, const S: usize>(k: &K, var: &mut [f32], g: &SparseRows<'_>, slots: [&mut [f32]; S]) {
    rows::update_rows(k, var, g, slots)
}

/// Runs `with` on each row that has a gradient and `without` on each run of rows that has none
/// (rules whose sparse update touches every row), in row order.
pub fn update_all_rows<KW: LaneKernel<S>, KO: LaneKernel<S>, const S: usize>(
    with: &KW,
    without: &KO,
    var: &mut [f32],
    g: &SparseRows<'_>,
    mut slots: [&mut [f32]; S],
) {
    let w = g.row_len;
    for run in g.all_rows() {
        match run {
            RowRun::Grad { row, k } => {
                let span = row * w..(row + 1) * w;
                g.update_row(k, with, &mut var[span.clone()], drive::rows(&mut slots, span))
            }
            RowRun::NoGrad(span) => drive::update(Identity, without, &mut var[span.clone()], &[], drive::rows(&mut slots, span)),
        }
    }
}

/// A constructor option of a class: Keras name and default. Numbers are hyperparameters (may
/// change later), flags are fixed at construction (`default` is 0 or 1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hyper {
    pub name: &'static str,
    pub default: f32,
    pub flag: bool,
}

impl Hyper {
    pub const fn number(name: &'static str, default: f32) -> Self {
        Hyper { name, default, flag: false }
    }

    pub const fn flag(name: &'static str, default: bool) -> Self {
        Hyper { name, default: if default { 1.0 } else { 0.0 }, flag: true }
    }
}

/// Options several classes share.
pub const BETA_1: Hyper = Hyper::number("beta_1", 0.9);
pub const BETA_2: Hyper = Hyper::number("beta_2", 0.999);
pub const EPSILON: Hyper = Hyper::number("epsilon", 1e-7);
pub const MOMENTUM: Hyper = Hyper::number("momentum", 0.0);
pub const INITIAL_ACCUMULATOR_VALUE: Hyper = Hyper::number("initial_accumulator_value", 0.1);

/// TF 2.4's moment hyperparameters of Adam, Adamax and Nadam (an epsilon of 0 becomes 1e-7).
pub type Betas = hypers::MomentHypers<false>;

/// One optimizer's maths. Kernels must read each element of the variable, gradient and slots
/// once and write it once.
pub trait UpdateRule: Clone + Send + Sync + 'static {
    /// Keras class name (`"Adam"`), also the default optimizer name.
    const CLASS_NAME: &'static str;
    /// Keras creates each slot for all variables before the next slot ("all m, then all v"),
    /// except Ftrl, which interleaves slots per variable.
    const INTERLEAVED_SLOTS: bool = false;
    /// Whether the optimizer-wide weights come after the slots in the weight list (Keras 3's
    /// Nadam creates `u_product` last) rather than before them (TF 2.4's `momentum_cache`).
    const GLOBALS_LAST: bool = false;
    /// Default of Keras 3's `weight_decay` (AdamW: 0.004; None: off).
    const WEIGHT_DECAY: Option<f32> = None;
    /// Whether an optimizer of this rule runs the Keras 3 order of stages from the start (see
    /// [`crate::Optimizer::keras3_order`]; the registry turns it on for every Keras 3 class).
    const KERAS3_ORDER: bool = false;
    /// Whether this is a Keras 3 class' rule, which the registry always runs in the Keras 3
    /// order: its dense passes are then compiled for the Keras 3 prelude alone, and TF 2.4's
    /// preludes (an optimizer built outside the registry) run through their Keras 3 form, which
    /// gives the same bits ([`crate::step::DensePrelude`]).
    const KERAS3_FAMILY: bool = false;
    /// Default learning rate.
    const LEARNING_RATE: f32 = 0.001;
    /// Default of the base class' `decay`.
    const DECAY: f32 = 0.0;
    /// A constructor key that sets `decay` too and wins over it (Nadam's `schedule_decay`).
    const DECAY_ALIAS: Option<&'static str> = None;
    /// The rule's constructor options with their defaults, in Keras' `get_config` order (the
    /// registry's table; `from_options` takes them with these defaults).
    const CONFIG: &'static [Hyper];
    /// Per-step scalars computed once per `apply_gradients`.
    type Coeffs: Copy + Send + Sync;

    /// Builds the rule from Keras constructor options (defaults for missing keys).
    fn from_options(o: &mut Options<'_>) -> Result<Self>;

    /// Slots per variable in Keras creation order (depends on the configuration).
    fn slots(&self) -> Vec<SlotSpec>;
    /// How many slots each creation group holds, in order: a group's slots are created
    /// variable by variable (interleaved), and every variable gets a group before the next
    /// group starts (Keras 3: one `add_optimizer_variables` call per group). The default is
    /// one group of all slots with [`UpdateRule::INTERLEAVED_SLOTS`], else one per slot.
    fn slot_groups(&self) -> Vec<usize> {
        let n = self.slots().len();
        if Self::INTERLEAVED_SLOTS {
            vec![n]
        } else {
            vec![1; n]
        }
    }
    /// Whether a variable gets slot `slot` (index into [`UpdateRule::slots`]); a slot it does
    /// not get is absent and not a weight (Muon: `velocity` only for its AdamW variables).
    fn has_slot(&self, _slot: usize, _var: &VarInfo<'_>) -> bool {
        true
    }
    /// Sets a new variable's slots from its values, after they were filled with their initial
    /// values (ScheduleFreeAdamW: `momentum` starts as a copy of the variable).
    fn init_slots(&self, _var: &[f32], _slots: &mut [Slot]) {}
    /// The weight decay of a variable, given the stage's (`weight_decay`) and the variable's
    /// slots (Muon: `adam_weight_decay` for the variables it updates with AdamW).
    fn weight_decay(&self, stage: Option<f32>, _slots: &[Slot]) -> Option<f32> {
        stage
    }
    /// Optimizer-wide scalar weights, created with the first slots (Nadam's `momentum_cache`).
    fn global_weights(&self) -> Vec<SlotSpec> {
        Vec::new()
    }
    /// Whether the base class' legacy `decay` divides the learning rate (Nadam: no).
    fn uses_lr_decay(&self) -> bool {
        true
    }
    /// Names of the rule's own hyperparameters (besides `learning_rate` and `decay`).
    fn hyper_names(&self) -> &'static [&'static str];
    fn hyper(&self, name: &str) -> Option<f32>;
    /// Sets a hyperparameter after validating it; leaves the rule unchanged on error.
    fn set_hyper(&mut self, name: &str, value: f32) -> Result<()>;

    /// Computes the step's scalars; may update the global weights (Nadam's cache).
    fn prepare(&self, ctx: &StepContext, globals: &mut [f32]) -> Self::Coeffs;
    /// Dense update of one variable. A rule may run several passes (reductions in the fixed
    /// order of [`crate::reduce`]), but each pass goes through the lane driver
    /// ([`crate::drive`]).
    fn apply_dense<P: DensePrelude>(&self, c: &Self::Coeffs, step: DenseStep<'_, P>);
    /// Sparse update of one variable (duplicates already combined, unless
    /// [`UpdateRule::sums_duplicates`] is false, in which case rows may repeat).
    fn apply_sparse(&self, c: &Self::Coeffs, step: SparseStep<'_>);
    /// Whether the sparse path wants duplicate indices summed first (Keras' default); SGD without
    /// momentum scatter-adds the raw slices instead.
    fn sums_duplicates(&self) -> bool {
        true
    }
    /// Whether `global_clipnorm` turns a sparse gradient into its densified sum before the
    /// rule sees it (Keras 3 on TensorFlow: the scale multiplies an `IndexedSlices` with Python
    /// `*`, which densifies it), so that duplicates are combined even if
    /// [`UpdateRule::sums_duplicates`] is false.
    fn global_clip_densifies(&self) -> bool {
        false
    }
    /// Whether the sparse update reads and writes only the gradient's rows (TF's sparse apply
    /// ops). False, the safe answer, for rules that change other rows too (Keras' Python paths
    /// that decay a whole slot, walking [`SparseRows::all_rows`]; the Keras 3 rules, which
    /// densify). On compressed slots, a rule that says true skips the rows without a gradient
    /// ([`crate::step::rows::windows`]); one that says so wrongly fails
    /// `windows_give_the_bits_of_one_window` there.
    fn sparse_touches_only_rows(&self) -> bool {
        false
    }
}

/// Checks that a hyperparameter is a finite number.
pub fn finite(name: &str, v: f32) -> Result<f32> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(Error::InvalidHyperparameter {
            name: name.into(),
            value: v as f64,
            reason: format!("hyperparameter `{name}` must be a finite number, got {v}"),
        })
    }
}

/// Keras' `epsilon or backend.epsilon()`: an epsilon of 0 becomes 1e-7.
pub fn keras_epsilon(v: f32) -> f32 {
    if v == 0.0 {
        1e-7
    } else {
        v
    }
}

/// `x^y` in f32 as TF's CPU kernels get it from glibc's `powf`: correctly rounded in practice.
/// Computed as `libm::pow` in f64, rounded once, so native, wasm and the scalar lanes agree bit
/// for bit. (`libm::powf` is not correctly rounded for about 1 input in 15, which shows in Ftrl
/// trajectories with `learning_rate_power != -0.5`.)
#[inline]
pub fn powf(x: f32, y: f32) -> f32 {
    libm::pow(x as f64, y as f64) as f32
}

/// Python's `%s` of a float: `-1.0`, `-0.1`.
pub fn py_float(v: f32) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e16 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

/// Checks a hyperparameter with `ok`; on failure, Keras' `message`.
pub fn check(name: &str, v: f32, ok: bool, message: String) -> Result<f32> {
    if ok {
        Ok(v)
    } else {
        Err(Error::InvalidHyperparameter { name: name.into(), value: v as f64, reason: message })
    }
}

/// Keras' check for `momentum`: a number in [0, 1].
pub fn momentum_in_unit_range(v: f32) -> Result<f32> {
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(Error::InvalidHyperparameter { name: "momentum".into(), value: v as f64, reason: "`momentum` must be between [0, 1].".into() })
    }
}

/// Shared by the rules' one-step tests: runs `steps` dense steps of a rule through an optimizer
/// and compares with a reference computed in f64 by the test.
#[cfg(test)]
pub(crate) mod one_step {
    use super::UpdateRule;
    use crate::{Gradient, Optimizer, Store, Tensor};

    /// Nine elements: a SIMD body and a scalar tail on every build.
    pub const X: [f32; 9] = [0.5, -1.25, 2.0, 0.75, -0.3, 1.5, -2.5, 0.1, 3.0];
    pub const G: [f32; 9] = [0.2, -0.4, 0.05, 1.5, -0.9, 0.3, 0.7, -0.01, -2.0];

    /// The variable and the optimizer after one step of `G` from `X`.
    pub fn run<R: UpdateRule>(rule: R, lr: f32) -> (Vec<f32>, Optimizer) {
        run_with_decay(rule, lr, 0.0)
    }

    /// [`run`] with the base class' `decay` set (Nadam's `schedule_decay`).
    pub fn run_with_decay<R: UpdateRule>(rule: R, lr: f32, decay: f32) -> (Vec<f32>, Optimizer) {
        let mut store = Store::new();
        let w = store.insert(Tensor::new("w", vec![X.len()], X.to_vec()).unwrap());
        let mut opt = Optimizer::new(rule, lr).unwrap();
        opt.set_hyper("decay", decay).unwrap();
        opt.apply_gradients(&mut store, &[(Some(Gradient::Dense(&G)), w)]).unwrap();
        (store.get(w).unwrap().data.clone(), opt)
    }

    /// `got` (f32) within `1e-5 · max(1, |want|)` of the f64 reference, element by element.
    pub fn close(what: &str, got: &[f32], want: impl Fn(usize) -> f64) {
        for (i, &g) in got.iter().enumerate() {
            let w = want(i);
            assert!((g as f64 - w).abs() <= 1e-5 * w.abs().max(1.0), "{what}[{i}]: {g} vs f64 {w}");
        }
    }

    /// The slot `name` of the variable (the only one) of `opt`.
    pub fn slot<'a>(opt: &'a Optimizer, name: &str) -> &'a [f32] {
        let (var, _, _) = opt.slot_variables().next().expect("one variable");
        opt.slot(var, name).unwrap()
    }
}
