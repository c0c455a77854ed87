//! RMSprop, optionally centered. Two different formulas, chosen at construction like SGD's
//! momentum: with momentum, TF's `ResourceApplyRMSProp` / `ResourceApplyCenteredRMSProp` kernels
//! (ε inside the square root) and their sparse forms (only the indexed rows change); without,
//! Keras' Python ops (ε outside the square root), whose sparse form decays `rms` (and `mg`) over
//! every row but moves only the indexed rows of the variable.

use super::{finite, keras_epsilon, momentum_in_unit_range, Options, SlotSpec, SparseRows, StepContext, UpdateRule};
use crate::clip::GradPrelude;
use crate::error::{Error, Result};
use crate::lanes::{drive, ElementKernel, Lanes};

#[derive(Clone, Debug, PartialEq)]
pub struct RmsProp {
    rho: f32,
    momentum: f32,
    epsilon: f32,
    centered: bool,
    /// Keras' `_momentum` flag, fixed at construction: momentum > 0 gives a `momentum` slot and
    /// the fused kernels, even if the momentum is later set to 0.
    use_momentum: bool,
}

impl Default for RmsProp {
    fn default() -> Self {
        RmsProp { rho: 0.9, momentum: 0.0, epsilon: 1e-7, centered: false, use_momentum: false }
    }
}

impl RmsProp {
    pub fn new(rho: f32, momentum: f32, epsilon: f32, centered: bool) -> Result<Self> {
        let mut r = RmsProp { centered, ..RmsProp::default() };
        r.set_hyper("rho", rho)?;
        r.set_hyper("momentum", momentum)?;
        r.set_hyper("epsilon", epsilon)?;
        r.use_momentum = r.momentum > 0.0;
        Ok(r)
    }

    pub fn centered(&self) -> bool {
        self.centered
    }

    /// Whether this optimizer has a `momentum` slot (and uses the fused kernels).
    pub fn uses_momentum(&self) -> bool {
        self.use_momentum
    }
}

#[derive(Clone, Copy)]
pub struct RmsPropCoeffs {
    lr: f32,
    neg_lr: f32,
    rho: f32,
    one_minus_rho: f32,
    momentum: f32,
    epsilon: f32,
}

impl UpdateRule for RmsProp {
    const CLASS_NAME: &'static str = "RMSprop";
    type Coeffs = RmsPropCoeffs;

    fn from_options(o: &mut Options<'_>) -> Result<Self> {
        RmsProp::new(o.take("rho", 0.9), o.take("momentum", 0.0), o.take("epsilon", 1e-7), o.take_flag("centered", false))
    }

    fn slots(&self) -> Vec<SlotSpec> {
        let mut s = vec![SlotSpec { name: "rms", init: 0.0 }];
        if self.use_momentum {
            s.push(SlotSpec { name: "momentum", init: 0.0 });
        }
        if self.centered {
            s.push(SlotSpec { name: "mg", init: 0.0 });
        }
        s
    }

    fn hyper_names(&self) -> &'static [&'static str] {
        &["rho", "momentum", "epsilon"]
    }

    fn hyper(&self, name: &str) -> Option<f32> {
        match name {
            "rho" => Some(self.rho),
            "momentum" => Some(self.momentum),
            "epsilon" => Some(self.epsilon),
            _ => None,
        }
    }

    fn set_hyper(&mut self, name: &str, value: f32) -> Result<()> {
        let v = finite(name, value)?;
        match name {
            "rho" => self.rho = v,
            "momentum" => self.momentum = momentum_in_unit_range(v)?,
            "epsilon" => self.epsilon = keras_epsilon(v),
            _ => return Err(Error::UnknownHyperparameter { name: name.into() }),
        }
        Ok(())
    }

    fn prepare(&self, ctx: &StepContext, _globals: &mut [f32]) -> RmsPropCoeffs {
        RmsPropCoeffs {
            lr: ctx.lr,
            neg_lr: -ctx.lr,
            rho: self.rho,
            one_minus_rho: 1.0 - self.rho,
            momentum: self.momentum,
            epsilon: self.epsilon,
        }
    }

    fn apply_dense<P: GradPrelude>(&self, c: &RmsPropCoeffs, pre: P, var: &mut [f32], grad: &[f32], slots: &mut [Vec<f32>]) {
        let s = SlotPtrs::new(self, slots);
        let (var, grad, n) = (var.as_mut_ptr(), grad.as_ptr(), var.len());
        match (self.use_momentum, self.centered) {
            (true, false) => drive(&MomentumDense::<P, false> { c: *c, pre, var, grad, s }, n),
            (true, true) => drive(&MomentumDense::<P, true> { c: *c, pre, var, grad, s }, n),
            (false, false) => drive(&PlainDense::<P, false> { c: *c, pre, var, grad, s }, n),
            (false, true) => drive(&PlainDense::<P, true> { c: *c, pre, var, grad, s }, n),
        }
    }

    fn apply_sparse(&self, c: &RmsPropCoeffs, var: &mut [f32], g: SparseRows<'_>, slots: &mut [Vec<f32>]) {
        let s = SlotPtrs::new(self, slots);
        let var = var.as_mut_ptr();
        let w = g.row_len;
        if self.use_momentum {
            for (k, &r) in g.rows.iter().enumerate() {
                // SAFETY: the row lies within the variable, and its slots have its length.
                let (var, s) = unsafe { (var.add(r * w), s.offset(r * w)) };
                let grad = g.row_values(k).as_ptr();
                match self.centered {
                    false => drive(&MomentumSparse::<false> { c: *c, var, grad, s }, w),
                    true => drive(&MomentumSparse::<true> { c: *c, var, grad, s }, w),
                }
            }
        } else {
            // SAFETY (all offsets): every row or run of rows lies within the variable.
            let centered = self.centered;
            g.for_all_rows(
                |r, k| {
                    let (var, s) = unsafe { (var.add(r * w), s.offset(r * w)) };
                    let grad = g.row_values(k).as_ptr();
                    match centered {
                        false => drive(&PlainSparse::<false, true> { c: *c, var, grad, s }, w),
                        true => drive(&PlainSparse::<true, true> { c: *c, var, grad, s }, w),
                    }
                },
                |span| {
                    let (var, s, grad) = unsafe { (var.add(span.start), s.offset(span.start), core::ptr::null()) };
                    match centered {
                        false => drive(&PlainSparse::<false, false> { c: *c, var, grad, s }, span.len()),
                        true => drive(&PlainSparse::<true, false> { c: *c, var, grad, s }, span.len()),
                    }
                },
            );
        }
    }

    fn sparse_visits_all_rows(&self) -> bool {
        !self.use_momentum
    }
}

/// The slots of one variable; `mom` and `mg` are null when the optimizer has no such slot.
#[derive(Clone, Copy)]
struct SlotPtrs {
    rms: *mut f32,
    mom: *mut f32,
    mg: *mut f32,
}

impl SlotPtrs {
    fn new(rule: &RmsProp, slots: &mut [Vec<f32>]) -> Self {
        let mut it = slots.iter_mut();
        let rms = it.next().expect("rms slot").as_mut_ptr();
        let mom = if rule.use_momentum { it.next().expect("momentum slot").as_mut_ptr() } else { core::ptr::null_mut() };
        let mg = if rule.centered { it.next().expect("mg slot").as_mut_ptr() } else { core::ptr::null_mut() };
        SlotPtrs { rms, mom, mg }
    }

    /// # Safety
    /// `e` must lie within the slots.
    unsafe fn offset(self, e: usize) -> Self {
        let at = |p: *mut f32| if p.is_null() { p } else { p.add(e) };
        SlotPtrs { rms: self.rms.add(e), mom: at(self.mom), mg: at(self.mg) }
    }
}

/// The fused kernels: `ms += (g² - ms)*(1-rho)`; centered: `mg += (g - mg)*(1-rho)`,
/// `denom = (ms - mg²) + eps`, else `denom = ms + eps`; `mom = mom*mu + (g*lr) / sqrt(denom)`;
/// `var -= mom`.
struct MomentumDense<P, const CENTERED: bool> {
    c: RmsPropCoeffs,
    pre: P,
    var: *mut f32,
    grad: *const f32,
    s: SlotPtrs,
}

impl<P: GradPrelude, const CENTERED: bool> ElementKernel for MomentumDense<P, CENTERED> {
    #[inline(always)]
    unsafe fn step<L: Lanes>(&self, i: usize) {
        let (c, s) = (&self.c, &self.s);
        let omr = L::splat(c.one_minus_rho);
        let g = self.pre.apply(L::load(self.grad.add(i)));
        let mut ms = L::load(s.rms.add(i));
        ms = ms + (g * g - ms) * omr;
        ms.store(s.rms.add(i));
        let denom = if CENTERED {
            let mut mg = L::load(s.mg.add(i));
            mg = mg + (g - mg) * omr;
            mg.store(s.mg.add(i));
            (ms - mg * mg) + L::splat(c.epsilon)
        } else {
            ms + L::splat(c.epsilon)
        };
        let mom = L::load(s.mom.add(i)) * L::splat(c.momentum) + (g * L::splat(c.lr)) / denom.sqrt();
        mom.store(s.mom.add(i));
        (L::load(self.var.add(i)) - mom).store(self.var.add(i));
    }
}

/// The sparse kernels, per indexed row: `ms = ms*rho + g²*(1-rho)`; centered:
/// `mg = mg*rho + g*(1-rho)`, `denom = (ms + eps) - mg²`, else `denom = ms + eps`;
/// `mom = mom*mu + rsqrt(denom)*lr*g`; `var -= mom`.
struct MomentumSparse<const CENTERED: bool> {
    c: RmsPropCoeffs,
    var: *mut f32,
    grad: *const f32,
    s: SlotPtrs,
}

impl<const CENTERED: bool> ElementKernel for MomentumSparse<CENTERED> {
    #[inline(always)]
    unsafe fn step<L: Lanes>(&self, i: usize) {
        let (c, s) = (&self.c, &self.s);
        let (rho, omr) = (L::splat(c.rho), L::splat(c.one_minus_rho));
        let g = L::load(self.grad.add(i));
        let ms = L::load(s.rms.add(i)) * rho + (g * g) * omr;
        ms.store(s.rms.add(i));
        let denom = if CENTERED {
            let mg = L::load(s.mg.add(i)) * rho + g * omr;
            mg.store(s.mg.add(i));
            (ms + L::splat(c.epsilon)) - mg * mg
        } else {
            ms + L::splat(c.epsilon)
        };
        let mom = L::load(s.mom.add(i)) * L::splat(c.momentum) + ((L::splat(1.0) / denom.sqrt()) * L::splat(c.lr)) * g;
        mom.store(s.mom.add(i));
        (L::load(self.var.add(i)) - mom).store(self.var.add(i));
    }
}

/// Keras' Python ops without momentum: `rms = rho*rms + (1-rho)*g²`; centered:
/// `mg = rho*mg + (1-rho)*g`, `denom = rms - mg²`, else `denom = rms`;
/// `var -= lr*g / (sqrt(denom) + eps)`.
struct PlainDense<P, const CENTERED: bool> {
    c: RmsPropCoeffs,
    pre: P,
    var: *mut f32,
    grad: *const f32,
    s: SlotPtrs,
}

impl<P: GradPrelude, const CENTERED: bool> ElementKernel for PlainDense<P, CENTERED> {
    #[inline(always)]
    unsafe fn step<L: Lanes>(&self, i: usize) {
        let (c, s) = (&self.c, &self.s);
        let (rho, omr) = (L::splat(c.rho), L::splat(c.one_minus_rho));
        let g = self.pre.apply(L::load(self.grad.add(i)));
        let rms = rho * L::load(s.rms.add(i)) + omr * (g * g);
        rms.store(s.rms.add(i));
        let denom = if CENTERED {
            let mg = rho * L::load(s.mg.add(i)) + omr * g;
            mg.store(s.mg.add(i));
            rms - mg * mg
        } else {
            rms
        };
        let x = L::load(self.var.add(i));
        (x - (L::splat(c.lr) * g) / (denom.sqrt() + L::splat(c.epsilon))).store(self.var.add(i));
    }
}

/// Keras' Python sparse path without momentum, over every row: `rms *= rho` (and `mg *= rho`);
/// for an indexed row (`HAS_GRAD`) then `rms += g²*(1-rho)`, `mg += g*(1-rho)`,
/// `var += -lr*g / (sqrt(rms - mg²) + eps)`. Rows without a gradient keep their variable.
struct PlainSparse<const CENTERED: bool, const HAS_GRAD: bool> {
    c: RmsPropCoeffs,
    var: *mut f32,
    grad: *const f32,
    s: SlotPtrs,
}

impl<const CENTERED: bool, const HAS_GRAD: bool> ElementKernel for PlainSparse<CENTERED, HAS_GRAD> {
    #[inline(always)]
    unsafe fn step<L: Lanes>(&self, i: usize) {
        let (c, s) = (&self.c, &self.s);
        let (rho, omr) = (L::splat(c.rho), L::splat(c.one_minus_rho));
        let mut rms = L::load(s.rms.add(i)) * rho;
        let mut mg = if CENTERED { L::load(s.mg.add(i)) * rho } else { L::splat(0.0) };
        if !HAS_GRAD {
            rms.store(s.rms.add(i));
            if CENTERED {
                mg.store(s.mg.add(i));
            }
            return;
        }
        let g = L::load(self.grad.add(i));
        rms = rms + (g * g) * omr;
        rms.store(s.rms.add(i));
        let denom = if CENTERED {
            mg = mg + g * omr;
            mg.store(s.mg.add(i));
            rms - mg * mg
        } else {
            rms
        };
        let x = L::load(self.var.add(i));
        (x + (L::splat(c.neg_lr) * g) / (denom.sqrt() + L::splat(c.epsilon))).store(self.var.add(i));
    }
}
