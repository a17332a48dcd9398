"""Model bundles made by ``renal-triage train``: loaded with the command line's integrity
checks, their vocabulary of inputs, and prediction for one patient or a table of patients,
the same computation as ``renal-triage predict`` (the probabilities are equal bit for bit)."""

import math

from . import _native

__all__ = ["Bundle"]

# The columns of a batch that are not clinical values.
_SPECIAL = ("case_id", "mask", "label_map")


class Bundle:
    """A trained model for new patients.

    Load it with :meth:`Bundle.load`; :attr:`fields` lists the clinical inputs it takes
    (names, units, allowed values, ranges); :meth:`predict` answers for one patient,
    :meth:`predict_batch` for a pandas DataFrame.
    """

    def __init__(self, native):
        self._native = native

    @classmethod
    def load(cls, path, expect_digest=None, trusted_keys=None):
        """Loads the bundle folder ``path`` and verifies every file against its manifest.

        ``expect_digest``: the ``sha256:...`` digest the bundle must have (``renal-triage
        inspect`` prints it); ``trusted_keys``: a file of trusted Ed25519 public keys, which
        makes a signature by one of them required. Raises ``FileNotFoundError`` for a missing
        folder and :class:`renal_triage.BundleError` for a bundle that fails a check.
        """
        return cls(_native.NativeBundle.load(str(path), expect_digest, None if trusted_keys is None else str(trusted_keys)))

    @property
    def digest(self):
        """The bundle's digest (``sha256`` of its manifest)."""
        return self._native.digest

    @property
    def signer(self):
        """Who signed it (``ed25519:<hex>``), or None for an unsigned bundle."""
        return self._native.signer

    @property
    def model(self):
        """The model's name."""
        return self._native.model

    @property
    def fields(self):
        """The clinical inputs, one dict each: ``name`` (the key to give), ``label``,
        ``meaning``, ``kind`` (number or category), ``unit``, ``range``, ``values`` (allowed
        words with their codes and synonyms), ``training_range`` and ``when_missing``."""
        return self._native.fields

    @property
    def manifest(self):
        """The bundle's manifest (``bundle.json``) as a dict."""
        return self._native.manifest

    def predict(self, clinical=None, mask=None, ct=None, label_map=None, case_id=None, threads=None):
        """One patient's prediction, as ``renal-triage predict``'s JSON (a dict): the triage
        call in words, the prediction set, each probability, the decisions at the operating
        points, what was imputed or out of the training range, the tumour size.

        ``clinical``: a dict of name: value (numbers, the field's words or codes; None or NaN
        is missing); ``mask``: a path (NIfTI, NRRD, MetaImage, DICOM SEG or RTSTRUCT) or
        ``(array, affine[, meta])`` as :func:`renal_triage.read_volume` returns; ``ct``: a
        dict of phase: path or ``(array, affine[, meta])``, for an image model trained on CT; ``label_map``: which labels are
        the kidney, tumour and cyst; ``threads``: as the command line's ``--threads`` (None:
        one per core; the answer does not depend on it). A wrong input raises ``ValueError``
        naming it.
        """
        if clinical is not None and not isinstance(clinical, dict):
            clinical = dict(clinical)
        if ct is not None:
            ct = {str(k): v if isinstance(v, tuple) else str(v) for k, v in dict(ct).items()}
        if mask is not None and not isinstance(mask, tuple):
            mask = str(mask)
        return self._native.predict(clinical, mask, ct, label_map, case_id, threads)

    def predict_batch(self, frame, threads=None):
        """Predictions for every row of a pandas DataFrame: columns ``case_id`` (optional),
        ``mask`` (a path, optional), ``label_map`` (optional), ``ct_<phase>`` (paths) and the
        clinical values by name (NaN is missing). Returns a DataFrame, one row per input row
        in the same order: ``case_id``, ``triage`` (the call in words), ``prediction_set`` (in
        words),
        the probabilities, ``tumor_size_mm``, ``summary`` and ``error``: a row that cannot be
        predicted is kept, with its reason there, and never stops the others.
        """
        import pandas as pd

        out = []
        for i, (_, row) in enumerate(frame.iterrows()):
            values = row.to_dict()
            case_id = values.pop("case_id", None)
            case_id = None if _missing(case_id) else str(case_id)
            mask = values.pop("mask", None)
            label_map = values.pop("label_map", None)
            ct = {k[3:]: v for k, v in values.items() if k.startswith("ct_") and not _missing(v)}
            clinical = {k: v for k, v in values.items() if not k.startswith("ct_")}
            result = {"case_id": case_id if case_id is not None else f"row {i + 1}"}
            try:
                p = self.predict(
                    clinical,
                    None if _missing(mask) else mask,
                    ct or None,
                    None if _missing(label_map) else str(label_map),
                    case_id,
                    threads,
                )
            except (ValueError, FileNotFoundError, _native.RenalTriageError) as e:
                result["error"] = str(e)
            else:
                result.update(
                    triage=p["triage"]["headline"],
                    prediction_set=(p.get("prediction_set") or {}).get("words"),
                    p_benign=p["p_benign"],
                    p_indolent=p["p_indolent"],
                    p_aggressive=p["p_aggressive"],
                    p_malignant=p["p_malignant"],
                    p_aggressive_vs_rest=p["p_aggressive_vs_rest"],
                    tumor_size_mm=p["tumor_size_mm"],
                    summary=p["summary"],
                    error=None,
                )
            out.append(result)
        columns = [
            "case_id", "triage", "prediction_set", "p_benign", "p_indolent", "p_aggressive",
            "p_malignant", "p_aggressive_vs_rest", "tumor_size_mm", "summary", "error",
        ]
        return pd.DataFrame(out, columns=columns)

    def __repr__(self):
        return f"Bundle(model={self.model!r}, digest={self.digest!r})"


def _missing(v):
    return v is None or (isinstance(v, float) and math.isnan(v))
