#!/usr/bin/env python3
"""Speed comparison for `renal-triage bench logistic`: multinomial logistic regression (lbfgs,
scikit-learn's defaults) with a 5-value C grid under nested 5x5 CV, one thread.
Usage: bench_sklearn_logistic.py TABLE.csv C1,C2,... (TABLE: label first, then features, no
header). Prints JSON with the wall time."""
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

data = np.loadtxt(sys.argv[1], delimiter=",")
cs = [float(c) for c in sys.argv[2].split(",")]
y, X = data[:, 0].astype(int), data[:, 1:]
inner = StratifiedKFold(5, shuffle=True, random_state=1)
outer = StratifiedKFold(5, shuffle=True, random_state=1)
search = GridSearchCV(LogisticRegression(solver="lbfgs"), {"C": cs}, cv=inner, scoring="roc_auc_ovr", n_jobs=1)
t0 = time.perf_counter()
proba = cross_val_predict(search, X, y, cv=outer, method="predict_proba", n_jobs=1)
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "n_jobs": 1, "fits": 5 * (5 * len(cs) + 1), "aggressive_vs_rest_auc": roc_auc_score(y == 2, proba[:, 2])}))
