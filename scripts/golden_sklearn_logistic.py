"""Makes crates/renal-learn/tests/fixtures/sklearn_logistic.json with scikit-learn: the
multinomial L2 logistic regression optimum for several C, on a
narrow and a wide table (more features than a fold has rows, as the study's 512 embeddings).
An independent reference for renal-learn's logistic regression (run:
python3 scripts/golden_sklearn_logistic.py; needs scikit-learn). The solver is
newton-cholesky at tol 1e-14: its gradient at the solution is ~1e-13, where lbfgs stops (by
its function-change test) with a gradient of ~1e-4 at C = 100, 2.5e-6 away from the optimum.
The objective is the same as lbfgs's (multinomial, L2 on the coefficients only)."""
import json
import sys

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression

rng = np.random.default_rng(11)
cases = []
for name, n, p in [("narrow", 120, 6), ("wide", 60, 80)]:
    y = np.arange(n) % 3
    x = rng.uniform(size=(n, p)) + 0.5 * (y[:, None] == np.arange(p)[None, :] % 3)
    x = x.round(4)
    for c in [0.01, 1.0, 100.0]:
        m = LogisticRegression(C=c, tol=1e-14, max_iter=1000, solver="newton-cholesky").fit(x, y)
        cases.append({
            "name": name, "c": c, "x": x.tolist(), "y": y.tolist(),
            "coef": m.coef_.tolist(), "intercept": m.intercept_.tolist(),
            "n_iter": int(m.n_iter_[0]),
        })
out = sys.argv[1] if len(sys.argv) > 1 else "crates/renal-learn/tests/fixtures/sklearn_logistic.json"
json.dump({"sklearn": sklearn.__version__, "cases": cases}, open(out, "w"))
