//! Rebuilding an optimizer from its [`OptimizerConfig`], for files that store the compile
//! configuration.

use super::Optimizer;
use crate::{
    Adagrad, Adam, AdamW, Clipping, Error, HyperValue, LearningRate, OptimizerConfig, RMSprop,
    Result, Sgd, WeightDecay,
};

/// The rules [`Optimizer::from_config`] can rebuild.
const BUILT_IN: &str = "adam, adamw, sgd, rmsprop or adagrad";

/// Reads the hyper-parameters of a config by name.
struct Hyper<'a>(&'a OptimizerConfig);

impl Hyper<'_> {
    fn get(&self, name: &str) -> Result<HyperValue> {
        self.0
            .hyper_parameters
            .iter()
            .find(|(n, _)| n == name)
            .map(|&(_, v)| v)
            .ok_or_else(|| Error::InvalidConfig {
                expected: format!("the {} hyper-parameter `{name}`", self.0.name),
                found: format!("only {}", self.names()),
            })
    }

    fn float(&self, name: &str) -> Result<f32> {
        match self.get(name)? {
            HyperValue::Float(x) => Ok(x),
            HyperValue::Bool(b) => Err(self.wrong_kind(name, "a number", b.to_string())),
        }
    }

    fn bool(&self, name: &str) -> Result<bool> {
        match self.get(name)? {
            HyperValue::Bool(b) => Ok(b),
            HyperValue::Float(x) => Err(self.wrong_kind(name, "true or false", x.to_string())),
        }
    }

    fn wrong_kind(&self, name: &str, expected: &str, found: String) -> Error {
        Error::InvalidConfig {
            expected: format!(
                "{expected} for the {} hyper-parameter `{name}`",
                self.0.name
            ),
            found,
        }
    }

    fn names(&self) -> String {
        let names: Vec<&str> = self
            .0
            .hyper_parameters
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        format!("[{}]", names.join(", "))
    }
}

/// Puts the config's clipping mode and weight decay on a builder.
fn with_base<B: Clipping + WeightDecay>(mut builder: B, config: &OptimizerConfig) -> B {
    *builder.clip_config() = config.clip;
    builder.weight_decay(config.weight_decay)
}

impl Optimizer {
    /// A fresh optimizer (no state) of the built-in rule, learning rate or schedule,
    /// hyper-parameters, clipping mode and weight decay that `config` describes: the inverse
    /// of [`config`](Optimizer::config) for [`Adam`], [`AdamW`], [`Sgd`], [`RMSprop`] and
    /// [`Adagrad`]. Model files use it to store a compiled optimizer; its training state
    /// comes back with [`restore`](Optimizer::restore).
    ///
    /// A constant learning rate is the config's `learning_rate` (which includes any
    /// multiplier); a restored snapshot then sets the rate and the multiplier exactly.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a rule that is not built in (a custom
    /// [`UpdateRule`](crate::UpdateRule)), or a hyper-parameter that is missing, of the
    /// wrong kind or not the rule's; otherwise whatever the builder's
    /// [`Optimizer::try_from`] returns for a value out of range.
    ///
    /// ```
    /// use keel_optim::{Adam, Clipping, CosineDecay, Optimizer};
    /// # fn main() -> keel_optim::Result<()> {
    /// let opt = Optimizer::try_from(Adam::new(CosineDecay::new(1e-3, 100)).beta_2(0.99).clipnorm(1.0))?;
    /// let rebuilt = Optimizer::from_config(&opt.config())?;
    /// assert_eq!(rebuilt.config(), opt.config());
    /// # Ok(()) }
    /// ```
    pub fn from_config(config: &OptimizerConfig) -> Result<Optimizer> {
        let lr = match &config.schedule {
            Some(schedule) => LearningRate::Schedule(schedule.clone()),
            None => LearningRate::Constant(config.learning_rate),
        };
        let h = Hyper(config);
        let optimizer = match config.name.as_str() {
            "adam" => Optimizer::try_from(with_base(
                Adam::new(lr)
                    .beta_1(h.float("beta_1")?)
                    .beta_2(h.float("beta_2")?)
                    .epsilon(h.float("epsilon")?)
                    .amsgrad(h.bool("amsgrad")?),
                config,
            )),
            "adamw" => Optimizer::try_from(with_base(
                AdamW::new(lr)
                    .beta_1(h.float("beta_1")?)
                    .beta_2(h.float("beta_2")?)
                    .epsilon(h.float("epsilon")?)
                    .amsgrad(h.bool("amsgrad")?),
                config,
            )),
            "sgd" => Optimizer::try_from(with_base(
                Sgd::new(lr)
                    .momentum(h.float("momentum")?)
                    .nesterov(h.bool("nesterov")?),
                config,
            )),
            "rmsprop" => Optimizer::try_from(with_base(
                RMSprop::new(lr)
                    .rho(h.float("rho")?)
                    .momentum(h.float("momentum")?)
                    .epsilon(h.float("epsilon")?)
                    .centered(h.bool("centered")?),
                config,
            )),
            "adagrad" => Optimizer::try_from(with_base(
                Adagrad::new(lr)
                    .initial_accumulator_value(h.float("initial_accumulator_value")?)
                    .epsilon(h.float("epsilon")?),
                config,
            )),
            other => {
                return Err(Error::InvalidConfig {
                    expected: format!("the built-in rule {BUILT_IN}"),
                    found: format!("the rule `{other}` (a custom rule cannot be rebuilt)"),
                })
            }
        }?;
        let ours = Hyper(&optimizer.config()).names();
        if ours != h.names() {
            return Err(Error::InvalidConfig {
                expected: format!("the {} hyper-parameters {ours}", config.name),
                found: h.names(),
            });
        }
        Ok(optimizer)
    }
}

#[cfg(test)]
mod tests {
    use crate::{
        Adagrad, Adam, AdamW, AutoClip, Clipping, CosineDecay, Error, HyperValue, Optimizer,
        RMSprop, Sgd, WeightDecay,
    };

    #[test]
    fn every_built_in_rule_rebuilds_to_the_same_config() {
        let optimizers = [
            Optimizer::try_from(Adam::new(0.01).beta_1(0.8).amsgrad(true).clipvalue(0.5)),
            Optimizer::try_from(AdamW::new(CosineDecay::new(0.1, 10)).weight_decay(0.02)),
            Optimizer::try_from(
                Sgd::new(0.1)
                    .momentum(0.9)
                    .nesterov(true)
                    .global_clipnorm(2.0),
            ),
            Optimizer::try_from(RMSprop::new(0.1).rho(0.8).momentum(0.5).centered(true)),
            Optimizer::try_from(
                Adagrad::new(0.1)
                    .initial_accumulator_value(0.2)
                    .clip(AutoClip::new(10.0)),
            ),
        ];
        for opt in optimizers {
            let opt = opt.unwrap();
            let rebuilt = Optimizer::from_config(&opt.config()).unwrap();
            assert_eq!(rebuilt.config(), opt.config());
            assert_eq!(rebuilt.iterations(), 0);
        }
    }

    #[test]
    fn a_config_that_does_not_describe_a_built_in_rule_is_refused() {
        let good = Optimizer::try_from(Sgd::new(0.1)).unwrap().config();
        let mut custom = good.clone();
        custom.name = "sign_sgd".into();
        let err = Optimizer::from_config(&custom).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot rebuild the optimizer from its config: expected the built-in rule adam, \
             adamw, sgd, rmsprop or adagrad, found the rule `sign_sgd` (a custom rule cannot \
             be rebuilt)"
        );
        let mut missing = good.clone();
        missing.hyper_parameters.pop();
        let err = Optimizer::from_config(&missing).unwrap_err();
        assert_eq!(
            err,
            Error::InvalidConfig {
                expected: "the sgd hyper-parameter `nesterov`".into(),
                found: "only [momentum]".into()
            }
        );
        let mut extra = good.clone();
        extra
            .hyper_parameters
            .push(("rho".into(), HyperValue::Float(0.9)));
        let err = Optimizer::from_config(&extra).unwrap_err();
        assert_eq!(
            err,
            Error::InvalidConfig {
                expected: "the sgd hyper-parameters [momentum, nesterov]".into(),
                found: "[momentum, nesterov, rho]".into()
            }
        );
        let mut kind = good.clone();
        kind.hyper_parameters[1].1 = HyperValue::Float(1.0);
        assert!(matches!(
            Optimizer::from_config(&kind),
            Err(Error::InvalidConfig { .. })
        ));
        let mut range = good;
        range.hyper_parameters[0].1 = HyperValue::Float(2.0);
        assert!(matches!(
            Optimizer::from_config(&range),
            Err(Error::InvalidHyperParameter {
                name: "momentum",
                ..
            })
        ));
    }
}
