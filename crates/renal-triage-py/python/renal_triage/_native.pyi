"""Type stubs of the Rust module ``renal_triage._native`` (see the package's documentation)."""

from os import PathLike
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str

class RenalTriageError(Exception): ...
class ImagingError(RenalTriageError): ...
class LearnError(RenalTriageError): ...
class StatsError(RenalTriageError): ...
class BundleError(RenalTriageError): ...

ArrayLike = npt.ArrayLike
Path = Union[str, "PathLike[str]"]

# Statistics
def roc_auc(y_true: ArrayLike, y_score: ArrayLike) -> float: ...
def roc_auc_ci(y_true: ArrayLike, y_score: ArrayLike, level: float = 0.95) -> Dict[str, Any]: ...
def delong_test(
    y_true: ArrayLike, score_a: ArrayLike, score_b: ArrayLike, level: float = 0.95
) -> Dict[str, Any]: ...
def roc_curve(
    y_true: ArrayLike, y_score: ArrayLike, drop_intermediate: bool = True
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]: ...
def average_precision(y_true: ArrayLike, y_score: ArrayLike) -> float: ...
def youden(y_true: ArrayLike, y_score: ArrayLike) -> Dict[str, float]: ...
def brier_score(y_true: ArrayLike, y_prob: ArrayLike) -> float: ...
def calibration_curve(
    y_true: ArrayLike, y_prob: ArrayLike, n_bins: int = 10, n_boot: int = 0, seed: int = 0
) -> Dict[str, np.ndarray]: ...
def decision_curve(
    y_true: ArrayLike, y_prob: ArrayLike, thresholds: ArrayLike
) -> Dict[str, np.ndarray]: ...
def icc(
    ratings: ArrayLike, form: Optional[str] = None
) -> Union[Dict[str, Any], List[Dict[str, Any]]]: ...

# Readers and measurements
def read_volume(
    path: Path,
    labels: bool = False,
    label_map: Optional[str] = None,
    reference: Union[None, Path, Sequence[Path]] = None,
    threads: Optional[int] = None,
) -> Tuple[np.ndarray, np.ndarray, Dict[str, Any]]: ...
def measure(
    mask: ArrayLike,
    affine: Optional[ArrayLike] = None,
    spacing: Optional[ArrayLike] = None,
    label_map: Optional[str] = None,
    threads: Optional[int] = None,
) -> Dict[str, Any]: ...
def set_max_volume_mib(mib: int) -> None: ...
def get_max_volume_mib() -> int: ...

# Learners (wrapped by renal_triage.learn)
class NativeModel:
    n_features: int
    def predict_proba(self, x: ArrayLike, threads: Optional[int] = None) -> np.ndarray: ...
    def feature_importances(self) -> Optional[np.ndarray]: ...
    def n_iter(self) -> Optional[int]: ...
    def linear(self) -> Optional[Tuple[np.ndarray, np.ndarray]]: ...
    def to_json(self) -> str: ...

def fit(
    x: ArrayLike,
    y: ArrayLike,
    n_classes: int,
    kind: str,
    params: Dict[str, Any],
    threads: Optional[int] = None,
) -> NativeModel: ...
def model_from_json(json: str) -> NativeModel: ...
def nested_cv(
    x: ArrayLike,
    y: ArrayLike,
    n_classes: int,
    candidates: Sequence[Tuple[str, Dict[str, Any]]],
    tasks: Sequence[Tuple[str, Sequence[int], Sequence[int]]],
    *,
    standardize: bool,
    outer_folds: int,
    inner_folds: int,
    seed: int,
    threads: Optional[int] = None,
) -> Dict[str, Any]: ...

# Bundles (wrapped by renal_triage.Bundle)
class NativeBundle:
    digest: str
    signer: Optional[str]
    model: str
    fields: List[Dict[str, Any]]
    manifest: Dict[str, Any]
    @staticmethod
    def load(
        path: Path, expect_digest: Optional[str] = None, trusted_keys: Optional[Path] = None
    ) -> "NativeBundle": ...
    def predict(
        self,
        clinical: Optional[Dict[str, Any]] = None,
        mask: Union[None, Path, Tuple[Any, ...]] = None,
        ct: Optional[Dict[str, Union[Path, Tuple[Any, ...]]]] = None,
        label_map: Optional[str] = None,
        case_id: Optional[str] = None,
        threads: Optional[int] = None,
    ) -> Dict[str, Any]: ...
