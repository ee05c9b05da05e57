//! `ConfusionMatrix`: counts of (true class, predicted class) pairs, and the per-class and
//! averaged precision, recall and F1 they give.

use super::Average;

/// Counts of (true class, predicted class) pairs over a dataset or an epoch: row = true
/// class, column = predicted class (the layout of Keras's `confusion_matrix` and
/// scikit-learn's). Precision, recall and F1, per class or averaged, are read from it.
///
/// A ratio whose denominator is 0 (a class never predicted, or never present) is 0, as in
/// Keras. [`Sequential::confusion_matrix`](crate::Sequential::confusion_matrix) computes
/// one for a model; `Display` prints the matrix and a per-class report.
///
/// ```
/// use keel_trainer::{Average, ConfusionMatrix};
/// // True classes 0, 0, 1, 1, 2; predicted 0, 1, 1, 1, 1.
/// let m = ConfusionMatrix::from_pairs(3, [(0, 0), (0, 1), (1, 1), (1, 1), (2, 1)]);
/// assert_eq!(m.count(0, 1), 1);
/// assert_eq!(m.precision(1), 0.5); // 2 of the 4 predicted 1s are right
/// assert_eq!(m.recall(0), 0.5); // 1 of the 2 true 0s is found
/// assert_eq!(m.accuracy(), 0.6);
/// assert_eq!(m.f1_score(Average::Micro), m.accuracy());
/// println!("{m}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConfusionMatrix {
    classes: usize,
    counts: Vec<u64>,
}

fn ratio(numerator: u64, denominator: u64) -> f64 {
    if denominator == 0 {
        0.0
    } else {
        numerator as f64 / denominator as f64
    }
}

impl ConfusionMatrix {
    /// An empty matrix of `classes` × `classes` counts.
    pub fn new(classes: usize) -> Self {
        ConfusionMatrix {
            classes,
            counts: vec![0; classes * classes],
        }
    }

    /// A matrix counting each `(true class, predicted class)` pair.
    ///
    /// # Panics
    /// If a class is not below `classes`.
    pub fn from_pairs(classes: usize, pairs: impl IntoIterator<Item = (usize, usize)>) -> Self {
        let mut m = ConfusionMatrix::new(classes);
        for (truth, predicted) in pairs {
            m.add(truth, predicted);
        }
        m
    }

    /// Counts one sample of class `truth` predicted as `predicted`.
    ///
    /// # Panics
    /// If a class is not below [`classes`](ConfusionMatrix::classes).
    pub fn add(&mut self, truth: usize, predicted: usize) {
        assert!(
            truth < self.classes && predicted < self.classes,
            "confusion matrix of {} classes: class ({truth}, {predicted}) out of range",
            self.classes
        );
        self.counts[truth * self.classes + predicted] += 1;
    }

    /// The counts, row `truth`, column `predicted` (data-parallel `fit` sums them).
    pub(crate) fn counts_mut(&mut self) -> &mut [u64] {
        &mut self.counts
    }

    /// Sets every count back to 0, keeping the allocation.
    pub fn reset(&mut self) {
        self.counts.fill(0);
    }

    /// The number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// The samples of class `truth` predicted as `predicted`.
    ///
    /// # Panics
    /// If a class is not below [`classes`](ConfusionMatrix::classes).
    pub fn count(&self, truth: usize, predicted: usize) -> u64 {
        assert!(truth < self.classes && predicted < self.classes);
        self.counts[truth * self.classes + predicted]
    }

    /// Every sample counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The samples whose true class is `class` (a row sum).
    pub fn support(&self, class: usize) -> u64 {
        (0..self.classes).map(|p| self.count(class, p)).sum()
    }

    /// The samples predicted as `class` (a column sum).
    pub fn predicted(&self, class: usize) -> u64 {
        (0..self.classes).map(|t| self.count(t, class)).sum()
    }

    fn correct(&self) -> u64 {
        (0..self.classes).map(|c| self.count(c, c)).sum()
    }

    /// The fraction of samples on the diagonal.
    pub fn accuracy(&self) -> f64 {
        ratio(self.correct(), self.total())
    }

    /// `TP / (TP + FP)` of `class`: how many of the samples predicted as `class` are.
    pub fn precision(&self, class: usize) -> f64 {
        ratio(self.count(class, class), self.predicted(class))
    }

    /// `TP / (TP + FN)` of `class`: how many of the samples of `class` are predicted so.
    pub fn recall(&self, class: usize) -> f64 {
        ratio(self.count(class, class), self.support(class))
    }

    /// `2·TP / (2·TP + FP + FN)` of `class`: the harmonic mean of its precision and recall.
    pub fn f1(&self, class: usize) -> f64 {
        let tp = self.count(class, class);
        ratio(2 * tp, self.support(class) + self.predicted(class))
    }

    fn average(&self, average: Average, score: impl Fn(usize) -> f64, pooled: f64) -> f64 {
        match average {
            Average::Macro => {
                (0..self.classes).map(score).sum::<f64>() / self.classes.max(1) as f64
            }
            Average::Micro => pooled,
            Average::Weighted => {
                let weighted: f64 = (0..self.classes)
                    .map(|c| score(c) * self.support(c) as f64)
                    .sum();
                if self.total() == 0 {
                    0.0
                } else {
                    weighted / self.total() as f64
                }
            }
        }
    }

    /// The precision averaged over classes. Micro-averaged, it is the accuracy.
    pub fn precision_score(&self, average: Average) -> f64 {
        self.average(average, |c| self.precision(c), self.accuracy())
    }

    /// The recall averaged over classes. Micro-averaged, it is the accuracy.
    pub fn recall_score(&self, average: Average) -> f64 {
        self.average(average, |c| self.recall(c), self.accuracy())
    }

    /// The F1 score averaged over classes, as Keras's `F1Score(average=...)`.
    pub fn f1_score(&self, average: Average) -> f64 {
        self.average(average, |c| self.f1(c), self.accuracy())
    }

    /// The unweighted mean of the per-class precisions.
    pub fn macro_precision(&self) -> f64 {
        self.precision_score(Average::Macro)
    }

    /// The unweighted mean of the per-class recalls.
    pub fn macro_recall(&self) -> f64 {
        self.recall_score(Average::Macro)
    }

    /// The unweighted mean of the per-class F1 scores.
    pub fn macro_f1(&self) -> f64 {
        self.f1_score(Average::Macro)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Three classes, ten samples (rows true, columns predicted):
    /// ```text
    ///        p0 p1 p2   support
    ///   t0 [  3  1  0 ]   4
    ///   t1 [  1  2  1 ]   4
    ///   t2 [  0  0  2 ]   2
    ///   predicted: 4  3  3
    /// ```
    pub(crate) fn example() -> ConfusionMatrix {
        let pairs = [
            (0, 0),
            (0, 0),
            (0, 0),
            (0, 1),
            (1, 0),
            (1, 1),
            (1, 1),
            (1, 2),
            (2, 2),
            (2, 2),
        ];
        ConfusionMatrix::from_pairs(3, pairs)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn per_class_scores_match_hand_computed_values() {
        let m = example();
        // precision = diagonal / column sum: 3/4, 2/3, 2/3.
        assert!(close(m.precision(0), 0.75) && close(m.precision(1), 2.0 / 3.0));
        assert!(close(m.precision(2), 2.0 / 3.0));
        // recall = diagonal / row sum: 3/4, 2/4, 2/2.
        assert!(close(m.recall(0), 0.75) && close(m.recall(1), 0.5) && close(m.recall(2), 1.0));
        // f1 = 2TP / (support + predicted): 6/8, 4/7, 4/5.
        assert!(close(m.f1(0), 0.75) && close(m.f1(1), 4.0 / 7.0) && close(m.f1(2), 0.8));
        assert!(close(m.accuracy(), 0.7));
    }

    #[test]
    fn averages_match_hand_computed_values() {
        let m = example();
        // macro: (3/4 + 2/3 + 2/3) / 3 = 25/36; recall (3/4 + 1/2 + 1) / 3 = 3/4;
        // f1 (3/4 + 4/7 + 4/5) / 3 = (105 + 80 + 112) / 140 / 3 = 297/420.
        assert!(close(m.macro_precision(), 25.0 / 36.0));
        assert!(close(m.macro_recall(), 0.75));
        assert!(close(m.macro_f1(), 297.0 / 420.0));
        // weighted by support 4, 4, 2: (4·3/4 + 4·4/7 + 2·4/5) / 10 = (3 + 16/7 + 8/5) / 10.
        assert!(close(
            m.f1_score(Average::Weighted),
            (3.0 + 16.0 / 7.0 + 1.6) / 10.0
        ));
        // micro: 7 right of 10.
        assert!(close(m.f1_score(Average::Micro), 0.7));
    }

    #[test]
    fn empty_classes_score_zero_and_reset_keeps_the_size() {
        let mut m = ConfusionMatrix::from_pairs(3, [(0, 0), (0, 0)]);
        assert_eq!((m.precision(1), m.recall(2), m.f1(2)), (0.0, 0.0, 0.0));
        assert!(
            close(m.macro_f1(), 1.0 / 3.0),
            "absent classes count as 0, as in Keras"
        );
        m.reset();
        assert_eq!((m.total(), m.classes(), m.accuracy()), (0, 3, 0.0));
    }
}
