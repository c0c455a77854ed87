//! The registry: the one list of optimizer classes. Each entry gives the Keras class name, its
//! family, its defaults (learning rate, `decay`, then the rule's constructor options in Keras'
//! `get_config` order, declared once in the rule's file), and the builder. `build_optimizer`,
//! the binding's `registry_json`, the tests, the fuzz target, the benches and the fixture
//! generators all read it.
//!
//! Adding an optimizer: its rule file (with its `CONFIG` table), an entry here, its TypeScript
//! class, and its tests.

use std::any::Any;

use crate::error::{Error, Result};
use crate::optimizer::Optimizer;
use crate::rules::keras3 as k3;
use crate::rules::*;
use crate::step::clip::Clipping;

/// Which API a class belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// TF 2.4's `tf.keras.optimizers` (the package root; numbers frozen bit for bit).
    Tf24,
    /// Keras 3's `keras.optimizers` (`simdopt/keras3`).
    Keras3,
}

impl Family {
    /// The family of a name written by [`Family::name`].
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "tf24" => Ok(Family::Tf24),
            "keras3" => Ok(Family::Keras3),
            _ => Err(Error::InvalidState { message: format!("Unknown optimizer family: {name} (expected tf24 or keras3)") }),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Family::Tf24 => "tf24",
            Family::Keras3 => "keras3",
        }
    }
}

/// One optimizer class.
pub struct Class {
    pub class_name: &'static str,
    pub family: Family,
    /// Default `learning_rate`.
    pub learning_rate: f32,
    /// Default of the base class' `decay` (Nadam's `schedule_decay`).
    pub decay: f32,
    /// The rule's constructor options with their defaults, in `get_config` order.
    pub config: &'static [Hyper],
    /// Default of Keras 3's `weight_decay` when it is not None (AdamW's 0.004).
    pub weight_decay: Option<f32>,
    build: fn(&mut Options<'_>) -> Result<Optimizer>,
    /// Whether a rule is this class' rule (its type; Keras 3 classes share TF 2.4's names).
    is_rule: fn(&dyn Any) -> bool,
}

impl Class {
    /// Builds the class from constructor options (defaults for missing keys; a key nobody takes
    /// is an error).
    pub fn build(&self, options: &[(&str, f32)]) -> Result<Optimizer> {
        (self.build)(&mut Options::new(options))
    }

    /// Every config key with its default: `learning_rate`, `decay` (TF 2.4 only),
    /// `weight_decay` (Keras 3 classes whose default is a number), then [`Class::config`].
    pub fn defaults(&self) -> Vec<Hyper> {
        let decay = (self.family == Family::Tf24).then(|| Hyper::number("decay", self.decay));
        let weight_decay = self.weight_decay.map(|wd| Hyper::number("weight_decay", wd));
        [Hyper::number("learning_rate", self.learning_rate)]
            .into_iter()
            .chain(decay)
            .chain(weight_decay)
            .chain(self.config.iter().copied())
            .collect()
    }
}

fn is<R: 'static>(rule: &dyn Any) -> bool {
    rule.is::<R>()
}

/// The class whose rule `rule` is (its type, not its name).
pub(crate) fn class_of(rule: &dyn Any) -> Option<&'static Class> {
    CLASSES.iter().find(|c| (c.is_rule)(rule))
}

const fn keras3<R: UpdateRule>() -> Class {
    Class {
        class_name: R::CLASS_NAME,
        family: Family::Keras3,
        learning_rate: R::LEARNING_RATE,
        decay: 0.0,
        config: R::CONFIG,
        weight_decay: R::WEIGHT_DECAY,
        build: build_keras3::<R>,
        is_rule: is::<R>,
    }
}

const fn tf24<R: UpdateRule>() -> Class {
    Class {
        class_name: R::CLASS_NAME,
        family: Family::Tf24,
        learning_rate: R::LEARNING_RATE,
        decay: R::DECAY,
        config: R::CONFIG,
        weight_decay: None,
        build: build::<R>,
        is_rule: is::<R>,
    }
}

/// Every class: TF 2.4's in Keras' order, then Keras 3's (the same order, then the classes TF 2.4
/// did not have). A class name may appear once per family.
pub static CLASSES: [Class; 22] = [
    tf24::<Sgd>(),
    tf24::<RmsProp>(),
    tf24::<Adam>(),
    tf24::<Adagrad>(),
    tf24::<Adadelta>(),
    tf24::<Adamax>(),
    tf24::<Nadam>(),
    tf24::<Ftrl>(),
    keras3::<k3::Sgd>(),
    keras3::<k3::RmsProp>(),
    keras3::<k3::Adam>(),
    keras3::<k3::AdamW>(),
    keras3::<k3::Adagrad>(),
    keras3::<k3::Adadelta>(),
    keras3::<k3::Adamax>(),
    keras3::<k3::Nadam>(),
    keras3::<k3::Ftrl>(),
    keras3::<Lion>(),
    keras3::<k3::Lamb>(),
    keras3::<k3::Adafactor>(),
    keras3::<k3::Muon>(),
    keras3::<k3::ScheduleFreeAdamW>(),
];

/// The class of a Keras class name, TF 2.4's first: a name both families have is TF 2.4's
/// (what every caller before the Keras 3 family meant). See [`class_in`].
pub fn class(class_name: &str) -> Result<&'static Class> {
    CLASSES
        .iter()
        .find(|c| c.class_name == class_name)
        .ok_or_else(|| Error::InvalidState { message: format!("Unknown optimizer: {class_name}") })
}

/// The class of a Keras class name in one family.
pub fn class_in(family: Family, class_name: &str) -> Result<&'static Class> {
    CLASSES
        .iter()
        .find(|c| c.family == family && c.class_name == class_name)
        .ok_or_else(|| Error::InvalidState { message: format!("Unknown optimizer: {class_name} (family {})", family.name()) })
}

/// [`build_optimizer`] for the class of that name in `family`.
pub fn build_optimizer_in(family: Family, class_name: &str, options: &[(&str, f32)]) -> Result<Optimizer> {
    class_in(family, class_name)?.build(options)
}

/// Builds an optimizer from its Keras class name and options, as Keras' `from_config` would.
///
/// Nadam: `decay` is its `schedule_decay` (default 0.004; `schedule_decay` is accepted too and
/// wins). Unlike TF 2.4, whose `from_config` overwrites a config's `decay` with the default, a
/// given `decay` is kept, so a config survives the round trip.
pub fn build_optimizer(class_name: &str, options: &[(&str, f32)]) -> Result<Optimizer> {
    class(class_name)?.build(options)
}

fn build<R: UpdateRule>(o: &mut Options<'_>) -> Result<Optimizer> {
    let decay_alias = R::DECAY_ALIAS.and_then(|key| o.take_opt(key));
    let rule = R::from_options(o)?;
    let opt = Optimizer::new(rule, o.take("learning_rate", R::LEARNING_RATE))?;
    tf24_base_options(opt, o, R::DECAY, decay_alias)
}

/// TF 2.4's base options, after the rule's: not generic and out of line, so that the wasm
/// binary holds one copy for every class.
#[inline(never)]
fn tf24_base_options(mut opt: Optimizer, o: &mut Options<'_>, default_decay: f32, decay_alias: Option<f32>) -> Result<Optimizer> {
    opt.set_hyper("decay", o.take("decay", default_decay))?;
    if let Some(d) = decay_alias {
        opt.set_hyper("decay", d)?;
    }
    opt.set_clipping(Clipping {
        clipvalue: o.take_opt("clipvalue"),
        clipnorm: o.take_opt("clipnorm"),
        global_clipnorm: o.take_opt("global_clipnorm"),
    })?;
    o.finish()?;
    Ok(opt)
}

/// Keras 3's constructor: no `decay` (Keras warns and ignores it), at most one clipping option,
/// and the base options as the core's stages (`use_ema` as 0/1 turns `ema_momentum` on).
pub(crate) fn build_keras3<R: UpdateRule>(o: &mut Options<'_>) -> Result<Optimizer> {
    let rule = R::from_options(o)?;
    let opt = Optimizer::new(rule, o.take("learning_rate", R::LEARNING_RATE))?;
    keras3_base_options(opt, o, R::WEIGHT_DECAY)
}

/// Keras 3's base options, after the rule's: not generic and out of line, so that the wasm
/// binary holds one copy for every class.
#[inline(never)]
fn keras3_base_options(mut opt: Optimizer, o: &mut Options<'_>, default_weight_decay: Option<f32>) -> Result<Optimizer> {
    opt.set_keras3_order()?;
    let _ignored_decay = o.take_opt("decay");
    let clipping =
        Clipping { clipvalue: o.take_opt("clipvalue"), clipnorm: o.take_opt("clipnorm"), global_clipnorm: o.take_opt("global_clipnorm") };
    if [clipping.clipnorm, clipping.clipvalue, clipping.global_clipnorm].iter().filter(|c| c.is_some()).count() > 1 {
        let opt_str = |v: Option<f32>| v.map_or("None".to_string(), crate::rules::py_float);
        return Err(Error::InvalidHyperparameter {
            name: "clipnorm".into(),
            value: clipping.clipnorm.unwrap_or(f32::NAN) as f64,
            reason: format!(
                "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. Received: clipnorm={}, clipvalue={}, global_clipnorm={}",
                opt_str(clipping.clipnorm),
                opt_str(clipping.clipvalue),
                opt_str(clipping.global_clipnorm)
            ),
        });
    }
    // Keras 3 ignores a clip value of 0 (its checks are `value and value > 0`).
    let positive = |v: Option<f32>| v.filter(|&v| v > 0.0);
    opt.set_clipping(Clipping {
        clipvalue: positive(clipping.clipvalue),
        clipnorm: positive(clipping.clipnorm),
        global_clipnorm: positive(clipping.global_clipnorm),
    })?;
    let use_ema = o.take_flag("use_ema", false);
    let ema_momentum = o.take("ema_momentum", 0.99);
    let overwrite = o.take_opt("ema_overwrite_frequency").filter(|&f| f != 0.0);
    let accumulation = o.take_opt("gradient_accumulation_steps").filter(|&n| n != 0.0);
    opt.set_stages(crate::step::Stages {
        loss_scale_factor: o.take_opt("loss_scale_factor"),
        gradient_accumulation_steps: accumulation.map(|n| n as u32),
        // NaN is None (a class whose default is a number: AdamW, Muon).
        weight_decay: o.take_opt("weight_decay").or(default_weight_decay).filter(|wd| !wd.is_nan()),
        ema: use_ema.then_some(crate::step::Ema { momentum: ema_momentum, overwrite_frequency: overwrite.map(|f| f as u64) }),
    })?;
    o.finish()?;
    Ok(opt)
}

/// The classes whose slots may be stored compressed (`slotDtype`): all their slots are
/// moments, in the default configuration or, for a class without slots by default (SGD), with
/// momentum.
pub fn compressed_slot_classes() -> Vec<String> {
    CLASSES
        .iter()
        .filter_map(|c| {
            let opt = c.build(&[]).ok()?;
            let opt = if opt.slot_specs().is_empty() { c.build(&[("momentum", 0.5)]).ok()? } else { opt };
            let specs = opt.slot_specs();
            (!specs.is_empty() && crate::optimizer::supports_compressed_slots(specs, c.class_name))
                .then(|| format!("{} ({})", c.class_name, c.family.name()))
        })
        .collect()
}

/// The registry as JSON, for the facade's check of its own defaults: `[{"class_name",
/// "family", "config": [[key, default], ...], "slots": [{"name", "shape", "dtype"}, ...]}]`
/// (flags as booleans; `slots` for the default configuration, shapes relative to the variable:
/// `like_var`, `scalar`, `factored_rows`, `factored_cols`).
pub fn registry_json() -> String {
    let classes: Vec<String> = CLASSES
        .iter()
        .map(|c| {
            let config: Vec<String> = c
                .defaults()
                .iter()
                .map(|h| {
                    if h.flag {
                        format!("[\"{}\",{}]", h.name, h.default != 0.0)
                    } else {
                        format!("[\"{}\",{}]", h.name, json_number(h.default))
                    }
                })
                .collect();
            let slots: Vec<String> = c
                .build(&[])
                .map(|o| {
                    o.slot_specs()
                        .iter()
                        .map(|s| {
                            format!("{{\"name\":\"{}\",\"shape\":\"{}\",\"dtype\":\"{}\"}}", s.name, shape_name(s.shape), s.dtype.name())
                        })
                        .collect()
                })
                .unwrap_or_default();
            format!(
                "{{\"class_name\":\"{}\",\"family\":\"{}\",\"config\":[{}],\"slots\":[{}]}}",
                c.class_name,
                c.family.name(),
                config.join(","),
                slots.join(",")
            )
        })
        .collect();
    format!("[{}]", classes.join(","))
}

fn shape_name(s: SlotShape) -> &'static str {
    match s {
        SlotShape::LikeVar => "like_var",
        SlotShape::Scalar => "scalar",
        SlotShape::FactoredRows => "factored_rows",
        SlotShape::FactoredCols => "factored_cols",
    }
}

/// The shortest decimal that reads back as the same f32 (JSON has no NaN or Infinity, and
/// defaults are finite).
fn json_number(v: f32) -> String {
    let s = format!("{v:?}");
    if s.contains("e") || s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}

/// Constructor options by Keras name (`learning_rate`, `beta_1`, `amsgrad` as 0/1, ...).
/// Rules take the keys they know; a key nobody takes is an error.
pub struct Options<'a> {
    pairs: Vec<(&'a str, f32, bool)>,
}

impl<'a> Options<'a> {
    pub fn new(pairs: &[(&'a str, f32)]) -> Self {
        Options { pairs: pairs.iter().map(|&(k, v)| (k, v, false)).collect() }
    }

    /// Takes a numeric option, or `default`.
    pub fn take(&mut self, key: &str, default: f32) -> f32 {
        self.take_opt(key).unwrap_or(default)
    }

    pub fn take_opt(&mut self, key: &str) -> Option<f32> {
        let p = self.pairs.iter_mut().find(|p| p.0 == key)?;
        p.2 = true;
        Some(p.1)
    }

    /// Takes a hyperparameter of a class's table, or its default.
    pub fn number(&mut self, h: &Hyper) -> f32 {
        self.take(h.name, h.default)
    }

    /// Takes a flag of a class's table, or its default.
    pub fn flag(&mut self, h: &Hyper) -> bool {
        self.take_flag(h.name, h.default != 0.0)
    }

    /// Takes a boolean option (any non-zero value is true).
    pub fn take_flag(&mut self, key: &str, default: bool) -> bool {
        self.take_opt(key).map_or(default, |v| v != 0.0)
    }

    /// An error naming the first key nobody took.
    pub fn finish(&self) -> Result<()> {
        match self.pairs.iter().find(|p| !p.2) {
            Some(p) => Err(crate::Error::UnknownHyperparameter { name: p.0.to_string() }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_builds_with_its_defaults_and_reports_them() {
        for c in &CLASSES {
            let o = c.build(&[]).unwrap();
            assert_eq!(o.class_name(), c.class_name);
            for h in c.defaults().iter().filter(|h| !h.flag) {
                let have = if h.name == "weight_decay" { o.stages().weight_decay.unwrap() } else { o.hyper(h.name).unwrap() };
                assert_eq!(have, h.default, "{} {}", c.class_name, h.name);
            }
        }
        assert_eq!(class("Nadam").unwrap().decay, 0.004);
        assert_eq!(class("Lion").unwrap().family, Family::Keras3);
        assert!(class("Lion").unwrap().defaults().iter().all(|h| h.name != "decay"));
    }

    #[test]
    fn a_class_name_is_looked_up_in_its_family() {
        assert_eq!(class("Adam").unwrap().family, Family::Tf24);
        let k3 = class_in(Family::Keras3, "Adam").unwrap();
        assert_eq!((k3.family, k3.class_name), (Family::Keras3, "Adam"));
        assert_eq!(build_optimizer_in(Family::Keras3, "Adam", &[]).unwrap().slot_names(), ["momentum", "velocity"]);
        assert_eq!(build_optimizer("Adam", &[]).unwrap().slot_names(), ["m", "v"]);
        assert!(class_in(Family::Tf24, "Lion").is_err());
        assert_eq!(Family::from_name("keras3").unwrap(), Family::Keras3);
        assert!(Family::from_name("keras2").is_err());
        for c in &CLASSES {
            let same = CLASSES.iter().filter(|d| d.family == c.family && d.class_name == c.class_name).count();
            assert_eq!(same, 1, "{} twice in {}", c.class_name, c.family.name());
        }
        // Keras 3 order without any stage option: a None gradient's variable gets its state at
        // the first step, as Keras 3's build does; TF 2.4's Adam waits for its first gradient.
        let mut store = crate::Store::new();
        let a = store.insert(crate::Tensor::new("a", vec![2], vec![1.0, 2.0]).unwrap());
        let b = store.insert(crate::Tensor::new("b", vec![1], vec![3.0]).unwrap());
        let pairs = [(Some(crate::Gradient::Dense(&[0.5, 0.5])), a), (None, b)];
        for (family, slots) in [(Family::Keras3, 2), (Family::Tf24, 1)] {
            let mut opt = build_optimizer_in(family, "Adam", &[]).unwrap();
            assert_eq!(opt.keras3_order(), family == Family::Keras3);
            opt.apply_gradients(&mut store, &pairs).unwrap();
            assert_eq!(opt.slot_variables().count(), slots, "{}", family.name());
        }
        // AdamW: Adam's rule with Keras 3's weight_decay default, 0.004.
        let adamw = class_in(Family::Keras3, "AdamW").unwrap();
        assert_eq!(adamw.defaults()[1], Hyper::number("weight_decay", 0.004));
        assert_eq!(adamw.build(&[]).unwrap().stages().weight_decay, Some(0.004));
        assert_eq!(adamw.build(&[("weight_decay", 0.1)]).unwrap().stages().weight_decay, Some(0.1));
    }

    #[test]
    fn registry_json_lists_every_class_with_its_defaults() {
        let j = registry_json();
        assert!(j.starts_with("[{\"class_name\":\"SGD\",\"family\":\"tf24\",\"config\":[[\"learning_rate\",0.01],[\"decay\",0.0],[\"momentum\",0.0],[\"nesterov\",false]],\"slots\":[]}"), "{j}");
        assert!(
            j.contains("{\"class_name\":\"Nadam\",\"family\":\"tf24\",\"config\":[[\"learning_rate\",0.001],[\"decay\",0.004],"),
            "{j}"
        );
        assert!(j.contains("[\"epsilon\",1e-7]"), "{j}");
        assert!(
            j.contains("{\"name\":\"momentum_cache\"") || j.contains("{\"name\":\"m\",\"shape\":\"like_var\",\"dtype\":\"float32\"}"),
            "{j}"
        );
        assert_eq!(j.matches("class_name").count(), CLASSES.len());
    }

    /// The fixture generators (Python) read the registry from `tools/fixtures/registry.json`;
    /// this keeps that copy equal to the registry (`SIMDOPT_WRITE_REGISTRY=1` rewrites it). Only
    /// in the repository (feature `repository-fixtures`, on there): the published crate ships
    /// neither the generators nor their copy, so it has nothing to keep current.
    #[cfg(feature = "repository-fixtures")]
    #[test]
    fn the_fixture_generators_copy_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/fixtures/registry.json");
        let want = registry_json() + "\n";
        if std::env::var_os("SIMDOPT_WRITE_REGISTRY").is_some() {
            std::fs::write(&path, &want).unwrap();
        }
        let have = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(have == want, "{} is stale: rerun this test with SIMDOPT_WRITE_REGISTRY=1", path.display());
    }

    /// What the generators' copy is made of, checked in every build (the published crate too):
    /// `registry_json` is JSON whose entries name every class, its family, config and slots.
    #[test]
    fn registry_json_is_json_the_generators_can_read() {
        let v: serde_json::Value = serde_json::from_str(&registry_json()).unwrap();
        let entries = v.as_array().unwrap();
        assert_eq!(entries.len(), CLASSES.len());
        for (e, c) in entries.iter().zip(&CLASSES) {
            assert_eq!(e["class_name"], c.class_name);
            assert!(e["family"].is_string() && e["config"].is_array() && e["slots"].is_array(), "{e}");
        }
    }
}
