"""The bundled detectors, scikit-learn style: ``fit(X, y)`` and ``predict_proba(X)`` on detector rows.

Rows are (window, channel) pairs with the columns of ``eegmon.detectors.features.DETECTOR_COLUMNS``
(any 2-D float array works for the scikit-learn API itself). ``predict_proba`` returns the
usual (n, 2) array; column 1 is the seizure probability.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._kernels import forest_sum, forest_sum_parallel


@dataclass(frozen=True)
class _Interval:
    """Numbers of one kind (``Real`` or ``Integral``) between two bounds; ``None`` is unbounded."""

    kind: type
    low: float | None
    high: float | None
    closed: str  # which ends belong to the range: "left", "right", "both" or "neither"

    def __contains__(self, value) -> bool:
        if isinstance(value, bool) or not isinstance(value, self.kind):
            return False
        low_ok = self.low is None or value > self.low or (value == self.low and self.closed in ("left", "both"))
        high_ok = self.high is None or value < self.high or (value == self.high and self.closed in ("right", "both"))
        return bool(low_ok and high_ok)

    def __str__(self) -> str:
        left = "[" if self.closed in ("left", "both") else "("
        right = "]" if self.closed in ("right", "both") else ")"
        low = "-inf" if self.low is None else self.low
        high = "inf" if self.high is None else self.high
        return f"{'an int' if self.kind is Integral else 'a float'} in the range {left}{low}, {high}{right}"


def _satisfies(value, constraint) -> bool:
    if constraint is None:
        return value is None
    if constraint == "random_state":
        return value is None or isinstance(value, np.random.RandomState) or value in _Interval(
            Integral, 0, 2**32 - 1, "both")
    if isinstance(constraint, frozenset):
        return isinstance(value, str) and value in constraint
    if isinstance(constraint, type):
        return isinstance(value, constraint) and not isinstance(value, bool)
    return value in constraint


def _describe(constraint) -> str:
    if constraint is None:
        return "None"
    if constraint == "random_state":
        return "an int in the range [0, 4294967295], an instance of 'numpy.random.RandomState' or None"
    if isinstance(constraint, frozenset):
        return f"a str among {sorted(constraint)}"
    if isinstance(constraint, type):
        return "an int" if constraint is Integral else f"an instance of '{constraint.__name__}'"
    return str(constraint)


class _SeizureEstimator(ClassifierMixin, BaseEstimator):
    """What every bundled detector shares: class prediction from probabilities, NaN-tolerant input.

    Subclasses declare ``_parameter_constraints`` (parameter name -> allowed kinds of values:
    an ``_Interval``, a frozenset of strings, a type, ``"random_state"`` or ``None``), which
    ``fit`` checks first, so every error reads the same.
    """

    _parameter_constraints: dict = {}

    def _validate_params(self) -> None:
        # Same name as BaseEstimator's private method, so no scikit-learn code path reads these
        # constraints with its own (private) validator.
        for name, constraints in self._parameter_constraints.items():
            value = getattr(self, name)
            if not any(_satisfies(value, c) for c in constraints):
                kinds = [_describe(c) for c in constraints]
                expected = kinds[0] if len(kinds) == 1 else f"{', '.join(kinds[:-1])} or {kinds[-1]}"
                raise ValueError(f"The {name!r} parameter of {type(self).__name__} must be {expected}. "
                                 f"Got {value!r} instead.")

    def predict(self, X) -> np.ndarray:
        """Most probable class of each row."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def seizure_proba(self, X: np.ndarray) -> np.ndarray:
        """Seizure probability of each row of a float array eegmon built itself (n, n_features).

        The detector's hot path: the same values as the last column of :meth:`predict_proba` (0
        when the model knows one class only), without scikit-learn's input validation.
        """
        proba = self.predict_proba(X)
        return proba[:, -1] if self.classes_[-1] == 1 and proba.shape[1] > 1 else np.zeros(X.shape[0])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


class LineLengthDetector(_SeizureEstimator):
    """Line length against a patient-adaptive baseline (after Esteller et al. 2001); no training.

    The probability is a logistic function of the log10 ratio of the window's line length to
    the channel's running baseline: ``p = 1 / (1 + exp(-(r - log10(threshold_ratio)) / softness))``.

    Parameters
    ----------
    threshold_ratio : float
        Line-length ratio to the baseline at which p = 0.5.
    softness : float
        Width of the logistic transition, in log10 units.
    column : int
        Column of X holding log10(line length / baseline) (0 in detector rows).
    emg_column : int | None
        Column holding the relative gamma power; when given, windows where it exceeds
        ``max_emg`` (muscle activity) get probability 0. ``None`` disables the check.
    max_emg : float
        Relative gamma power above which a window is taken as muscle artifact.

    Notes
    -----
    ``fit`` learns nothing but the classes and the input width (the detector needs no
    training); it exists so the detector plugs into scikit-learn tools.
    """

    _parameter_constraints: dict = {
        "threshold_ratio": [_Interval(Real, 1.0, None, "neither")],
        "softness": [_Interval(Real, 0.0, None, "neither")],
        "column": [_Interval(Integral, 0, None, "left")],
        "emg_column": [_Interval(Integral, 0, None, "left"), None],
        "max_emg": [_Interval(Real, 0.0, 1.0, "right")],
    }

    def __init__(self, threshold_ratio: float = 2.2, softness: float = 0.08, column: int = 0,
                 emg_column: int | None = None, max_emg: float = 0.25) -> None:
        self.threshold_ratio = threshold_ratio
        self.softness = softness
        self.column = column
        self.emg_column = emg_column
        self.max_emg = max_emg

    def fit(self, X, y):
        """Check the inputs and record the classes; nothing is learned."""
        self._validate_params()
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan")
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        for name in ("column", "emg_column"):
            value = getattr(self, name)
            if value is not None and value >= X.shape[1]:
                raise ValueError(f"{name}={value} is out of range for X with {X.shape[1]} columns.")
        return self

    def predict_proba(self, X) -> np.ndarray:
        """(n, n_classes) probabilities; the last class is the seizure class."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan")
        z = (X[:, self.column] - np.log10(self.threshold_ratio)) / self.softness
        p = 1.0 / (1.0 + np.exp(-np.clip(np.nan_to_num(z, nan=-50.0), -50, 50)))
        if self.emg_column is not None:
            p[~(X[:, self.emg_column] <= self.max_emg)] = 0.0
        if len(self.classes_) == 1:
            return np.ones((X.shape[0], 1))
        out = np.zeros((X.shape[0], len(self.classes_)))
        out[:, -1] = p
        out[:, 0] += 1.0 - p
        return out



_PARALLEL_ROWS = 4096
_TREE_GROUPS = 4


def flatten_forest(forest: RandomForestClassifier) -> dict[str, np.ndarray]:
    """The fitted trees as flat node arrays for :func:`eegmon.detectors._kernels.forest_sum`."""
    parts: dict[str, list] = {k: [] for k in ("left", "right", "feature", "threshold", "nan_left", "leaf_p")}
    roots, offset = [], 0
    for est in forest.estimators_:
        tree = est.tree_
        leaf = tree.children_left == -1
        roots.append(offset)
        parts["left"].append(np.where(leaf, -1, tree.children_left + offset))
        parts["right"].append(np.where(leaf, -1, tree.children_right + offset))
        parts["feature"].append(tree.feature)
        parts["threshold"].append(tree.threshold)
        parts["nan_left"].append(tree.missing_go_to_left.astype(bool))
        value = tree.value[:, 0, :]
        parts["leaf_p"].append(value[:, -1] / np.maximum(value.sum(axis=1), 1e-300))
        offset += tree.node_count
    flat = {k: np.ascontiguousarray(np.concatenate(v)) for k, v in parts.items()}
    flat["left"] = flat["left"].astype(np.int64)
    flat["right"] = flat["right"].astype(np.int64)
    flat["feature"] = np.maximum(flat["feature"], 0).astype(np.int64)  # leaves have -2; never read
    flat["roots"] = np.array(roots, dtype=np.int64)
    return flat


class FeatureClassifier(_SeizureEstimator):
    """A random forest on detector rows, trained patient-specifically or across patients.

    Parameters
    ----------
    n_estimators, max_depth, min_samples_leaf : int
        Forest size and tree limits (see ``sklearn.ensemble.RandomForestClassifier``).
    class_weight : {'balanced_subsample', 'balanced'} | None
        Seizure windows are rare; the default re-weights them per tree.
    random_state : int | None
        Seed of the forest.
    n_jobs : int | None
        Cores for fitting and prediction.
    """

    _parameter_constraints: dict = {
        "n_estimators": [_Interval(Integral, 1, None, "left")],
        "max_depth": [_Interval(Integral, 1, None, "left"), None],
        "min_samples_leaf": [_Interval(Integral, 1, None, "left")],
        "class_weight": [frozenset({"balanced", "balanced_subsample"}), dict, None],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
    }

    def __init__(self, n_estimators: int = 60, max_depth: int | None = 12, min_samples_leaf: int = 5,
                 class_weight: str | None = "balanced_subsample", random_state=0, n_jobs: int | None = None) -> None:
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.class_weight = class_weight
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X, y, sample_weight=None):
        """Fit the forest on rows ``X`` with labels ``y`` (and optional per-row weights)."""
        self._validate_params()
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan")
        check_classification_targets(y)
        self.forest_ = RandomForestClassifier(
            n_estimators=self.n_estimators, max_depth=self.max_depth, min_samples_leaf=self.min_samples_leaf,
            class_weight=self.class_weight, random_state=self.random_state, n_jobs=self.n_jobs,
        ).fit(X, y, sample_weight=sample_weight)
        self.classes_ = self.forest_.classes_
        self.flat_ = flatten_forest(self.forest_) if len(self.classes_) == 2 else None
        return self

    def predict_proba(self, X) -> np.ndarray:
        """(n, n_classes) probabilities; the last class is the seizure class.

        A two-class forest is walked by a Numba kernel over the flattened trees: the same result
        as scikit-learn's (tested), without its per-tree overhead of ~50 µs on a live chunk's
        few rows, and with groups of trees in parallel on a long recording's millions.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan")
        if getattr(self, "flat_", None) is None:
            return self.forest_.predict_proba(X)
        p = self._walk(X)
        return np.column_stack([1.0 - p, p])

    def seizure_proba(self, X: np.ndarray) -> np.ndarray:
        """Seizure probability of each row of a float array eegmon built itself, unvalidated (see the base)."""
        if getattr(self, "flat_", None) is None or X.shape[1] != self.n_features_in_:
            return super().seizure_proba(X)
        return self._walk(X)

    def _walk(self, X: np.ndarray) -> np.ndarray:
        # The trees compare float32 inputs, as scikit-learn casts them.
        x32 = np.ascontiguousarray(X, dtype=np.float32)
        flat = self.flat_
        args = (x32, flat["left"], flat["right"], flat["feature"], flat["threshold"], flat["nan_left"],
                flat["leaf_p"], flat["roots"])
        n_trees = flat["roots"].size
        if x32.shape[0] < _PARALLEL_ROWS:  # a live chunk: threads would cost more than they give
            acc = np.zeros(x32.shape[0])
            forest_sum(*args, 0, 1, acc)
            return acc / n_trees
        acc = np.zeros((min(_TREE_GROUPS, n_trees), x32.shape[0]))
        forest_sum_parallel(*args, acc)
        return acc.sum(axis=0) / n_trees
