//! `Sequential::summary`: Keras 3's table of layers, output shapes and parameter counts.

use crate::Sequential;

/// `25450` as `"25,450"`, as Keras prints counts.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The memory of `n` `f32` values, as Keras's `readable_memory_size`: "99.41 KB".
fn memory(n: usize) -> String {
    let mut size = n as f64 * 4.0;
    for unit in ["B", "KB", "MB", "GB", "TB"] {
        if size < 1024.0 {
            return format!("{size:.2} {unit}");
        }
        size /= 1024.0;
    }
    format!("{size:.2} PB")
}

/// Keras's class name for a layer kind: each `_`-separated word capitalized, and a
/// dimension suffix upper-cased (`"max_pooling2d"` is `"MaxPooling2D"`).
fn type_name(kind: &str) -> String {
    let mut out = String::with_capacity(kind.len());
    for word in kind.split('_') {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase().chain(chars));
        }
    }
    let dimension = out.len() >= 2
        && out.ends_with('d')
        && out[..out.len() - 1].ends_with(|c: char| c.is_ascii_digit());
    if dimension {
        out.pop();
        out.push('D');
    }
    out
}

fn count(params: Vec<(&'static str, &keel_autograd::Param)>) -> usize {
    params.iter().map(|(_, p)| p.len()).sum()
}

/// A horizontal rule of the table: `left`, each column's width of `fill` with `join`
/// between columns, `right`.
fn rule(widths: &[usize; 3], [left, fill, join, right]: [char; 4]) -> String {
    let cells: Vec<String> = widths
        .iter()
        .map(|&w| fill.to_string().repeat(w + 2))
        .collect();
    format!("{left}{}{right}\n", cells.join(&join.to_string()))
}

impl Sequential {
    /// Keras 3's summary table: each layer's name and type, output shape (with `None` for
    /// the batch axis) and parameter count, then the total, trainable and non-trainable
    /// parameters with their memory as `f32`. Columns widen to fit long names. A model that
    /// cannot be built lists the layers built so far and ends with the build error.
    ///
    /// ```
    /// use keel_layers::{Dense, Flatten};
    /// use keel_trainer::Sequential;
    /// let model = Sequential::new([28, 28]).add(Flatten::new()).add(Dense::new(10));
    /// let table = model.summary_string();
    /// assert!(table.contains("│ dense (Dense)                   │ (None, 10)             │         7,850 │"));
    /// assert!(table.ends_with(" Non-trainable params: 0 (0.00 B)\n"));
    ///
    /// let frozen = Sequential::new([4]).add(Dense::new(2).trainable(false));
    /// assert!(frozen.summary_string().contains(" Non-trainable params: 10 (40.00 B)\n"));
    /// ```
    pub fn summary_string(&self) -> String {
        let mut trainable = 0;
        let mut frozen = 0;
        let rows: Vec<[String; 3]> = self
            .layers()
            .iter()
            .zip(self.layer_names())
            .zip(self.layer_output_shapes())
            .enumerate()
            .map(|(index, ((layer, name), shape))| {
                let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
                let (mut t, mut f) = (count(layer.params()), count(layer.non_trainable_params()));
                if !self.layer_trainable(index) {
                    (t, f) = (0, t + f); // a frozen layer's weights are all non-trainable
                }
                trainable += t;
                frozen += f;
                [
                    format!("{name} ({})", type_name(layer.kind())),
                    format!("(None, {})", dims.join(", ")),
                    thousands(t + f),
                ]
            })
            .collect();
        let header = ["Layer (type)", "Output Shape", "Param #"];
        let mut widths = [31, 22, 13];
        for row in rows.iter().chain([&header.map(String::from)]) {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |[a, b, c]: [&str; 3], bar: char| {
            let [wa, wb, wc] = widths;
            format!("{bar} {a:<wa$} {bar} {b:<wb$} {bar} {c:>wc$} {bar}\n")
        };
        let mut out = String::from("Model: \"sequential\"\n");
        out += &rule(&widths, ['┏', '━', '┳', '┓']);
        out += &line(header, '┃');
        out += &rule(&widths, ['┡', '━', '╇', '┩']);
        for (i, [name, shape, params]) in rows.iter().enumerate() {
            if i > 0 {
                out += &rule(&widths, ['├', '─', '┼', '┤']);
            }
            out += &line([name, shape, params], '│');
        }
        out += &rule(&widths, ['└', '─', '┴', '┘']);
        let total = trainable + frozen;
        out += &format!(" Total params: {} ({})\n", thousands(total), memory(total));
        out += &format!(
            " Trainable params: {} ({})\n",
            thousands(trainable),
            memory(trainable)
        );
        out += &format!(
            " Non-trainable params: {} ({})\n",
            thousands(frozen),
            memory(frozen)
        );
        // Rows stop at the first layer that could not take its input: say why.
        if let Err(e) = self.check() {
            out += &format!(" The model cannot be built: {e}\n");
        }
        out
    }

    /// Prints [`summary_string`](Sequential::summary_string) to stdout.
    pub fn summary(&self) {
        print!("{}", self.summary_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_sizes_read_as_keras_prints_them() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(25450), "25,450");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(memory(0), "0.00 B");
        assert_eq!(memory(25450), "99.41 KB");
        assert_eq!(memory(1 << 20), "4.00 MB");
    }

    #[test]
    fn type_names_are_keras_class_names() {
        for (kind, name) in [
            ("dense", "Dense"),
            ("conv2d", "Conv2D"),
            ("max_pooling2d", "MaxPooling2D"),
            ("average_pooling2d", "AveragePooling2D"),
            ("global_average_pooling2d", "GlobalAveragePooling2D"),
            ("global_max_pooling2d", "GlobalMaxPooling2D"),
            ("reshape", "Reshape"),
            ("", ""),
        ] {
            assert_eq!(type_name(kind), name);
        }
    }
}
