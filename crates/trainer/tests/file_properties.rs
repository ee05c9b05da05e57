//! Property tests: random small models, stacked from every built-in layer, survive each
//! file round trip with the same bytes and bit-identical predictions.

use keel_data::{Dataset, Targets};
use keel_layers::{Activation, DenseConfig, Initializer, LayerConfig};
use keel_trainer::Sequential;
use ndarray::{ArrayD, Dimension, IxDyn};
use proptest::prelude::*;
use safetensors::SafeTensors;

fn activation() -> impl Strategy<Value = Activation> {
    prop_oneof![
        Just(Activation::Linear),
        Just(Activation::Relu),
        Just(Activation::Sigmoid),
        Just(Activation::Tanh),
        Just(Activation::Softmax),
    ]
}

fn initializer() -> impl Strategy<Value = Initializer> {
    prop_oneof![
        Just(Initializer::GlorotUniform),
        Just(Initializer::HeUniform),
        (-1.0f32..1.0, 0.0f32..2.0)
            .prop_map(|(mean, stddev)| Initializer::RandomNormal { mean, stddev }),
        Just(Initializer::Zeros),
        Just(Initializer::Ones),
    ]
}

fn layer() -> impl Strategy<Value = LayerConfig> {
    prop_oneof![
        3 => (1usize..6, activation(), any::<bool>(), initializer(), initializer()).prop_map(
            |(units, activation, use_bias, kernel_initializer, bias_initializer)| {
                LayerConfig::Dense(DenseConfig {
                    units,
                    activation,
                    use_bias,
                    kernel_initializer,
                    bias_initializer,
                    kernel_regularizer: None,
                    bias_regularizer: None,
                })
            }
        ),
        1 => (0.0f32..0.9).prop_map(|rate| LayerConfig::Dropout { rate }),
        1 => Just(LayerConfig::Flatten),
        1 => Just(LayerConfig::Softmax),
        1 => activation().prop_map(|activation| LayerConfig::Activation { activation }),
    ]
}

/// A model of `layers` on `input_shape`, with a Flatten put before any Dense that would
/// get a sample of rank other than 1, so that every stack builds.
fn build(input_shape: &[usize], layers: &[LayerConfig], seed: u64) -> Sequential {
    let mut model = Sequential::new(input_shape).seed(seed);
    for config in layers {
        if matches!(config, LayerConfig::Dense(_)) && model.output_shape().len() != 1 {
            model.push_boxed(LayerConfig::Flatten.build());
        }
        model.push_boxed(config.build());
    }
    model.check().expect("every generated stack builds");
    model
}

/// Three samples of `input_shape` with varied values.
fn inputs(input_shape: &[usize]) -> Dataset {
    let mut shape = vec![3];
    shape.extend_from_slice(input_shape);
    let x = ArrayD::from_shape_fn(IxDyn(&shape), |i| {
        (i.slice().iter().sum::<usize>() % 7) as f32 * 0.3 - 0.9
    });
    Dataset::from_f32(x, Targets::Classes(vec![0; 3])).expect("inputs")
}

fn same_bits(a: &ndarray::ArrayD<f32>, b: &ndarray::ArrayD<f32>) -> bool {
    a.shape() == b.shape() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn model_files_round_trip(
        input_shape in prop::collection::vec(1usize..5, 1..4),
        layers in prop::collection::vec(layer(), 0..6),
        seed in any::<u64>(),
    ) {
        let model = build(&input_shape, &layers, seed);
        let bytes = model.to_bytes().unwrap();
        let loaded = Sequential::from_bytes(&bytes).unwrap();
        prop_assert!(loaded.to_bytes().unwrap() == bytes);
        prop_assert_eq!(loaded.layer_names(), model.layer_names());
        let data = inputs(&input_shape);
        prop_assert!(same_bits(&loaded.predict(&data).unwrap(), &model.predict(&data).unwrap()));
    }

    #[test]
    fn weights_files_round_trip_into_a_fresh_model(
        input_shape in prop::collection::vec(1usize..5, 1..4),
        layers in prop::collection::vec(layer(), 0..6),
        seed in any::<u64>(),
    ) {
        let model = build(&input_shape, &layers, seed);
        let bytes = model.weights_to_bytes().unwrap();
        let mut fresh = build(&input_shape, &layers, seed.wrapping_add(1));
        fresh.load_weights_from_bytes(&bytes).unwrap();
        prop_assert!(fresh.weights_to_bytes().unwrap() == bytes);
        let data = inputs(&input_shape);
        prop_assert!(same_bits(&fresh.predict(&data).unwrap(), &model.predict(&data).unwrap()));
    }

    #[test]
    fn safetensors_hold_every_weight(
        input_shape in prop::collection::vec(1usize..5, 1..4),
        layers in prop::collection::vec(layer(), 0..6),
        seed in any::<u64>(),
    ) {
        let model = build(&input_shape, &layers, seed);
        let bytes = model.to_safetensors().unwrap();
        let file = SafeTensors::deserialize(&bytes).unwrap();
        prop_assert_eq!(file.names().len(), model.named_params().len());
        for (name, param) in model.named_params() {
            let view = file.tensor(&name.to_string()).unwrap();
            prop_assert_eq!(view.shape(), param.value().shape());
            let stored: Vec<u8> = param.value().iter().flat_map(|v| v.to_le_bytes()).collect();
            prop_assert_eq!(view.data(), &stored[..]);
        }
    }
}
