//! Per-row reads of outputs and targets, without allocating: they run on every batch.

use keel_data::BatchTargets;

/// The index of the first largest value (0 for an empty row or one of NaNs), as Keras's
/// `argmax`.
pub(crate) fn argmax(row: impl IntoIterator<Item = f32>) -> usize {
    let mut best = (0, f32::NEG_INFINITY);
    for (i, v) in row.into_iter().enumerate() {
        if v > best.1 {
            best = (i, v);
        }
    }
    best.0
}

/// Whether class `truth` is among the `k` largest values of `row`: fewer than `k` values are
/// strictly larger than its own (so ties count in its favour, as TensorFlow's `in_top_k`).
/// A NaN score, or a class outside the row, is never in the top k.
pub(crate) fn in_top_k(row: &[f32], truth: usize, k: usize) -> bool {
    match row.get(truth) {
        Some(&score) if !score.is_nan() => row.iter().filter(|&&v| v > score).count() < k,
        _ => false,
    }
}

/// The true class of sample `i` of a multi-class problem: the label, or the argmax of the
/// target row.
pub(crate) fn true_class(targets: &BatchTargets, i: usize) -> usize {
    match targets {
        BatchTargets::Classes(y) => y[i] as usize,
        BatchTargets::Dense(t) => argmax(t.row(i).iter().copied()),
    }
}

/// Whether sample `i` of a one-unit (binary) problem is positive: its target is above 0.5.
pub(crate) fn is_positive(targets: &BatchTargets, i: usize) -> bool {
    match targets {
        BatchTargets::Classes(y) => y[i] as f32 > 0.5,
        BatchTargets::Dense(t) => t[[i, 0]] > 0.5,
    }
}

/// The number of output values on the same side of `threshold` as their target (targets
/// above 0.5 are positive), over every unit of every sample: Keras's `binary_accuracy`
/// numerator. `values` is the output in row-major order, one row of `units` per target.
pub(crate) fn binary_matches(values: &[f32], targets: &BatchTargets, threshold: f32) -> u64 {
    let matches = |truth: bool, v: &f32| (*v > threshold) == truth;
    match targets {
        BatchTargets::Classes(y) => {
            let units = values.len() / y.len().max(1);
            values
                .chunks_exact(units.max(1))
                .zip(y)
                .map(|(row, &c)| row.iter().filter(|v| matches(c as f32 > 0.5, v)).count())
                .sum::<usize>() as u64
        }
        BatchTargets::Dense(t) => values
            .iter()
            .zip(t.iter())
            .filter(|(v, &target)| matches(target > 0.5, v))
            .count() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn argmax_takes_the_first_largest_and_survives_nan() {
        assert_eq!(argmax([0.1, 0.7, 0.7, 0.2]), 1);
        assert_eq!(argmax([f32::NAN, 1.0]), 1);
        assert_eq!(argmax([f32::NAN, f32::NAN]), 0);
        assert_eq!(argmax(std::iter::empty()), 0);
    }

    #[test]
    fn top_k_counts_ties_for_the_true_class() {
        let row = [0.1, 0.4, 0.3, 0.4];
        assert!(
            in_top_k(&row, 1, 1) && in_top_k(&row, 3, 1),
            "tie at the top"
        );
        assert!(!in_top_k(&row, 2, 2) && in_top_k(&row, 2, 3));
        assert!(!in_top_k(&row, 0, 3) && in_top_k(&row, 0, 4));
        assert!(!in_top_k(&[f32::NAN, 0.0], 0, 2) && !in_top_k(&row, 9, 4));
    }

    #[test]
    fn targets_give_classes_and_positives() {
        let dense = BatchTargets::Dense(array![[0.0, 0.0, 1.0], [0.9, 0.1, 0.0]]);
        assert_eq!((true_class(&dense, 0), true_class(&dense, 1)), (2, 0));
        assert_eq!(true_class(&BatchTargets::Classes(vec![4, 1]), 0), 4);
        assert!(is_positive(&BatchTargets::Classes(vec![0, 1]), 1));
        assert!(!is_positive(&BatchTargets::Dense(array![[0.4]]), 0));
    }

    #[test]
    fn binary_matches_count_every_unit() {
        // Two samples, two units, threshold 0.5: predictions [1, 0], [1, 1] against targets
        // [1, 0], [0, 1]: three of the four units agree.
        let targets = BatchTargets::Dense(array![[1.0, 0.0], [0.0, 1.0]]);
        assert_eq!(binary_matches(&[0.9, 0.2, 0.6, 0.8], &targets, 0.5), 3);
        // One unit against labels, at the logit threshold 0: 1, 0, 1 vs 1, 1, 0.
        let labels = BatchTargets::Classes(vec![1, 1, 0]);
        assert_eq!(binary_matches(&[2.0, -1.0, 0.5], &labels, 0.0), 1);
    }
}
