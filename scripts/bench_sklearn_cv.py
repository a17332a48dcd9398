#!/usr/bin/env python3
"""Optional speed comparison: the random-forest nested CV of `renal-triage bench cv` in
scikit-learn (9-point grid, 5x5 nested, one thread). Usage: bench_sklearn_cv.py TABLE.csv TREES
(TABLE: label first, then features, no header). Prints JSON with the wall time."""
import json
import sys
import time

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_predict

data = np.loadtxt(sys.argv[1], delimiter=",")
trees = int(sys.argv[2])
y, X = data[:, 0].astype(int), data[:, 1:]
grid = {"max_features": ["sqrt", 0.1, 0.3], "min_samples_leaf": [1, 3, 5]}
inner = StratifiedKFold(5, shuffle=True, random_state=1)
outer = StratifiedKFold(5, shuffle=True, random_state=1)
search = GridSearchCV(RandomForestClassifier(n_estimators=trees, random_state=0, n_jobs=1), grid, cv=inner, scoring="roc_auc_ovr", n_jobs=1)
t0 = time.perf_counter()
proba = cross_val_predict(search, X, y, cv=outer, method="predict_proba", n_jobs=1)
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "n_jobs": 1, "aggressive_vs_rest_auc": roc_auc_score(y == 2, proba[:, 2])}))
