//! `Sequential`: a stack of layers with shapes checked as they are added.

use crate::{Error, Loss, Metric, Result};
use keel_autograd::{Param, ParamPath, Tape, Tensor, Var};
use keel_layers::{Activation, Ctx, Layer};
use keel_optim::Optimizer;
use ndarray::IxDyn;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// What `compile` fixes: how the model is trained.
#[derive(Debug)]
pub(crate) struct Compiled {
    pub(crate) optimizer: Optimizer,
    pub(crate) loss: Loss,
    pub(crate) metrics: Vec<Metric>,
}

/// A linear stack of layers, as Keras's `Sequential`.
///
/// Each [`add`](Sequential::add) builds the layer for the previous layer's output shape.
/// A layer that cannot take its input is recorded and returned as an `Err` by
/// [`compile`](Sequential::compile) (or [`check`](Sequential::check)), naming the layer and
/// both shapes, so the builder chain needs no `?` after every `add`.
///
/// ```
/// use keel_layers::{Activation, Dense, Flatten};
/// use keel_trainer::Sequential;
/// let model = Sequential::new([28, 28])
///     .add(Flatten::new())
///     .add(Dense::new(10).activation(Activation::Softmax));
/// assert_eq!(model.output_shape(), &[10]);
/// assert_eq!(model.param_count(), 784 * 10 + 10);
/// ```
#[derive(Debug)]
pub struct Sequential {
    input_shape: Vec<usize>,
    pub(crate) layers: Vec<Box<dyn Layer>>,
    pub(crate) names: Vec<String>,
    /// Whether the optimizer updates each layer's weights (Keras's `layer.trainable`).
    pub(crate) trainable: Vec<bool>,
    shapes: Vec<Vec<usize>>,
    seed: u64,
    build_error: Option<keel_layers::Error>,
    pub(crate) compiled: Option<Compiled>,
    /// Where `fit`, `evaluate` and `predict` run; the default runtime when `None`.
    runtime: Option<keel_runtime::Runtime>,
}

/// The weight-initialisation seed of layer `index`, so that inserting the seed later
/// (with [`Sequential::seed`]) re-creates the same weights as setting it first.
fn layer_rng(seed: u64, index: usize) -> StdRng {
    StdRng::seed_from_u64(
        seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(index as u64),
    )
}

impl Sequential {
    /// An empty model taking samples of `input_shape` (without the batch axis).
    pub fn new(input_shape: impl AsRef<[usize]>) -> Self {
        Sequential {
            input_shape: input_shape.as_ref().to_vec(),
            layers: Vec::new(),
            names: Vec::new(),
            trainable: Vec::new(),
            shapes: Vec::new(),
            seed: 0,
            build_error: None,
            compiled: None,
            runtime: None,
        }
    }

    /// Runs this model's `fit`, `evaluate` and `predict` on `runtime` (its threads and
    /// buffer arena) instead of the default runtime. A runtime given to `fit` through
    /// [`FitOptions::runtime`](crate::FitOptions::runtime) takes precedence.
    ///
    /// ```
    /// use keel_layers::Dense;
    /// use keel_runtime::Runtime;
    /// use keel_trainer::Sequential;
    /// let model = Sequential::new([4])
    ///     .add(Dense::new(2))
    ///     .with_runtime(Runtime::builder().threads(1).build().unwrap());
    /// ```
    pub fn with_runtime(mut self, runtime: keel_runtime::Runtime) -> Self {
        self.set_runtime(runtime);
        self
    }

    /// [`with_runtime`](Sequential::with_runtime) on a model already built.
    pub fn set_runtime(&mut self, runtime: keel_runtime::Runtime) {
        self.runtime = Some(runtime);
    }

    /// The runtime this model's work runs on: `chosen` (from `FitOptions`), else its own,
    /// else the default one; `None` when that runtime is already the current one, so there
    /// is nothing to install (every op would otherwise clone the handle of a runtime that
    /// two training threads share). An error if `KEEL_NUM_THREADS` is invalid.
    pub(crate) fn runtime_for(
        &self,
        chosen: Option<keel_runtime::Runtime>,
        threads: Option<usize>,
    ) -> Result<Option<keel_runtime::Runtime>> {
        let runtime = match (chosen, threads, &self.runtime) {
            (Some(runtime), _, _) => runtime,
            (None, Some(threads), _) => {
                keel_runtime::Runtime::builder().threads(threads).build()?
            }
            (None, None, Some(runtime)) => runtime.clone(),
            (None, None, None) => keel_runtime::Runtime::try_global()?,
        };
        Ok((runtime != keel_runtime::Runtime::current()).then_some(runtime))
    }

    /// Sets the weight-initialisation seed (default 0) and re-creates every layer's weights.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        let layers = std::mem::take(&mut self.layers);
        let trainable = std::mem::take(&mut self.trainable);
        self.names.clear();
        self.shapes.clear();
        self.build_error = None;
        for (layer, trainable) in layers.into_iter().zip(trainable) {
            self.push_boxed(layer);
            *self.trainable.last_mut().expect("just pushed") = trainable;
        }
        self
    }

    /// Appends a layer, building it for the current output shape.
    // Keras's name for it; `Sequential` is no number, so `std::ops::Add` would mislead.
    #[allow(clippy::should_implement_trait)]
    pub fn add(mut self, layer: impl Layer + 'static) -> Self {
        self.push_boxed(Box::new(layer));
        self
    }

    /// Appends an already boxed layer (as [`LayerConfig::build`](keel_layers::LayerConfig::build) returns).
    pub fn push_boxed(&mut self, mut layer: Box<dyn Layer>) {
        self.trainable.push(layer.initially_trainable());
        if self.build_error.is_some() {
            self.layers.push(layer);
            return;
        }
        let index = self.layers.len();
        let input = self.output_shape().to_vec();
        match layer.build(&input, &mut layer_rng(self.seed, index)) {
            Ok(shape) => {
                let same_kind = self
                    .layers
                    .iter()
                    .filter(|l| l.kind() == layer.kind())
                    .count();
                self.names.push(match same_kind {
                    0 => layer.kind().to_string(),
                    n => format!("{}_{n}", layer.kind()),
                });
                self.shapes.push(shape);
            }
            Err(e) => self.build_error = Some(e),
        }
        self.layers.push(layer);
    }

    /// Returns the first error met while adding layers, if any.
    ///
    /// # Errors
    /// The error of the first layer that could not take its input.
    pub fn check(&self) -> Result<()> {
        match &self.build_error {
            Some(e) => Err(Error::Layer(e.clone())),
            None => Ok(()),
        }
    }

    /// Fixes the optimizer, the loss and the metrics used by [`fit`](Sequential::fit).
    ///
    /// # Errors
    /// The first layer error met while building, an optimizer configuration error, or
    /// metrics that share a name or have a `k` of 0 (repeated metrics are dropped).
    pub fn compile<O>(&mut self, optimizer: O, loss: Loss, metrics: &[Metric]) -> Result<()>
    where
        O: TryInto<Optimizer>,
        Error: From<O::Error>,
    {
        self.check()?;
        let optimizer = optimizer.try_into()?;
        let metrics = crate::metrics::unique(metrics)?;
        self.compiled = Some(Compiled {
            optimizer,
            loss,
            metrics,
        });
        Ok(())
    }

    /// The compiled optimizer (Keras's `model.optimizer`), or `None` before `compile`: its
    /// step counter, learning rate and state.
    ///
    /// ```
    /// use keel_layers::Dense;
    /// use keel_optim::Sgd;
    /// use keel_trainer::{Loss, Sequential};
    /// # fn main() -> keel_trainer::Result<()> {
    /// let mut model = Sequential::new([2]).add(Dense::new(1));
    /// assert!(model.optimizer().is_none());
    /// model.compile(Sgd::new(0.1), Loss::MeanSquaredError, &[])?;
    /// assert_eq!(model.optimizer().map(|o| o.iterations()), Some(0));
    /// # Ok(()) }
    /// ```
    pub fn optimizer(&self) -> Option<&Optimizer> {
        self.compiled.as_ref().map(|c| &c.optimizer)
    }

    /// The weight-initialisation seed.
    pub fn seed_value(&self) -> u64 {
        self.seed
    }

    /// The per-sample input shape.
    pub fn input_shape(&self) -> &[usize] {
        &self.input_shape
    }

    /// The per-sample output shape of the last built layer (the input shape when empty).
    pub fn output_shape(&self) -> &[usize] {
        self.shapes
            .last()
            .map(Vec::as_slice)
            .unwrap_or(&self.input_shape)
    }

    /// The layers, in order.
    pub fn layers(&self) -> &[Box<dyn Layer>] {
        &self.layers
    }

    /// The Keras-style names of the layers ("dense", "dense_1", ...).
    pub fn layer_names(&self) -> &[String] {
        &self.names
    }

    /// The per-sample output shape of each built layer, in order.
    pub fn layer_output_shapes(&self) -> &[Vec<usize>] {
        &self.shapes
    }

    /// The total number of scalars in all parameters, trainable or not.
    pub fn param_count(&self) -> usize {
        self.named_params().iter().map(|(_, p)| p.len()).sum()
    }

    /// Every parameter (trainable or frozen) with its path, in model order: Keras's
    /// `model.weights`. Paths display as `"dense_1/kernel"`, the layer named as `summary()`
    /// names it.
    pub fn named_params(&self) -> Vec<(ParamPath, &Param)> {
        self.paths_of(|_, layer| layer.weights())
    }

    /// The parameters `select` picks from each layer (given its position), with their paths.
    fn paths_of<'a>(
        &'a self,
        select: impl Fn(usize, &'a dyn Layer) -> Vec<(&'static str, &'a Param)>,
    ) -> Vec<(ParamPath, &'a Param)> {
        let mut out = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            for (weight, p) in select(i, layer.as_ref()) {
                out.push((path_of(&self.names, i, layer.kind(), weight), p));
            }
        }
        out
    }

    /// Mutable access to every parameter with its path, in [`named_params`](Sequential::named_params) order.
    pub fn named_params_mut(&mut self) -> Vec<(ParamPath, &mut Param)> {
        params_of(&mut self.layers, &self.names, None)
    }

    /// The parameters the optimizer updates (those of trainable layers) with their paths, in
    /// model order: Keras's `model.trainable_variables`, for custom training loops.
    ///
    /// ```
    /// use keel_layers::Dense;
    /// use keel_trainer::Sequential;
    /// # fn main() -> keel_trainer::Result<()> {
    /// let mut model = Sequential::new([3]).add(Dense::new(4)).add(Dense::new(2));
    /// model.set_trainable("dense", false)?;
    /// let names: Vec<String> = model.trainable_params_mut().iter().map(|(p, _)| p.to_string()).collect();
    /// assert_eq!(names, ["dense_1/kernel", "dense_1/bias"]);
    /// # Ok(()) }
    /// ```
    pub fn trainable_params_mut(&mut self) -> Vec<(ParamPath, &mut Param)> {
        params_of(&mut self.layers, &self.names, Some(&self.trainable))
    }

    /// The parameters of trainable layers with their paths, in model order.
    pub fn trainable_params(&self) -> Vec<(ParamPath, &Param)> {
        self.paths_of(|i, layer| match self.trainable[i] {
            true => layer.params(),
            false => Vec::new(),
        })
    }

    /// Records the weights of frozen layers on `tape` as constants, so the backward pass
    /// computes no gradient for them.
    pub(crate) fn freeze_on(&self, tape: &Tape) {
        if self.trainable.iter().all(|&t| t) {
            return;
        }
        let frozen = self.layers.iter().zip(&self.trainable).filter(|(_, &t)| !t);
        tape.freeze(frozen.flat_map(|(l, _)| l.params().into_iter().map(|(_, p)| p.id())));
    }

    /// Whether the optimizer updates the weights of the layer at `index`.
    pub(crate) fn layer_trainable(&self, index: usize) -> bool {
        self.trainable.get(index).copied().unwrap_or(true)
    }

    /// Freezes (`false`) or unfreezes the layer named `name`, as Keras's
    /// `model.get_layer(name).trainable = False`: a frozen layer's weights are left out of
    /// the optimizer's updates (and of [`trainable_params_mut`](Sequential::trainable_params_mut)),
    /// kept in every file, and counted as non-trainable by `summary()`. Recompile to start
    /// the optimizer afresh if you change this between `fit` calls, as Keras asks.
    ///
    /// # Errors
    /// [`Error::UnknownLayer`] when no layer has that name.
    pub fn set_trainable(&mut self, name: &str, trainable: bool) -> Result<()> {
        let index = self.layer_index(name)?;
        self.trainable[index] = trainable;
        Ok(())
    }

    /// Whether the layer named `name` is trainable.
    ///
    /// # Errors
    /// [`Error::UnknownLayer`] when no layer has that name.
    pub fn is_trainable(&self, name: &str) -> Result<bool> {
        Ok(self.trainable[self.layer_index(name)?])
    }

    /// The position of the layer named `name`.
    ///
    /// # Errors
    /// [`Error::UnknownLayer`] naming the layers there are.
    pub fn layer_index(&self, name: &str) -> Result<usize> {
        self.names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| Error::UnknownLayer {
                name: name.to_string(),
                known: self.names.clone(),
            })
    }

    /// The activation the last layer applies, which losses fuse.
    pub(crate) fn output_activation(&self) -> Activation {
        self.layers
            .last()
            .map_or(Activation::Linear, |l| l.final_activation())
    }

    /// The batch `x` on `tape`, flattened here when the model starts with a `Flatten` layer:
    /// reshaping the owned, contiguous batch is free, where `Flatten` (which then sees a
    /// flat batch and passes it on) would copy it on every step.
    pub(crate) fn input_var<'t>(&self, tape: &'t Tape, x: Tensor) -> Var<'t> {
        let starts_flat = self.layers.first().is_some_and(|l| l.kind() == "flatten");
        let rows = x.shape().first().copied().unwrap_or(0);
        if starts_flat && x.ndim() > 2 && rows > 0 && x.is_standard_layout() {
            let features = x.len() / rows;
            let flat = x
                .into_shape_with_order(IxDyn(&[rows, features]))
                .expect("a contiguous array reshapes to [rows, rest]");
            return tape.constant(flat);
        }
        tape.constant(x)
    }

    /// Runs the stack, leaving the last layer's softmax or sigmoid unapplied (and returned)
    /// so the loss can fuse it.
    pub(crate) fn forward_split<'t>(&self, x: Var<'t>, ctx: &mut Ctx<'_>) -> (Var<'t>, Activation) {
        let Some((last, body)) = self.layers.split_last() else {
            return (x, Activation::Linear);
        };
        let hidden = body.iter().enumerate().fold(x, |h, (index, layer)| {
            ctx.set_layer_frozen(!self.layer_trainable(index));
            layer.forward(h, ctx)
        });
        ctx.set_layer_frozen(!self.layer_trainable(body.len()));
        let output = last.forward_logits(hidden, ctx);
        ctx.set_layer_frozen(false);
        (output, last.final_activation())
    }
}

/// The path of weight `weight` of layer `index` (named `names[index]`, or by its kind when
/// it could not be built).
fn path_of(names: &[String], index: usize, kind: &str, weight: &str) -> ParamPath {
    let layer = names.get(index).map_or(kind, String::as_str);
    ParamPath::new(index, layer, weight)
}

/// The parameters of `layers` by path: every weight, or only the trainable parameters of
/// trainable layers when `trainable` is given; a free function so that `fit` can borrow the layers and the optimizer (another
/// field of the model) at once.
pub(crate) fn params_of<'a>(
    layers: &'a mut [Box<dyn Layer>],
    names: &[String],
    trainable: Option<&[bool]>,
) -> Vec<(ParamPath, &'a mut Param)> {
    let mut out = Vec::new();
    for (i, layer) in layers.iter_mut().enumerate() {
        if trainable.is_some_and(|t| !t.get(i).copied().unwrap_or(true)) {
            continue;
        }
        let kind = layer.kind();
        let params = match trainable {
            Some(_) => layer.params_mut(),
            None => layer.weights_mut(),
        };
        for (weight, p) in params {
            out.push((path_of(names, i, kind, weight), p));
        }
    }
    out
}

/// Runs `f` with `runtime` installed, or on the current runtime when `None` (see
/// [`Sequential::runtime_for`]).
pub(crate) fn on_runtime<R>(runtime: Option<keel_runtime::Runtime>, f: impl FnOnce() -> R) -> R {
    match runtime {
        Some(runtime) => runtime.install(f),
        None => f(),
    }
}
