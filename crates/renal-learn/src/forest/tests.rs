use renal_stats::Rng;

use super::split::SMALL_NODE;
use super::tree::{gini, Paths};
use super::*;

/// Small nodes of a large training set sort their rows' ranks; the forest is the one the
/// bitset path alone grows (same trees, so the same probabilities and importances).
#[test]
fn the_small_node_path_grows_the_same_trees() {
    let mut rng = Rng::new(7);
    let (n, p) = (3000, 3);
    let mut rows = Vec::with_capacity(n);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let c = i % 3;
        // Few distinct values in feature 2, so ties are exercised too.
        rows.push(vec![
            rng.f64() + 0.3 * c as f64,
            rng.f64(),
            (rng.f64() * 8.0).floor(),
        ]);
        y.push(c);
    }
    let x = Matrix::from_rows(&rows, Some((0..p).map(|j| format!("f{j}")).collect())).unwrap();
    for k in [2, 3] {
        let yk: Vec<usize> = y.iter().map(|&c| c % k).collect();
        let params = ForestParams::default().n_trees(4).seed(3);
        let data = ForestData::new(&x).unwrap();
        let paths = |small_node| Paths {
            small_node,
            exact: false,
        };
        let with = RandomForest::fit_with(&params, &data, &yk, k, paths(SMALL_NODE)).unwrap();
        let without = RandomForest::fit_with(&params, &data, &yk, k, paths(0)).unwrap();
        // The path is taken: nodes of up to n / 64 / 8 = 5 rows sort their ranks.
        assert!(with.trees.iter().map(Tree::node_count).sum::<usize>() > 1000);
        assert_eq!(with.feature_importances(), without.feature_importances());
        let (a, b) = (
            with.predict_proba(&x).unwrap(),
            without.predict_proba(&x).unwrap(),
        );
        assert_eq!(a.data, b.data);
    }
}

/// One tree on all rows and features, grown to depth 2 and 3, against scikit-learn 1.9.1
/// (`RandomForestClassifier(n_estimators=1, bootstrap=False, max_features=None,
/// max_depth=d)`, the same values for 30 `random_state`s, so no tie decides them) on 80 rows
/// of a linear congruential generator that Python reproduces exactly: the splits, the leaf
/// fractions and the impurity decreases (MDI importances).
#[test]
fn a_single_tree_matches_scikit_learn() {
    let mut st: u64 = 12345;
    let mut next = || {
        st = (st * 1103515245 + 12345) % (1 << 31);
        st as f64 / (1u64 << 31) as f64
    };
    let (mut rows, mut y) = (Vec::new(), Vec::new());
    for _ in 0..80 {
        let r: Vec<f64> = (0..4).map(|_| next()).collect();
        let u = next();
        y.push((usize::from(r[0] > 0.5) + usize::from(r[1] + 0.3 * u > 0.6)) % 3);
        rows.push(r);
    }
    let x = Matrix::from_rows(&rows, None).unwrap();
    let q = Matrix::from_rows(
        &[
            vec![0.1, 0.2, 0.3, 0.4],
            vec![0.7, 0.1, 0.5, 0.9],
            vec![0.6, 0.8, 0.2, 0.3],
            vec![0.3, 0.7, 0.9, 0.1],
        ],
        None,
    )
    .unwrap();
    let expected: [(usize, [f64; 4], [f64; 12]); 2] = [
        (
            2,
            [0.2720589093370365, 0.7279410906629635, 0.0, 0.0],
            [
                1.0,
                0.0,
                0.0,
                0.0,
                0.9285714285714286,
                0.07142857142857142,
                0.0,
                0.0,
                1.0,
                0.07407407407407407,
                0.9259259259259259,
                0.0,
            ],
        ),
        (
            3,
            [0.2942376674235692, 0.7057623325764308, 0.0, 0.0],
            [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0],
        ),
    ];
    for (depth, importances, proba) in expected {
        let p = ForestParams::default()
            .n_trees(1)
            .bootstrap(false)
            .max_features(MaxFeatures::All)
            .max_depth(Some(depth));
        let f = RandomForest::fit(&p, &x, &y, 3).unwrap();
        for (a, b) in f.feature_importances().iter().zip(importances) {
            assert!(
                (a - b).abs() < 1e-12,
                "depth {depth}: importance {a} vs {b}"
            );
        }
        let got = f.predict_proba(&q).unwrap();
        for (a, b) in got.data.iter().zip(proba) {
            assert!(
                (a - b).abs() < 1e-12,
                "depth {depth}: probability {a} vs {b}"
            );
        }
    }
    // The root splits feature 0 half-way between two training values: 0.50009087 in
    // scikit-learn's tree.
    let p = ForestParams::default()
        .n_trees(1)
        .bootstrap(false)
        .max_features(MaxFeatures::All)
        .max_depth(Some(1));
    let f = RandomForest::fit(&p, &x, &y, 3).unwrap();
    let root = &f.trees[0].nodes[0];
    assert_eq!(root.feature, 0);
    assert!((root.threshold - 0.50009087).abs() < 1e-8);
}

#[test]
fn a_single_full_tree_by_hand() {
    // Feature 0 separates the classes at 2.5 (midpoint of 2 and 3); feature 1 is noise.
    // One tree, no bootstrap, all features: the root splits on feature 0 and both children are
    // pure, so importance is [1, 0] and probabilities are exactly 0/1.
    let x = Matrix::from_rows(
        &[
            vec![1.0, 5.0],
            vec![2.0, 1.0],
            vec![3.0, 4.0],
            vec![4.0, 2.0],
        ],
        None,
    )
    .unwrap();
    let y = [0, 0, 1, 1];
    let p = ForestParams::default()
        .n_trees(1)
        .bootstrap(false)
        .max_features(MaxFeatures::All);
    let f = RandomForest::fit(&p, &x, &y, 2).unwrap();
    assert_eq!(f.trees[0].node_count(), 3);
    assert_eq!(f.trees[0].nodes[0].threshold, 2.5);
    assert_eq!(f.feature_importances(), &[1.0, 0.0]);
    let pr = f
        .predict_proba(&Matrix::from_rows(&[vec![2.4, 0.0], vec![2.6, 0.0]], None).unwrap())
        .unwrap();
    assert_eq!(pr.data, vec![1.0, 0.0, 0.0, 1.0]);
}

#[test]
fn gini_of_counts() {
    assert!((gini(&[1.0, 1.0], 2.0) - 0.5).abs() < 1e-15);
    assert_eq!(gini(&[3.0, 0.0], 3.0), 0.0);
}

/// A fitted forest's trees pass the load-time check; a tree whose split points at itself, at
/// a node beyond the tree, or at a feature the forest lacks does not (each named).
#[test]
fn stored_trees_are_validated_before_they_are_walked() {
    use crate::pipeline::Model;
    let rows: Vec<Vec<f64>> = (0..60)
        .map(|i| vec![(i % 7) as f64, (i % 5) as f64 * 0.5, (i / 3) as f64])
        .collect();
    let y: Vec<usize> = (0..60).map(|i| (i % 3 + i / 40) % 3).collect();
    let x = Matrix::from_rows(&rows, None).unwrap();
    let params = ForestParams {
        n_trees: 5,
        ..ForestParams::default()
    };
    let f = RandomForest::fit(&params, &x, &y, 3).unwrap();
    assert!(Model::Forest(f.clone()).validate(3).is_ok());
    let split = f.trees[0]
        .nodes
        .iter()
        .position(|n| n.feature != super::tree::LEAF)
        .unwrap();
    let broken = |edit: &dyn Fn(&mut super::tree::Node)| {
        let mut g = f.clone();
        edit(&mut g.trees[0].nodes[split]);
        match Model::Forest(g).validate(3) {
            Err(crate::LearnError::InvalidModel { detail }) => detail,
            other => panic!("accepted: {other:?}"),
        }
    };
    assert!(broken(&|n| n.left = split as u32).contains("reached twice"));
    assert!(broken(&|n| n.right = 1_000_000).contains("node 1000000"));
    assert!(broken(&|n| n.feature = 999).contains("feature 999"));
}

/// Explicit class weights equal to the balanced ones, computed here by hand
/// (n / (k * count)), give the balanced forest; unequal weights change it; a wrong count or a
/// negative weight is a parameter error naming `class_weight`.
#[test]
fn explicit_class_weights_are_the_balanced_ones_when_equal() {
    let rows: Vec<Vec<f64>> = (0..40)
        .map(|i| vec![(i % 7) as f64, (i % 5) as f64 * 0.5, (i / 3) as f64])
        .collect();
    // 30 rows of class 0, 10 of class 1.
    let y: Vec<usize> = (0..40).map(|i| usize::from(i % 4 == 0)).collect();
    let x = Matrix::from_rows(&rows, None).unwrap();
    let base = ForestParams::default().n_trees(10).seed(3);
    let balanced = RandomForest::fit(&base.clone().balanced(true), &x, &y, 2).unwrap();
    let by_hand = ForestParams {
        class_weight: Some(vec![40.0 / (2.0 * 30.0), 40.0 / (2.0 * 10.0)]),
        ..base.clone()
    };
    let explicit = RandomForest::fit(&by_hand, &x, &y, 2).unwrap();
    assert_eq!(
        explicit.predict_proba(&x).unwrap(),
        balanced.predict_proba(&x).unwrap()
    );
    let skewed = ForestParams {
        class_weight: Some(vec![1.0, 100.0]),
        ..base.clone()
    };
    let skewed = RandomForest::fit(&skewed, &x, &y, 2).unwrap();
    assert_ne!(
        skewed.predict_proba(&x).unwrap(),
        balanced.predict_proba(&x).unwrap()
    );
    for bad in [vec![1.0], vec![1.0, -1.0], vec![1.0, f64::NAN]] {
        let p = ForestParams {
            class_weight: Some(bad),
            ..base.clone()
        };
        let e = RandomForest::fit(&p, &x, &y, 2).unwrap_err();
        assert!(e.to_string().contains("class_weight"), "{e}");
    }
}

/// The lockstep walk of several rows ends in the leaf the one-row walk ends in, for any number
/// of rows (within one lockstep group and across several) and on rows that sit exactly on
/// thresholds (`<=` goes left in both).
#[test]
fn lockstep_walks_end_where_single_walks_end() {
    let rows: Vec<Vec<f64>> = (0..90)
        .map(|i| {
            vec![
                (i % 7) as f64,
                (i % 5) as f64 * 0.5,
                (i / 3) as f64,
                ((i * 37) % 11) as f64,
            ]
        })
        .collect();
    let y: Vec<usize> = (0..90).map(|i| (i % 3 + i / 40) % 3).collect();
    let x = Matrix::from_rows(&rows, None).unwrap();
    let f = RandomForest::fit(&ForestParams::default().n_trees(12).seed(9), &x, &y, 3).unwrap();
    // Rows at the thresholds themselves, and between them.
    let mut probes: Vec<Vec<f64>> = rows.clone();
    for t in &f.trees {
        for n in t.nodes.iter().filter(|n| n.feature != super::tree::LEAF) {
            let mut r = rows[0].clone();
            r[n.feature as usize] = n.threshold;
            probes.push(r.clone());
            r[n.feature as usize] = n.threshold + 1e-9;
            probes.push(r);
        }
    }
    for t in &f.trees {
        for lanes in [1usize, 3, 16, 17, 40] {
            for chunk in probes.chunks(lanes) {
                let mut out = vec![usize::MAX; chunk.len()];
                t.leaves_of(|l| chunk[l].as_slice(), &mut out);
                let single: Vec<usize> = chunk.iter().map(|r| t.leaf_of(r)).collect();
                assert_eq!(out, single);
            }
        }
    }
}

/// A table of `n` rows: two continuous features that carry the class, one with few distinct
/// values (ties), one pure noise; classes `0..k`.
fn mixed_table(n: usize, k: usize, seed: u64) -> (Matrix, Vec<usize>) {
    let mut rng = Rng::new(seed);
    let (mut rows, mut y) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        let c = i % k;
        rows.push(vec![
            rng.f64() + 0.4 * c as f64,
            rng.f64() - 0.2 * c as f64,
            (rng.f64() * 6.0).floor() + if c == 0 { 1.0 } else { 0.0 },
            rng.f64(),
        ]);
        y.push(c);
    }
    (Matrix::from_rows(&rows, None).unwrap(), y)
}

/// With integer weights (bootstrap counts, no class weights) the exact scan's blocks of four
/// cuts grow the trees the one-cut-at-a-time scan grows, node for node; with class weights that
/// are not integers it is not taken and the two are the same forest too.
#[test]
fn the_exact_scan_grows_the_same_trees() {
    for k in [2, 3] {
        let (x, y) = mixed_table(400, k, 11 + k as u64);
        let data = ForestData::new(&x).unwrap();
        for leaf in [1, 3, 5] {
            for balanced in [false, true] {
                let params = ForestParams {
                    balanced,
                    ..ForestParams::default()
                        .n_trees(6)
                        .min_samples_leaf(leaf)
                        .max_features(MaxFeatures::Fraction(0.5))
                        .seed(5)
                };
                let fit = |exact| {
                    let paths = Paths {
                        exact,
                        ..Paths::DEFAULT
                    };
                    RandomForest::fit_with(&params, &data, &y, k, paths).unwrap()
                };
                let (fast, slow) = (fit(true), fit(false));
                assert!(slow.trees.iter().all(|t| t.node_count() > 20));
                assert_eq!(
                    fast.trees, slow.trees,
                    "k {k}, leaf {leaf}, balanced {balanced}"
                );
                assert_eq!(fast.feature_importances(), slow.feature_importances());
            }
        }
    }
}

/// The portable blocks (the machines without AVX2) and the dispatched ones find the one-by-one
/// scan's cut, its `d` and left weight, on nodes of every size with integer weights, with and
/// without ties, for each `min_samples_leaf`.
#[test]
fn the_portable_blocks_find_the_reference_cut() {
    use super::presort::Presorted;
    use super::split::{delta_stride, mark, Column, COPIES};
    let mut rng = Rng::new(21);
    let (x, y) = mixed_table(300, 3, 4);
    let pre: Presorted<u16> = Presorted::new(&x);
    let n = pre.n;
    let mut bits = vec![0u64; n.div_ceil(64) * COPIES];
    let mut pos = vec![0u32; n + 8];
    let mut checked = 0;
    for trial in 0..400 {
        let m = 1 + trial % 200;
        let mut samples: Vec<usize> = (0..n).collect();
        rng.shuffle(&mut samples);
        samples.truncate(m);
        let w: Vec<f64> = (0..n).map(|_| 1.0 + rng.below(3) as f64).collect();
        let mut counts = [0.0; 3];
        samples.iter().for_each(|&s| counts[y[s]] += w[s]);
        let total: f64 = counts.iter().sum();
        let stride = delta_stride(3);
        let mut delta = vec![0.0; n * stride];
        for &s in &samples {
            for c in 0..3 {
                let own = if c == y[s] { total * w[s] } else { 0.0 };
                delta[s * stride + c] = own - w[s] * counts[c];
            }
            delta[s * stride + 3] = w[s];
        }
        for f in 0..x.cols {
            let col = Column {
                row_at: &pre.row_at[f * n..(f + 1) * n],
                group: &pre.group[f * n..(f + 1) * n],
                delta: &delta,
            };
            let rank = &pre.rank[f * n..(f + 1) * n];
            for msl in [1, 3, 5] {
                let marked = mark(rank, &samples, &mut bits).to_vec();
                let (reference, portable, dispatched) = if pre.distinct[f] {
                    three::<true>(&col, &marked, &mut pos, total, m, msl)
                } else {
                    three::<false>(&col, &marked, &mut pos, total, m, msl)
                };
                let key = |c: MaybeCut| {
                    c.map(|c| c.map(|c| (c.below, c.above, c.d.to_bits(), c.wl.to_bits())))
                };
                let r = key(reference);
                checked += usize::from(matches!(r, Some(Some(_))));
                assert_eq!(key(portable), r, "trial {trial}, feature {f}, msl {msl}");
                assert_eq!(key(dispatched), r, "trial {trial}, feature {f}, msl {msl}");
            }
        }
    }
    assert!(checked > 3000, "{checked} cuts compared");
}

type MaybeCut = Option<Option<super::split::Cut>>;

/// One node's cut by the reference scan, the exact scan with the portable blocks and the
/// exact scan as dispatched, from the node's marked bitset.
fn three<const D: bool>(
    col: &super::split::Column<u16>,
    marked: &[u64],
    pos: &mut [u32],
    total: f64,
    m: usize,
    msl: usize,
) -> (MaybeCut, MaybeCut, MaybeCut) {
    use super::exact::{blocks_portable, scan_exact, scan_exact_with};
    use super::split::{scan, BitPositions};
    let beat = (f64::NEG_INFINITY, 1.0);
    let reference = scan::<D, _, _>(col, BitPositions::new(marked), total, m, msl, beat);
    let portable = scan_exact_with::<D, _>(
        col,
        marked,
        pos,
        total,
        m,
        msl,
        beat,
        blocks_portable::<D, _>,
    );
    let dispatched = scan_exact::<D, _>(col, marked, pos, total, m, msl, beat);
    (reference, portable, dispatched)
}

/// Forests that differ only in their leaf size, grown together, are each the forest grown alone
/// (the same trees node for node, the same importances), whether the family parts at the root
/// or deep down, with integer and with non-integer (balanced) weights, for any order of the leaf
/// sizes and with a leaf size given twice.
#[test]
fn leaf_sizes_grown_together_are_the_forests_grown_alone() {
    for k in [2, 3] {
        let (x, y) = mixed_table(300, k, 31 + k as u64);
        let data = ForestData::new(&x).unwrap();
        for balanced in [false, true] {
            for mf in [MaxFeatures::Sqrt, MaxFeatures::Fraction(0.75)] {
                let params = ForestParams {
                    balanced,
                    ..ForestParams::default().n_trees(8).max_features(mf).seed(2)
                };
                for leaf in [vec![1, 3, 5], vec![5, 1, 3, 1], vec![2, 40, 150]] {
                    let together =
                        RandomForest::fit_leaf_sizes(&params, &leaf, &data, &y, k).unwrap();
                    assert_eq!(together.len(), leaf.len());
                    for (l, f) in leaf.iter().zip(&together) {
                        let one = params.clone().min_samples_leaf(*l);
                        let alone = RandomForest::fit_data(&one, &data, &y, k).unwrap();
                        assert_eq!(f.params, alone.params);
                        assert_eq!(f.trees, alone.trees, "k {k}, leaf {l} of {leaf:?}");
                        assert_eq!(f.feature_importances(), alone.feature_importances());
                    }
                }
            }
        }
    }
}

/// A family of leaf sizes is checked as each forest alone is: a leaf size of 0 is refused; the
/// leaf size of the shared parameters is not one of the family's.
#[test]
fn a_family_with_a_leaf_size_of_zero_is_refused() {
    let (x, y) = mixed_table(60, 2, 1);
    let data = ForestData::new(&x).unwrap();
    let e = RandomForest::fit_leaf_sizes(&ForestParams::default(), &[1, 0], &data, &y, 2);
    assert!(e.unwrap_err().to_string().contains("min_samples_leaf"));
    // The leaf size of `params` itself is set aside: each member's is the one used.
    let zero = ForestParams::default().n_trees(3).min_samples_leaf(0);
    let two = RandomForest::fit_leaf_sizes(&zero, &[2, 4], &data, &y, 2).unwrap();
    assert_eq!(two[1].params.min_samples_leaf, 4);
    assert!(RandomForest::fit_leaf_sizes(&zero, &[], &data, &y, 2)
        .unwrap()
        .is_empty());
}
