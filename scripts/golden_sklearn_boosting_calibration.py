"""Makes crates/renal-learn/tests/fixtures/sklearn_boosting_calibration.json with scikit-learn:
GradientBoostingClassifier probabilities, IsotonicRegression and _SigmoidCalibration maps on
a small synthetic table. An independent reference for renal-learn's gbm and calibration
(run: python3 scripts/golden_sklearn_boosting_calibration.py; needs scikit-learn)."""
import json
import sys

import numpy as np
import sklearn
from sklearn.calibration import _SigmoidCalibration
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.isotonic import IsotonicRegression

rng = np.random.default_rng(7)
n = 90
x = rng.normal(size=(n, 3)).round(3)
logits = np.stack([x[:, 0], 0.8 * x[:, 1] - 0.5 * x[:, 2], -x[:, 0] + 0.3 * x[:, 2]], axis=1)
p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
y = np.array([rng.choice(3, p=pi) for pi in p])

gb = GradientBoostingClassifier(
    n_estimators=20, learning_rate=0.1, max_depth=2, min_samples_leaf=3,
    subsample=1.0, random_state=0,
).fit(x, y)
x_test = rng.normal(size=(20, 3)).round(3)

s = rng.uniform(size=60).round(2)
t = (rng.uniform(size=60) < s).astype(int)
iso = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(s, t)
sig = _SigmoidCalibration().fit(s, t)
grid = np.linspace(-0.1, 1.1, 25)

json.dump(
    {
        "sklearn": sklearn.__version__,
        "gbm": {
            "params": {"n_estimators": 20, "learning_rate": 0.1, "max_depth": 2, "min_samples_leaf": 3},
            "x": x.tolist(), "y": y.tolist(), "x_test": x_test.tolist(),
            "proba_test": gb.predict_proba(x_test).tolist(),
        },
        "calibration": {
            "s": s.tolist(), "t": t.tolist(), "grid": grid.tolist(),
            "isotonic": iso.predict(grid).tolist(),
            "sigmoid_a": float(sig.a_), "sigmoid_b": float(sig.b_),
            "sigmoid": sig.predict(grid).tolist(),
        },
    },
    open(sys.argv[1] if len(sys.argv) > 1 else "crates/renal-learn/tests/fixtures/sklearn_boosting_calibration.json", "w"),
    indent=1,
)
