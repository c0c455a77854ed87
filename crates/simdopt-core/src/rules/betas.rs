//! The moment hyperparameters `beta_1`, `beta_2`, `epsilon` of the rules on Adam's moments (TF
//! 2.4's Adam, Adamax and Nadam; Keras 3's Adam, AdamW, Adamax, Nadam, Lamb and
//! ScheduleFreeAdamW), with Keras' defaults, and the [`UpdateRule`](super::UpdateRule) methods
//! of a rule whose own hyperparameters are all in one such field (`hypers_in!`).

use super::{finite, keras_epsilon, Hyper, Options, BETA_1, BETA_2, EPSILON};
use crate::error::{Error, Result};

/// `beta_1`, `beta_2` and `epsilon`, each a finite number (Keras checks nothing else).
/// `KEEPS_ZERO_EPSILON`: Keras 3 keeps an epsilon of 0; TF 2.4 reads it as 1e-7
/// (`epsilon or backend.epsilon()`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MomentHypers<const KEEPS_ZERO_EPSILON: bool> {
    pub beta_1: f32,
    pub beta_2: f32,
    pub epsilon: f32,
}

impl<const KEEPS_ZERO_EPSILON: bool> Default for MomentHypers<KEEPS_ZERO_EPSILON> {
    fn default() -> Self {
        MomentHypers { beta_1: BETA_1.default, beta_2: BETA_2.default, epsilon: EPSILON.default }
    }
}

impl<const KEEPS_ZERO_EPSILON: bool> MomentHypers<KEEPS_ZERO_EPSILON> {
    /// Their constructor options, in Keras' `get_config` order (a rule's `CONFIG` when they are
    /// all of its options).
    pub const CONFIG: [Hyper; 3] = [BETA_1, BETA_2, EPSILON];
    pub const NAMES: [&'static str; 3] = ["beta_1", "beta_2", "epsilon"];

    pub fn new(beta_1: f32, beta_2: f32, epsilon: f32) -> Result<Self> {
        let mut b = Self::default();
        b.set("beta_1", beta_1)?;
        b.set("beta_2", beta_2)?;
        b.set("epsilon", epsilon)?;
        Ok(b)
    }

    /// From constructor options, with Keras' defaults (0.9, 0.999, 1e-7).
    pub fn from_options(o: &mut Options<'_>) -> Result<Self> {
        Self::new(o.number(&BETA_1), o.number(&BETA_2), o.number(&EPSILON))
    }

    pub fn names(&self) -> &'static [&'static str] {
        &Self::NAMES
    }

    pub fn get(&self, name: &str) -> Option<f32> {
        match name {
            "beta_1" => Some(self.beta_1),
            "beta_2" => Some(self.beta_2),
            "epsilon" => Some(self.epsilon),
            _ => None,
        }
    }

    /// Sets one of them (a finite number); unchanged on error.
    pub fn set(&mut self, name: &str, value: f32) -> Result<()> {
        let v = finite(name, value)?;
        match name {
            "beta_1" => self.beta_1 = v,
            "beta_2" => self.beta_2 = v,
            "epsilon" if KEEPS_ZERO_EPSILON => self.epsilon = v,
            "epsilon" => self.epsilon = keras_epsilon(v),
            _ => return Err(Error::UnknownHyperparameter { name: name.into() }),
        }
        Ok(())
    }
}

/// Inside an `impl UpdateRule`: `hyper_names`, `hyper` and `set_hyper` of a rule whose own
/// hyperparameters are all in its field `$field` (which has `names`, `get` and `set`, as
/// [`MomentHypers`]).
macro_rules! hypers_in {
    ($field:ident) => {
        fn hyper_names(&self) -> &'static [&'static str] {
            self.$field.names()
        }

        fn hyper(&self, name: &str) -> Option<f32> {
            self.$field.get(name)
        }

        fn set_hyper(&mut self, name: &str, value: f32) -> $crate::error::Result<()> {
            self.$field.set(name, value)
        }
    };
}
pub(crate) use hypers_in;

#[cfg(test)]
mod tests {
    use super::MomentHypers;

    #[test]
    fn epsilon_zero_is_kept_by_keras3_and_replaced_by_tf24() {
        assert_eq!(MomentHypers::<true>::new(0.9, 0.999, 0.0).unwrap().epsilon, 0.0);
        assert_eq!(MomentHypers::<false>::new(0.9, 0.999, 0.0).unwrap().epsilon, 1e-7);
        assert_eq!(MomentHypers::<false>::new(0.9, 0.999, 1e-3).unwrap().epsilon, 1e-3);
    }

    #[test]
    fn a_bad_value_leaves_them_unchanged() {
        let mut b = MomentHypers::<true>::default();
        assert!(b.set("beta_1", f32::NAN).is_err());
        assert!(b.set("rho", 0.5).is_err());
        assert_eq!(b, MomentHypers::default());
        assert_eq!((b.get("beta_2"), b.get("rho")), (Some(0.999), None));
    }
}
