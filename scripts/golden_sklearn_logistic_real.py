"""Makes crates/renal-learn/tests/fixtures/sklearn_logistic_real.json with scikit-learn: the
multinomial L2 logistic regression that scikit-learn's lbfgs reaches at tol=1e-10,
max_iter=10000 (issue 31's reference), for the study's C grid, on a table with the spectrum of
real image embeddings (300 x 512, standardised, condition number near a thousand).

The table follows renal_learn::synthetic::embeddings_like's recipe step by step in exact
arithmetic (a 64-bit LCG, additions, multiplications and a maximum in a fixed order), so the
Rust test rebuilds the same table to the last bit (checked by the values stored here) without
this file carrying it. Run: python3 scripts/golden_sklearn_logistic_real.py; needs
scikit-learn."""
import json
import sys
import warnings

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

FACTORS = 12
MASK = (1 << 64) - 1


def embeddings_like(rows, cols, seed):
    state = [seed]

    def uniform():
        state[0] = (state[0] * 6364136223846793005 + 1442695040888963407) & MASK
        return (state[0] >> 11) / 9007199254740992.0

    def bell():
        a = uniform()
        b = uniform()
        c = uniform()
        return (a + b + c) - 1.5

    loadings = [bell() for _ in range(cols * FACTORS)]
    offsets = [1.2 + 0.6 * bell() for _ in range(cols)]
    scales = [1.0] * FACTORS
    for k in range(1, FACTORS):
        scales[k] = scales[k - 1] * 0.72
    data, y = [], []
    for i in range(rows):
        cls = [0, 1, 1, 2, 2, 2][i % 6]
        f = []
        for k in range(FACTORS):
            shift = 0.5 * cls if k == 1 else (0.4 if k == 2 and cls == 1 else 0.0)
            f.append(scales[k] * (bell() + shift))
        row = []
        for j in range(cols):
            acc = 0.0
            for k in range(FACTORS):
                acc += loadings[j * FACTORS + k] * f[k]
            v = offsets[j] + 0.5 * acc + 0.04 * bell()
            row.append(v if v > 0.0 else 0.0)
        data.append(row)
        y.append(cls)
    return np.array(data), np.array(y)


ROWS, COLS, SEED = 300, 512, 31
x, y = embeddings_like(ROWS, COLS, SEED)
z = StandardScaler().fit_transform(x)
s = np.linalg.svd(z - z.mean(0), compute_uv=False)
cases = []
for c in [0.001, 0.01, 0.1, 1.0, 10.0]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = LogisticRegression(C=c, tol=1e-10, max_iter=10000, solver="lbfgs").fit(z, y)
    cases.append({
        "c": c, "coef": m.coef_.tolist(), "intercept": m.intercept_.tolist(),
        "n_iter": int(m.n_iter_[0]), "warnings": [str(w.message)[:120] for w in caught],
    })
out = sys.argv[1] if len(sys.argv) > 1 else "crates/renal-learn/tests/fixtures/sklearn_logistic_real.json"
json.dump({
    "sklearn": sklearn.__version__, "solver": "lbfgs", "tol": 1e-10, "max_iter": 10000,
    "rows": ROWS, "cols": COLS, "seed": SEED,
    "x_first_row": x[0, :8].tolist(), "x_last_row": x[-1, -8:].tolist(), "x_sum": float(np.sum(x)),
    "zeros": int((x == 0).sum()),
    "condition_number": float(s[0] / s[min(ROWS - 1, COLS) - 1]),
    "cases": cases,
}, open(out, "w"))
print(out, [(c["c"], c["n_iter"], len(c["warnings"])) for c in cases], "cond", s[0] / s[min(ROWS - 1, COLS) - 1])
