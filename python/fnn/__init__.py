"""fnn: feedforward neural networks with a multi-core Rust engine.

The estimators (scikit-learn API) build on one engine interface with two
implementations: ``"rust"`` (``fnn._core``) and ``"numpy"`` (``fnn.reference``).
"""

from ._config import EpochLog, TrainConfig, TrainState
from ._engine import Engine, get_engine

__all__ = ["Engine", "EpochLog", "TrainConfig", "TrainState", "get_engine"]
__version__ = "0.1.0"
