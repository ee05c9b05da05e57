//! Convnets: Keras's summary of the W4 model, and model files that round-trip every image
//! layer.

mod common;
use common::w4_convnet;
use keel_layers::{
    Activation, AveragePooling2D, Conv2D, Dense, GlobalAveragePooling2D, GlobalMaxPooling2D,
    MaxPooling2D, Padding, Regularizer, Reshape,
};
use keel_trainer::Sequential;
use ndarray::{ArrayD, IxDyn};

#[test]
fn the_w4_summary_matches_keras() {
    // Printed by Keras 3.15 (`model.summary()`) for the same model on `Input((28, 28))`.
    let expected = "\
Model: \"sequential\"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ reshape (Reshape)               │ (None, 28, 28, 1)      │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ conv2d (Conv2D)                 │ (None, 26, 26, 32)     │           320 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ max_pooling2d (MaxPooling2D)    │ (None, 13, 13, 32)     │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ conv2d_1 (Conv2D)               │ (None, 11, 11, 64)     │        18,496 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ max_pooling2d_1 (MaxPooling2D)  │ (None, 5, 5, 64)       │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ flatten (Flatten)               │ (None, 1600)           │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dropout (Dropout)               │ (None, 1600)           │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense (Dense)                   │ (None, 10)             │        16,010 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 34,826 (136.04 KB)
 Trainable params: 34,826 (136.04 KB)
 Non-trainable params: 0 (0.00 B)
";
    assert_eq!(w4_convnet().summary_string(), expected);
}

/// Every image layer, with non-default arguments.
fn every_image_layer() -> Sequential {
    Sequential::new([36])
        .add(Reshape::new([6, 6, 1]))
        .add(
            Conv2D::new(3, (3, 2))
                .strides((2, 1))
                .padding(Padding::Same)
                .dilation_rate((1, 2))
                .activation(Activation::Tanh)
                .kernel_regularizer(Regularizer::L2(1e-3)),
        )
        .add(
            AveragePooling2D::new((2, 2))
                .strides((1, 1))
                .padding(Padding::Same),
        )
        .add(MaxPooling2D::new((2, 2)).strides((1, 2)))
        .add(Conv2D::new(4, (1, 1)).use_bias(false))
        .add(GlobalMaxPooling2D::new())
        .add(Reshape::new([1, 1, 4]))
        .add(GlobalAveragePooling2D::new())
        .add(Dense::new(2))
}

#[test]
fn a_model_file_round_trips_every_image_layer() {
    let model = every_image_layer().seed(3);
    model.check().expect("builds");
    let x = ArrayD::from_shape_fn(IxDyn(&[5, 36]), |i| {
        ((i[0] * 36 + i[1]) % 11) as f32 * 0.2 - 1.0
    });
    let restored = Sequential::from_bytes(&model.to_bytes().unwrap()).unwrap();
    assert_eq!(restored.layer_names(), model.layer_names());
    assert_eq!(restored.summary_string(), model.summary_string());
    assert_eq!(
        restored.predict_samples(x.clone()).unwrap(),
        model.predict_samples(x).unwrap()
    );
    assert_eq!(restored.to_bytes().unwrap(), model.to_bytes().unwrap());
}

#[test]
fn safetensors_hold_conv_kernels_in_keras_layout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w4.safetensors");
    let model = w4_convnet();
    model.export_safetensors(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&bytes[8..8 + header_len]).unwrap();
    assert!(
        header.contains(r#""conv2d/kernel":{"dtype":"F32","shape":[3,3,1,32]"#),
        "{header}"
    );
    assert!(
        header.contains(r#""conv2d_1/kernel":{"dtype":"F32","shape":[3,3,32,64]"#),
        "{header}"
    );
    let mut restored = w4_convnet();
    restored.load_safetensors(&path).unwrap();
    assert_eq!(restored.to_bytes().unwrap(), model.to_bytes().unwrap());
}

#[test]
fn a_conv_layer_that_cannot_take_its_input_fails_compile_naming_it() {
    let model = Sequential::new([4, 4, 1]).add(Conv2D::new(2, (5, 5)));
    let msg = model.check().unwrap_err().to_string();
    assert!(msg.contains("conv2d") && msg.contains("[4, 4, 1]"), "{msg}");
}
