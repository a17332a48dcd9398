"""The learners as scikit-learn estimators: scikit-learn's own check suite, pipelines, grid
search, cross-validation, pickling, and results independent of the thread count."""

import pickle

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from renal_triage.learn import (
    GradientBoostingClassifier,
    LogisticRegression,
    MLPClassifier,
    RandomForestClassifier,
)

# The checks that cannot pass, each with its reason (also in docs/python.md). Every other
# check of scikit-learn's suite runs and passes.
EXPECTED_FAILED = {
    "RandomForestClassifier": {
        "check_class_weight_classifiers": (
            "fits with class weights {0: 1000, 1: 0.0001} and wants class 0 predicted for "
            "over 87% of test rows. Fully grown trees have pure leaves, whose vote no class "
            "weight changes: scikit-learn's own DecisionTreeClassifier, and its "
            "RandomForestClassifier with bootstrap=False, predict class 0 for 40-46% there "
            "too (test_class_weights_act_as_scikit_learns_trees). scikit-learn's forest "
            "passes only on its bootstrap path, whose trees stop at the root for these "
            "weights; that is not copied."
        ),
    },
}


def expected_failed(estimator):
    return EXPECTED_FAILED.get(type(estimator).__name__, {})


ESTIMATORS = [
    RandomForestClassifier(n_estimators=20, random_state=0),
    LogisticRegression(),
    MLPClassifier(random_state=0),
    GradientBoostingClassifier(n_estimators=30, random_state=0),
]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed)
def test_scikit_learn_check_suite(estimator, check):
    check(estimator)


def test_class_weights_act_as_scikit_learns_trees():
    """The measured reason of the one expected failure: with those weights, scikit-learn's
    own trees (no bootstrap) predict class 0 for under half of the test rows, as ours do."""
    from sklearn.datasets import make_blobs
    from sklearn.model_selection import train_test_split
    from sklearn.tree import DecisionTreeClassifier

    X, y = make_blobs(centers=2, random_state=0, cluster_std=20)
    Xtr, Xte, ytr, _ = train_test_split(X, y, test_size=0.5, random_state=0)
    weights = {0: 1000, 1: 0.0001}
    sk = DecisionTreeClassifier(class_weight=weights, random_state=0).fit(Xtr, ytr)
    ours = RandomForestClassifier(class_weight=weights, random_state=0).fit(Xtr, ytr)
    assert np.mean(sk.predict(Xte) == 0) < 0.6
    assert np.mean(ours.predict(Xte) == 0) < 0.6
    # And the weights do act: "balanced" and a dict of the same weights are one forest.
    counts = np.bincount(ytr)
    same = {c: len(ytr) / (2 * counts[c]) for c in (0, 1)}
    a = RandomForestClassifier(class_weight="balanced", random_state=3).fit(Xtr, ytr)
    b = RandomForestClassifier(class_weight=same, random_state=3).fit(Xtr, ytr)
    np.testing.assert_array_equal(a.predict_proba(Xte), b.predict_proba(Xte))


def data(n=120, p=6, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, p))
    y = np.where(X[:, 0] + 0.5 * X[:, 1] + rng.normal(scale=0.5, size=n) > 0, "malignant", "benign")
    return X, y


def test_pipeline_grid_search_and_cross_val_score():
    X, y = data()
    pipe = make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=30, random_state=1))
    grid = GridSearchCV(
        pipe,
        {"randomforestclassifier__max_depth": [2, None], "randomforestclassifier__min_samples_leaf": [1, 5]},
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
        scoring="roc_auc",
    ).fit(X, y)
    assert grid.best_score_ > 0.8
    assert list(grid.classes_) == ["benign", "malignant"]
    scores = cross_val_score(
        make_pipeline(StandardScaler(), LogisticRegression(C=0.1)), X, y, cv=5, scoring="roc_auc"
    )
    assert scores.shape == (5,) and scores.mean() > 0.85
    again = cross_val_score(
        make_pipeline(StandardScaler(), LogisticRegression(C=0.1)), X, y, cv=5, scoring="roc_auc"
    )
    np.testing.assert_array_equal(scores, again)


@pytest.mark.parametrize(
    "make",
    [
        lambda t: RandomForestClassifier(n_estimators=40, random_state=5, threads=t),
        lambda t: LogisticRegression(C=0.5, threads=t),
        lambda t: MLPClassifier(hidden_layer_sizes=(8,), epochs=20, random_state=5, threads=t),
        lambda t: GradientBoostingClassifier(n_estimators=20, random_state=5, threads=t),
    ],
)
def test_results_do_not_depend_on_the_thread_count(make):
    X, y = data(200, 8, seed=2)
    one = make(1).fit(X, y).predict_proba(X)
    for t in (2, 3, None):
        np.testing.assert_array_equal(make(t).fit(X, y).predict_proba(X), one)


def test_pickled_models_predict_the_same():
    X, y = data()
    for m in (
        RandomForestClassifier(n_estimators=10, random_state=0),
        LogisticRegression(),
        MLPClassifier(epochs=5, random_state=0),
        GradientBoostingClassifier(n_estimators=5, random_state=0),
    ):
        m.fit(X, y)
        back = pickle.loads(pickle.dumps(m))
        np.testing.assert_array_equal(back.predict_proba(X), m.predict_proba(X))


def test_forest_importances_and_logistic_coefficients():
    X, y = data()
    f = RandomForestClassifier(n_estimators=50, random_state=0).fit(X, y)
    imp = f.feature_importances_
    assert imp.shape == (6,) and imp.sum() == pytest.approx(1.0, abs=1e-12)
    # The outcome depends on columns 0 and 1 only.
    assert set(np.argsort(imp)[-2:]) == {0, 1}
    lr = LogisticRegression().fit(X, y)
    assert lr.coef_.shape == (2, 6) and lr.intercept_.shape == (2,) and lr.n_iter_[0] >= 1
    # The softmax's probabilities from the coefficients, computed here.
    z = X @ lr.coef_.T + lr.intercept_
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(lr.predict_proba(X), p, atol=1e-12)


def test_random_state_is_the_seed_and_none_draws_one():
    X, y = data()
    a = RandomForestClassifier(n_estimators=10, random_state=4).fit(X, y).predict_proba(X)
    b = RandomForestClassifier(n_estimators=10, random_state=4).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    c = RandomForestClassifier(n_estimators=10, random_state=5).fit(X, y).predict_proba(X)
    assert not np.array_equal(a, c)
    np.random.seed(0)
    d = RandomForestClassifier(n_estimators=10).fit(X, y).predict_proba(X)
    np.random.seed(0)
    e = RandomForestClassifier(n_estimators=10).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(d, e)


def study_like(n=150, seed=0):
    """Three classes with the study's names, the outcome driven by two columns."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 5))
    z = X[:, 0] + 0.7 * X[:, 1] + rng.normal(scale=0.7, size=n)
    y = np.where(z < -0.5, "benign", np.where(z < 0.8, "indolent", "aggressive"))
    return X, y


STUDY_TASKS = {
    "malignant vs benign": (["indolent", "aggressive"], None),
    "aggressive vs indolent": (["aggressive"], ["indolent", "aggressive"]),
}


def test_nested_cv_predicts_each_row_with_a_model_not_fit_on_it():
    from renal_triage.learn import nested_cv

    X, y = study_like()
    est = RandomForestClassifier(n_estimators=25, random_state=3)
    r = nested_cv(
        X, y, est, {"max_depth": [2, None]}, tasks=STUDY_TASKS, outer_folds=5, inner_folds=3,
        random_state=11,
    )
    assert list(r["classes"]) == ["aggressive", "benign", "indolent"]
    assert r["proba"].shape == (150, 3) and sorted(set(r["fold"].tolist())) == [0, 1, 2, 3, 4]
    np.testing.assert_allclose(r["proba"].sum(axis=1), 1.0, atol=1e-12)
    # Each outer fold's rows: the chosen candidate refit here on the other folds' rows only.
    grid = [{"max_depth": 2}, {"max_depth": None}]
    for f, chosen in enumerate(r["chosen"]):
        test = r["fold"] == f
        m = RandomForestClassifier(n_estimators=25, random_state=3, **grid[chosen]).fit(X[~test], y[~test])
        np.testing.assert_array_equal(m.predict_proba(X[test]), r["proba"][test])
    for task in STUDY_TASKS:
        assert r["auc"][task]["auc"] > 0.7
        assert 0.0 < r["thresholds"][task] < 1.0
    # Same seed, any thread count: the same numbers.
    again = nested_cv(
        X, y, est, {"max_depth": [2, None]}, tasks=STUDY_TASKS, outer_folds=5, inner_folds=3,
        random_state=11, threads=1,
    )
    np.testing.assert_array_equal(again["proba"], r["proba"])
    assert again["thresholds"] == r["thresholds"]


def test_nested_cv_on_permuted_labels_scores_near_chance():
    from renal_triage.learn import nested_cv

    X, y = study_like(300, seed=4)
    aucs = []
    for k in range(5):
        perm = np.random.RandomState(100 + k).permutation(y)
        r = nested_cv(
            X, perm, LogisticRegression(C=0.1), {"C": [0.01, 1.0]}, tasks=STUDY_TASKS,
            standardize=True, random_state=k,
        )
        aucs.append(r["auc"]["malignant vs benign"]["auc"])
    assert abs(np.mean(aucs) - 0.5) < 0.06, aucs
    real = nested_cv(X, y, LogisticRegression(C=0.1), tasks=STUDY_TASKS, standardize=True)
    assert real["auc"]["malignant vs benign"]["auc"] > 0.8


def test_nested_cv_refuses_what_it_cannot_run():
    from renal_triage.learn import nested_cv

    X, y = study_like()
    with pytest.raises(ValueError, match="tasks: 3 classes"):
        nested_cv(X, y, LogisticRegression())
    with pytest.raises(ValueError, match="'malign' is not a class of y"):
        nested_cv(X, y, LogisticRegression(), tasks={"t": (["malign"], None)})
    with pytest.raises(ValueError, match="estimator: SVC"):
        from sklearn.svm import SVC

        nested_cv(X, y, SVC(), tasks=STUDY_TASKS)


def test_too_few_cases_for_the_folds_is_a_value_error():
    from renal_triage.learn import nested_cv

    X, y = study_like(30, seed=1)
    y = y.copy()
    y[:] = "indolent"
    y[:3] = "benign"
    with pytest.raises(ValueError, match="fewer than the 5 folds"):
        nested_cv(X, y, LogisticRegression(), random_state=0)
