"""renal_triage: kidney mass triage from CT and clinical data, from Python.

The Rust core of the ``renal-triage`` command line, as a Python package:

- statistics: :func:`roc_auc`, :func:`roc_auc_ci` (DeLong), :func:`delong_test`,
  :func:`roc_curve`, :func:`average_precision`, :func:`youden`, :func:`brier_score`,
  :func:`calibration_curve`, :func:`decision_curve`, :func:`icc`;
- readers and measurements: :func:`read_volume` (NIfTI, NRRD, MetaImage, DICOM series,
  enhanced DICOM, SEG and RTSTRUCT), :func:`measure` (tumour and kidney measurements and
  pyradiomics' shape features), :func:`set_max_volume_mib`;
- model bundles: :class:`Bundle` (``load``, ``fields``, ``predict``, ``predict_batch``),
  the same computation as ``renal-triage predict``;
- learners with scikit-learn's estimator API: :mod:`renal_triage.learn`
  (``RandomForestClassifier``, ``LogisticRegression``, ``MLPClassifier`` (the study's linear
  head by default), ``GradientBoostingClassifier``).

Errors: a wrong argument (shape, dtype, NaN, length) is a ``ValueError`` naming it; the
package's own errors derive from :class:`RenalTriageError`.
"""

from .bundle import Bundle
from ._native import (
    BundleError,
    ImagingError,
    LearnError,
    RenalTriageError,
    StatsError,
    __version__,
    average_precision,
    brier_score,
    calibration_curve,
    decision_curve,
    delong_test,
    get_max_volume_mib,
    icc,
    measure,
    read_volume,
    roc_auc,
    roc_auc_ci,
    roc_curve,
    set_max_volume_mib,
    youden,
)

__all__ = [
    "Bundle",
    "BundleError",
    "ImagingError",
    "LearnError",
    "RenalTriageError",
    "StatsError",
    "__version__",
    "average_precision",
    "brier_score",
    "calibration_curve",
    "decision_curve",
    "delong_test",
    "get_max_volume_mib",
    "icc",
    "measure",
    "read_volume",
    "roc_auc",
    "roc_auc_ci",
    "roc_curve",
    "set_max_volume_mib",
    "youden",
]
