#!/usr/bin/env python3
"""Speed comparison for `renal-triage bench logistic`: multinomial logistic regression (lbfgs)
with a C grid under nested 5x5 CV, the columns standardised inside the folds (a StandardScaler
in the pipeline), one thread. Usage: bench_sklearn_logistic.py TABLE.csv C1,C2,... [MAX_ITER TOL]
(TABLE: label first, then features, no header; MAX_ITER and TOL default to scikit-learn's own
defaults, 100 and 1e-4, which stop short of the optimum on badly conditioned tables).
Prints JSON with the wall time and how many fits stopped at MAX_ITER."""
import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_predict  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
import warnings  # noqa: E402

data = np.loadtxt(sys.argv[1], delimiter=",")
cs = [float(c) for c in sys.argv[2].split(",")]
max_iter = int(sys.argv[3]) if len(sys.argv) > 3 else 100
tol = float(sys.argv[4]) if len(sys.argv) > 4 else 1e-4
y, X = data[:, 0].astype(int), data[:, 1:]
inner = StratifiedKFold(5, shuffle=True, random_state=1)
outer = StratifiedKFold(5, shuffle=True, random_state=1)
model = make_pipeline(StandardScaler(), LogisticRegression(solver="lbfgs", max_iter=max_iter, tol=tol))
search = GridSearchCV(model, {"logisticregression__C": cs}, cv=inner, scoring="roc_auc_ovr", n_jobs=1)
t0 = time.perf_counter()
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    proba = cross_val_predict(search, X, y, cv=outer, method="predict_proba", n_jobs=1)
seconds = time.perf_counter() - t0
stopped = sum(1 for w in caught if "max_iter" in str(w.message) or "ConvergenceWarning" in w.category.__name__)
print(json.dumps({"seconds": seconds, "n_jobs": 1, "max_iter": max_iter, "tol": tol, "fits": 5 * (5 * len(cs) + 1), "fits_stopped_at_max_iter": stopped, "aggressive_vs_rest_auc": roc_auc_score(y == 2, proba[:, 2])}))
