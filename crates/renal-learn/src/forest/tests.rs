use renal_stats::Rng;

use super::split::SMALL_NODE;
use super::tree::gini;
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
        let with = RandomForest::fit_with(&params, &data, &yk, k, SMALL_NODE).unwrap();
        let without = RandomForest::fit_with(&params, &data, &yk, k, 0).unwrap();
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
