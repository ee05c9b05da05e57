//! `Display` for `ConfusionMatrix`: the matrix, then a per-class report.

use super::{Average, ConfusionMatrix};
use std::fmt;

fn scores(f: &mut fmt::Formatter<'_>, label: &str, [p, r, f1]: [f64; 3], n: u64) -> fmt::Result {
    writeln!(f, "{label:>12} {p:>9.4} {r:>9.4} {f1:>9.4} {n:>9}")
}

/// The matrix (rows true, columns predicted), then precision, recall, F1 and support per
/// class, the accuracy, and the macro and weighted averages, as scikit-learn's
/// `classification_report`.
impl fmt::Display for ConfusionMatrix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let k = self.classes();
        let digits = |n: u64| n.to_string().len();
        let cells = (0..k).flat_map(|t| (0..k).map(move |p| (t, p)));
        let width = cells
            .map(|(t, p)| digits(self.count(t, p)))
            .chain([digits(k as u64), 4])
            .max()
            .unwrap_or(4);
        writeln!(
            f,
            "Confusion matrix (rows: true class, columns: predicted class)"
        )?;
        write!(f, "{:>12}", "true\\pred")?;
        for p in 0..k {
            write!(f, " {p:>width$}")?;
        }
        writeln!(f)?;
        for t in 0..k {
            write!(f, "{t:>12}")?;
            for p in 0..k {
                write!(f, " {:>width$}", self.count(t, p))?;
            }
            writeln!(f)?;
        }
        let header = ["", "precision", "recall", "f1-score", "support"];
        let [a, b, c, d, e] = header;
        writeln!(f, "\n{a:>12} {b:>9} {c:>9} {d:>9} {e:>9}")?;
        for class in 0..k {
            let values = [self.precision(class), self.recall(class), self.f1(class)];
            scores(f, &class.to_string(), values, self.support(class))?;
        }
        let (accuracy, total) = (self.accuracy(), self.total());
        writeln!(
            f,
            "\n{:>12} {:>9} {:>9} {accuracy:>9.4} {total:>9}",
            "accuracy", "", ""
        )?;
        for (label, average) in [
            ("macro avg", Average::Macro),
            ("weighted avg", Average::Weighted),
        ] {
            let values = [
                self.precision_score(average),
                self.recall_score(average),
                self.f1_score(average),
            ];
            scores(f, label, values, total)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::metrics::confusion::tests::example;

    #[test]
    fn display_shows_the_matrix_and_the_report() {
        // The matrix of `confusion.rs`'s tests (`example`). Weighted averages (supports 4, 4, 2):
        // precision (4·3/4 + 4·2/3 + 2·2/3) / 10 = 0.7, recall (3 + 2 + 2) / 10 = 0.7,
        // f1 (4·3/4 + 4·4/7 + 2·4/5) / 10 = 0.68857.
        let expected = "\
Confusion matrix (rows: true class, columns: predicted class)
   true\\pred    0    1    2
           0    3    1    0
           1    1    2    1
           2    0    0    2

             precision    recall  f1-score   support
           0    0.7500    0.7500    0.7500         4
           1    0.6667    0.5000    0.5714         4
           2    0.6667    1.0000    0.8000         2

    accuracy                        0.7000        10
   macro avg    0.6944    0.7500    0.7071        10
weighted avg    0.7000    0.7000    0.6886        10
";
        assert_eq!(example().to_string(), expected);
    }
}
