//! The file-name patterns of `ModelCheckpoint`: `"ckpt-{epoch:02}-{val_loss:.4}.keel"`.
//!
//! A small subset of Python's `str.format`, which Keras uses: `{name}` or `{name:spec}` with
//! `spec = [0][width][.precision][d|f]`, and `{{`/`}}` for literal braces. Precision is the
//! number of digits after the point (Rust's meaning, and Python's with `f`).

/// A value to put in a placeholder.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Value {
    Int(usize),
    Float(f64),
}

#[derive(Debug, Clone, PartialEq)]
struct Spec {
    zero: bool,
    width: usize,
    precision: Option<usize>,
    kind: Option<char>,
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Field { name: String, spec: Spec },
}

/// A parsed pattern.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pattern {
    pieces: Vec<Piece>,
}

fn parse_spec(spec: &str) -> Option<Spec> {
    let (zero, rest) = match spec.strip_prefix('0') {
        Some(rest) => (true, rest),
        None => (false, spec),
    };
    let (rest, kind) = match rest.chars().last() {
        Some(c @ ('d' | 'f')) => (&rest[..rest.len() - 1], Some(c)),
        _ => (rest, None),
    };
    let (width, precision) = match rest.split_once('.') {
        Some((w, p)) => (w, Some(p.parse().ok()?)),
        None => (rest, None),
    };
    let width = if width.is_empty() {
        0
    } else {
        width.parse().ok()?
    };
    Some(Spec {
        zero,
        width,
        precision,
        kind,
    })
}

impl Pattern {
    /// Parses `pattern`; the error says what is wrong.
    pub(crate) fn parse(pattern: &str) -> Result<Pattern, String> {
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    text.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    text.push('}');
                }
                '}' => return Err("expected '}}' for a literal '}', found a single '}'".into()),
                '{' => {
                    let mut field = String::new();
                    let mut closed = false;
                    for c in chars.by_ref() {
                        if c == '}' {
                            closed = true;
                            break;
                        }
                        field.push(c);
                    }
                    if !closed {
                        return Err(format!("expected '}}' to close '{{{field}', found the end"));
                    }
                    let (name, spec) = field.split_once(':').unwrap_or((&field, ""));
                    if name.is_empty() {
                        return Err(format!(
                            "expected a metric name in every placeholder, found '{{{field}}}'"
                        ));
                    }
                    let spec = parse_spec(spec).ok_or_else(|| {
                        format!(
                            "expected a format spec [0][width][.precision][d|f], found '{spec}' in '{{{field}}}'"
                        )
                    })?;
                    if !text.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut text)));
                    }
                    pieces.push(Piece::Field {
                        name: name.to_string(),
                        spec,
                    });
                }
                c => text.push(c),
            }
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(Pattern { pieces })
    }

    /// The placeholder names, in order.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Field { name, .. } => Some(name.as_str()),
            Piece::Text(_) => None,
        })
    }

    /// Fills the placeholders with `lookup(name)`; `Err(name)` for the first name it lacks,
    /// or for `d` applied to a non-integer.
    pub(crate) fn format(&self, lookup: impl Fn(&str) -> Option<Value>) -> Result<String, String> {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out += text,
                Piece::Field { name, spec } => {
                    let value = lookup(name).ok_or_else(|| name.clone())?;
                    out += &render(value, spec).ok_or_else(|| name.clone())?;
                }
            }
        }
        Ok(out)
    }
}

/// The text of `value` under `spec`; `None` where Python's `format` raises (`d` on a float,
/// or with a precision).
fn render(value: Value, spec: &Spec) -> Option<String> {
    let w = spec.width;
    let float = |v: f64| match (spec.precision, spec.zero) {
        (Some(p), true) => format!("{v:0w$.p$}"),
        (Some(p), false) => format!("{v:w$.p$}"),
        (None, true) => format!("{v:0w$}"),
        (None, false) => format!("{v:w$}"),
    };
    match value {
        _ if spec.kind == Some('d') && spec.precision.is_some() => None,
        Value::Int(i) if spec.precision.is_none() && spec.kind != Some('f') => Some(if spec.zero {
            format!("{i:0w$}")
        } else {
            format!("{i:w$}")
        }),
        Value::Int(i) => Some(float(i as f64)),
        Value::Float(_) if spec.kind == Some('d') => None,
        Value::Float(v) => Some(float(v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(pattern: &str) -> Result<String, String> {
        Pattern::parse(pattern)?.format(|name| match name {
            "epoch" => Some(Value::Int(3)),
            "val_loss" => Some(Value::Float(0.123456)),
            _ => None,
        })
    }

    #[test]
    fn formats_keras_style_placeholders() {
        assert_eq!(
            fill("ckpt-{epoch:02}-{val_loss:.4}.keel").unwrap(),
            "ckpt-03-0.1235.keel"
        );
        assert_eq!(fill("{epoch:02d}_{val_loss:.2f}").unwrap(), "03_0.12");
        assert_eq!(fill("{epoch}/{val_loss}").unwrap(), "3/0.123456");
        assert_eq!(fill("{epoch:3}|{val_loss:08.3}").unwrap(), "  3|0000.123");
        assert_eq!(fill("{{literal}}-{epoch}").unwrap(), "{literal}-3");
        assert_eq!(fill("plain.keel").unwrap(), "plain.keel");
    }

    #[test]
    fn reports_unknown_names_and_bad_syntax() {
        assert_eq!(fill("{val_acc:.2}"), Err("val_acc".to_string()));
        assert_eq!(fill("{val_loss:d}"), Err("val_loss".to_string()));
        for bad in [
            "ckpt-{epoch",
            "{epoch}-{epoch",
            "ckpt}",
            "{:02}",
            "{epoch:x}",
            "{epoch:.}",
        ] {
            let err = Pattern::parse(bad).unwrap_err();
            assert!(err.starts_with("expected"), "{bad}: {err}");
        }
        let names: Vec<String> = Pattern::parse("{epoch}-{loss:.3}")
            .unwrap()
            .names()
            .map(str::to_string)
            .collect();
        assert_eq!(names, ["epoch", "loss"]);
    }
}
