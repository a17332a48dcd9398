"""renal_triage's learners with scikit-learn's estimator API.

Each estimator is a scikit-learn classifier (``fit``, ``predict``, ``predict_proba``,
``get_params``, ``set_params``, ``classes_``, ``n_features_in_``) usable in ``Pipeline``,
``GridSearchCV`` and ``cross_val_score``; the fitting and prediction run in Rust, with the GIL
released, on ``threads`` threads (``None``: one per core, as the command line). The results do
not depend on ``threads``. Inputs are checked by scikit-learn's own ``validate_data``
(float64, C order, finite).

``random_state``: an int is the learner's seed (the command line's ``--seed``: the same
number gives the same model as the command line); ``None`` draws one from numpy's global
random state, a ``RandomState`` from that state.
"""

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _native

__all__ = [
    "nested_cv",
    "GradientBoostingClassifier",
    "LogisticRegression",
    "MLPClassifier",
    "RandomForestClassifier",
]


def _seed(random_state):
    """The learner's 64-bit seed from scikit-learn's ``random_state`` convention."""
    if random_state is None:
        return int(np.random.mtrand._rand.randint(np.iinfo(np.int32).max))
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state: {random_state} is negative")
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    raise ValueError(
        f"random_state: {random_state!r} is not None, an int or a numpy RandomState"
    )


class _NativeClassifier(ClassifierMixin, BaseEstimator):
    """Shared fit / predict of the native learners; subclasses give ``_spec``, the native
    learner's kind and parameters (checked) for the classes ``classes``."""

    def fit(self, X, y):
        """Fits on rows ``X`` (n_samples x n_features) and labels ``y`` (any hashable labels)."""
        X, y = validate_data(self, X, y, dtype=np.float64, order="C")
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the data, "
                f"but the data contain only one class: {self.classes_[0]!r}"
            )
        kind, params = self._spec(self.classes_)
        self._model = _native.fit(
            X, codes.astype(np.float64), len(self.classes_), kind, params, self.threads
        )
        self._fitted(self._model)
        return self

    def _fitted(self, model):
        """Sets the fitted attributes a learner has besides ``classes_``."""

    def predict_proba(self, X):
        """Class probabilities, columns in ``classes_`` order."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, order="C", reset=False)
        return self._model.predict_proba(X, self.threads)

    def predict(self, X):
        """The most probable class of each row."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


class RandomForestClassifier(_NativeClassifier):
    """Random forest of Gini trees, with scikit-learn's tree semantics (best split over
    ``max_features`` features drawn per node, thresholds midway between values, bootstrap
    samples), at least 10x faster than scikit-learn's on one thread.

    Parameters
    ----------
    n_estimators : int, the number of trees.
    max_features : "sqrt", None (all), an int count or a float fraction of the features.
    min_samples_leaf : int, the least number of rows in a leaf.
    max_depth : int or None.
    bootstrap : bool, draw each tree's rows with replacement.
    class_weight : None, "balanced" (weights n / (k * count) on the training rows) or a dict
        of weights by class (a class it leaves out weighs 1).
    random_state : int, None or RandomState (see the module's documentation).
    threads : int or None.
    """

    def __init__(
        self,
        n_estimators=100,
        *,
        max_features="sqrt",
        min_samples_leaf=1,
        max_depth=None,
        bootstrap=True,
        class_weight=None,
        random_state=None,
        threads=None,
    ):
        self.n_estimators = n_estimators
        self.max_features = max_features
        self.min_samples_leaf = min_samples_leaf
        self.max_depth = max_depth
        self.bootstrap = bootstrap
        self.class_weight = class_weight
        self.random_state = random_state
        self.threads = threads

    def _spec(self, classes):
        weights = None
        if isinstance(self.class_weight, dict):
            unknown = set(self.class_weight) - set(classes.tolist())
            if unknown:
                raise ValueError(
                    f"class_weight: the classes {sorted(map(repr, unknown))} are not in y"
                )
            weights = [float(self.class_weight.get(c, 1.0)) for c in classes.tolist()]
        elif self.class_weight not in (None, "balanced"):
            raise ValueError(
                f"class_weight: {self.class_weight!r} is not None, 'balanced' or a dict "
                "of weights by class"
            )
        return "forest", dict(
            n_estimators=_positive("n_estimators", self.n_estimators),
            max_features=self.max_features,
            min_samples_leaf=_positive("min_samples_leaf", self.min_samples_leaf),
            max_depth=None
            if self.max_depth is None
            else _positive("max_depth", self.max_depth),
            bootstrap=bool(self.bootstrap),
            balanced=isinstance(self.class_weight, str),
            class_weight=weights,
            seed=_seed(self.random_state),
        )

    @property
    def feature_importances_(self):
        """Mean decrease in Gini impurity per feature, summing to 1."""
        check_is_fitted(self)
        return self._model.feature_importances()


class LogisticRegression(_NativeClassifier):
    """Multinomial logistic regression with an L2 penalty, scikit-learn's objective
    (``C`` times the summed log-loss plus half the squared norm of the coefficients,
    intercepts unpenalised), solved until the estimated distance to the optimum is at most
    ``tol`` relative to the objective (at the default 1e-10, the objective is within about
    1e-10 of its optimum: scikit-learn's lbfgs needs ``tol=1e-10, max_iter=10000`` to come
    within 1e-8 of it on embeddings-like tables).

    Parameters
    ----------
    C : float, the inverse of the penalty's strength.
    max_iter : int, L-BFGS iterations at most.
    tol : float, the stopping rule above.
    threads : int or None.
    """

    def __init__(self, C=1.0, *, max_iter=1000, tol=1e-10, threads=None):
        self.C = C
        self.max_iter = max_iter
        self.tol = tol
        self.threads = threads

    def _spec(self, classes):
        if not (isinstance(self.C, numbers.Real) and self.C > 0):
            raise ValueError(f"C: {self.C!r} is not a positive number")
        return "logistic", dict(
            c=float(self.C),
            max_iter=_positive("max_iter", self.max_iter),
            tol=float(self.tol),
        )

    def _fitted(self, model):
        self.n_iter_ = np.array([model.n_iter()])
        self.coef_, self.intercept_ = model.linear()


class MLPClassifier(_NativeClassifier):
    """A multilayer perceptron trained with cross-entropy and Adam (PyTorch's update, L2
    weight decay). With no hidden layer (the default) it is the study's linear head: one
    linear layer and a softmax, Adam at lr 3e-4 with weight decay 8e-4.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int (empty: the linear head).
    learning_rate : float.
    weight_decay : float.
    batch_size : int.
    epochs : int.
    random_state : int, None or RandomState.
    threads : int or None.
    """

    def __init__(
        self,
        hidden_layer_sizes=(),
        *,
        learning_rate=3e-4,
        weight_decay=8e-4,
        batch_size=32,
        epochs=200,
        random_state=None,
        threads=None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.epochs = epochs
        self.random_state = random_state
        self.threads = threads

    def _spec(self, classes):
        hidden = [
            _positive("hidden_layer_sizes", h) for h in tuple(self.hidden_layer_sizes)
        ]
        return "mlp", dict(
            hidden=hidden,
            lr=float(self.learning_rate),
            weight_decay=float(self.weight_decay),
            batch_size=_positive("batch_size", self.batch_size),
            epochs=_positive("epochs", self.epochs),
            seed=_seed(self.random_state),
        )


class GradientBoostingClassifier(_NativeClassifier):
    """Gradient-boosted regression trees on the softmax deviance.

    Parameters
    ----------
    n_estimators : int, boosting rounds.
    learning_rate : float.
    max_depth : int.
    min_samples_leaf : int.
    subsample : float in (0, 1], the fraction of rows drawn per round.
    random_state : int, None or RandomState.
    threads : int or None.
    """

    def __init__(
        self,
        n_estimators=100,
        *,
        learning_rate=0.1,
        max_depth=3,
        min_samples_leaf=5,
        subsample=1.0,
        random_state=None,
        threads=None,
    ):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.subsample = subsample
        self.random_state = random_state
        self.threads = threads

    def _spec(self, classes):
        return "gbm", dict(
            n_estimators=_positive("n_estimators", self.n_estimators),
            learning_rate=float(self.learning_rate),
            max_depth=_positive("max_depth", self.max_depth),
            min_samples_leaf=_positive("min_samples_leaf", self.min_samples_leaf),
            subsample=float(self.subsample),
            seed=_seed(self.random_state),
        )


def _positive(name, value):
    """A positive int parameter, or a ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name}: {value!r} is not a positive integer")
    return int(value)


def nested_cv(
    X,
    y,
    estimator,
    param_grid=None,
    *,
    tasks=None,
    standardize=False,
    outer_folds=5,
    inner_folds=5,
    random_state=0,
    threads=None,
):
    """The tool's nested cross-validation (as ``renal-triage reproduce`` runs it).

    Outer folds are stratified and seeded by ``random_state``; in each, every candidate (the
    ``estimator`` with each setting of ``param_grid``, scikit-learn's ``ParameterGrid``) is
    scored by inner stratified folds on the outer training rows only (the mean over ``tasks``
    of the pooled validation AUC; the first best wins ties), the chosen one is refit on the
    outer training rows and predicts the outer test rows. ``standardize`` puts a z-scoring
    step, fit on the training rows only, before the learner.

    ``tasks``: a dict of name: ``(positive, included)``, the class labels that are positive
    and those the task scores (``None``: all), e.g. the study's
    ``{"malignant": (["indolent", "aggressive"], None),
    "aggressive": (["aggressive"], ["indolent", "aggressive"])}``. For two classes it defaults
    to the second of the sorted labels against the first.

    Returns a dict: ``classes`` (the sorted labels), ``proba`` (out-of-fold probabilities,
    one row per row of ``X``, columns in ``classes`` order), ``fold`` (each row's outer
    fold), ``chosen`` and ``inner_scores`` (per outer fold), ``thresholds`` (per task, the
    mean of the chosen candidate's inner-fold Youden thresholds: never fit on a row it is
    applied to), and ``auc`` (per task, the out-of-fold AUC with its DeLong 95% CI).
    """
    from sklearn.base import clone
    from sklearn.model_selection import ParameterGrid
    from sklearn.utils.validation import check_X_y

    from . import _native as native

    if not isinstance(estimator, _NativeClassifier):
        raise ValueError(
            f"estimator: {type(estimator).__name__} is not one of renal_triage.learn's learners"
        )
    X, y = check_X_y(X, y, dtype=np.float64, order="C")
    check_classification_targets(y)
    classes, codes = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError("y: at least two classes are needed")
    if tasks is None:
        if len(classes) != 2:
            raise ValueError(
                f"tasks: {len(classes)} classes; say which are positive in each task"
            )
        tasks = {f"{classes[1]} vs {classes[0]}": ([classes[1]], None)}
    index = {c: i for i, c in enumerate(classes.tolist())}

    def code(label, task):
        if label not in index:
            raise ValueError(f"tasks: {task}: {label!r} is not a class of y")
        return index[label]

    native_tasks = []
    for name, (positive, included) in tasks.items():
        inc = list(range(len(classes))) if included is None else [code(c, name) for c in included]
        native_tasks.append((str(name), [code(c, name) for c in positive], inc))
    candidates = [
        clone(estimator).set_params(**p)._spec(classes)
        for p in ParameterGrid(param_grid or {})
    ]
    r = native.nested_cv(
        X,
        codes.astype(np.float64),
        len(classes),
        candidates,
        native_tasks,
        standardize=bool(standardize),
        outer_folds=_positive("outer_folds", outer_folds),
        inner_folds=_positive("inner_folds", inner_folds),
        seed=_seed(random_state),
        threads=threads,
    )
    r["classes"] = classes
    r["auc"] = {}
    for name, positive, included in native_tasks:
        rows = np.isin(codes, included)
        score = np.clip(r["proba"][rows][:, positive].sum(axis=1), 0.0, 1.0)
        target = np.isin(codes[rows], positive)
        r["auc"][name] = native.roc_auc_ci(target, score)
    return r
