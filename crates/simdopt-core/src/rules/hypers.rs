//! A rule's own hyperparameters (besides `learning_rate` and `decay`): the [`UpdateRule`](super::UpdateRule)
//! methods that name, read and set them, made from a table of the rule's `f32` fields
//! (`hyper_fields!`) or from one field holding them all (`hypers_in!`); and the moment
//! hyperparameters `beta_1`, `beta_2`, `epsilon` of the rules on Adam's moments (TF 2.4's Adam,
//! Adamax and Nadam; Keras 3's Adam, AdamW, Adamax, Nadam, Lamb and ScheduleFreeAdamW), with
//! Keras' defaults.

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

/// TF 2.4's `epsilon or backend.epsilon()` as a `hyper_fields!` check: 0 becomes 1e-7.
pub fn tf24_epsilon(_name: &str, v: f32) -> Result<f32> {
    Ok(keras_epsilon(v))
}

/// Inside an `impl UpdateRule`: `hyper_names`, `hyper` and `set_hyper` from a table of the rule's
/// own hyperparameters, each its Keras name, the `f32` field that holds it and, after a colon, a
/// check (a `fn(&str, f32) -> Result<f32>` given the name and the finite value, which may map it:
/// [`tf24_epsilon`]). `set_hyper` refuses an unknown name, then a value that is not finite, then
/// what the check refuses; the rule is unchanged on error.
macro_rules! hyper_fields {
    ($($name:literal => $field:ident $(: $check:expr)?),+ $(,)?) => {
        fn hyper_names(&self) -> &'static [&'static str] {
            &[$($name),+]
        }

        fn hyper(&self, name: &str) -> Option<f32> {
            match name {
                $($name => Some(self.$field),)+
                _ => None,
            }
        }

        fn set_hyper(&mut self, name: &str, value: f32) -> $crate::error::Result<()> {
            match name {
                $($name => {
                    let v = $crate::rules::finite(name, value)?;
                    $(let check: fn(&str, f32) -> $crate::error::Result<f32> = $check;
                    let v = check(name, v)?;)?
                    self.$field = v;
                })+
                _ => return Err($crate::error::Error::UnknownHyperparameter { name: name.into() }),
            }
            Ok(())
        }
    };
}
pub(crate) use hyper_fields;

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
    use super::{tf24_epsilon, MomentHypers};
    use crate::error::Error;
    use crate::rules::check;

    #[derive(Debug, Default, PartialEq)]
    struct Table {
        rho: f32,
        epsilon: f32,
    }

    impl Table {
        hyper_fields! {
            "rho" => rho: |name, v| check(name, v, v >= 0.0, "negative".into()),
            "epsilon" => epsilon: tf24_epsilon,
        }
    }

    #[test]
    fn a_table_names_reads_and_sets_its_fields_checked() {
        let mut t = Table::default();
        assert_eq!(t.hyper_names(), ["rho", "epsilon"]);
        t.set_hyper("rho", 0.5).unwrap();
        t.set_hyper("epsilon", 0.0).unwrap();
        assert_eq!((t.hyper("rho"), t.hyper("epsilon"), t.hyper("beta")), (Some(0.5), Some(1e-7), None));
        // An unknown name first, then a value that is not finite, then the check; nothing changes.
        assert!(matches!(t.set_hyper("beta", f32::NAN), Err(Error::UnknownHyperparameter { .. })));
        assert!(matches!(t.set_hyper("rho", f32::INFINITY), Err(Error::InvalidHyperparameter { .. })));
        assert!(matches!(t.set_hyper("rho", -1.0), Err(Error::InvalidHyperparameter { reason, .. }) if reason == "negative"));
        assert_eq!(t, Table { rho: 0.5, epsilon: 1e-7 });
    }

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
