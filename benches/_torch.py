"""PyTorch as a benchmark peer: `TorchMLPClassifier`, the training loop a
PyTorch user would write (only imported when PyTorch is installed).
"""

from __future__ import annotations

import numpy as np
from _peer import PeerMLPClassifier
from sklearn.utils.validation import check_is_fitted, validate_data


class TorchMLPClassifier(PeerMLPClassifier):
    """A PyTorch MLP behind scikit-learn's classifier API, written the way a
    PyTorch user would: ``nn.Sequential`` of ``Linear``/``ReLU``, softmax
    cross-entropy, ``torch.optim.Adam``, a shuffled minibatch loop.

    To train the same model as the others it starts from Glorot-uniform
    weights and biases (as scikit-learn and fnn do) and adds scikit-learn's
    penalty ``alpha/2 · ΣW² / batch rows`` to each batch loss. Parameters:
    see `PeerMLPClassifier`.
    """

    def _network(self, n_in: int, n_out: int):
        import torch
        from torch import nn

        sizes = [n_in, *self.hidden_layer_sizes, n_out]
        layers: list = []
        for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            linear = nn.Linear(d_in, d_out)
            bound = float(np.sqrt(6.0 / (d_in + d_out)))
            with torch.no_grad():
                linear.weight.uniform_(-bound, bound)
                linear.bias.uniform_(-bound, bound)
            layers.append(linear)
            if i < len(sizes) - 2:
                layers.append(nn.ReLU())
        return nn.Sequential(*layers)

    def fit(self, X, y):
        """Train for ``max_iter`` epochs (float32 ``X`` is used without a copy)."""
        import torch
        import torch.nn.functional as F

        X, y = validate_data(self, X, y, dtype=np.float32, order="C")
        self.classes_, codes = np.unique(y, return_inverse=True)
        torch.manual_seed(int(self.random_state))
        generator = torch.Generator().manual_seed(int(self.random_state))
        self.model_ = self._network(X.shape[1], len(self.classes_))
        weights = [m.weight for m in self.model_ if isinstance(m, torch.nn.Linear)]
        optimizer = torch.optim.Adam(
            self.model_.parameters(), lr=self.learning_rate_init, betas=(0.9, 0.999), eps=1e-8
        )
        inputs = torch.from_numpy(X)  # shares X's memory
        targets = torch.from_numpy(codes.astype(np.int64))
        n = inputs.shape[0]
        batch = min(int(self.batch_size), n)
        half_alpha = 0.5 * float(self.alpha)
        self.model_.train()
        for _ in range(int(self.max_iter)):
            order = torch.randperm(n, generator=generator)
            for start in range(0, n, batch):
                rows = order[start : start + batch]
                logits = self.model_(inputs[rows])
                loss = F.cross_entropy(logits, targets[rows])
                if half_alpha:
                    penalty = sum(w.square().sum() for w in weights)
                    loss = loss + half_alpha * penalty / rows.shape[0]
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
        self.n_iter_ = int(self.max_iter)
        return self

    def predict_proba(self, X):
        """Class probabilities (softmax of the logits)."""
        import torch

        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float32, order="C", reset=False)
        with torch.inference_mode():
            return torch.softmax(self.model_(torch.from_numpy(X)), dim=1).numpy()

    def predict(self, X):
        """The most probable class per row."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
