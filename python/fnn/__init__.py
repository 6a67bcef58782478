"""fnn: feedforward neural networks with a multi-core Rust engine.

The estimators (scikit-learn API) build on one engine interface with two
implementations: ``"rust"`` (``fnn._core``) and ``"numpy"`` (``fnn.reference``).
"""

from ._classifier import FNNClassifier
from ._config import EpochLog, TrainConfig, TrainState
from ._engine import Engine, get_engine
from ._errors import DivergedError
from ._export import to_onnx
from ._regressor import FNNRegressor
from ._threads import resolve_threads
from ._version import __version__
from .persistence import load, save

__all__ = [
    "DivergedError",
    "Engine",
    "EpochLog",
    "FNNClassifier",
    "FNNRegressor",
    "TrainConfig",
    "TrainState",
    "__version__",
    "get_engine",
    "load",
    "resolve_threads",
    "save",
    "to_onnx",
]
