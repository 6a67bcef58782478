"""The flat parameter layout (spec section 1) that every part of fnn shares."""

import numpy as np
import pytest

from fnn import TrainConfig, _layout


def test_unpack_gives_views_and_pack_inverts():
    flat = np.arange(3 * 4 + 4 + 4 * 2 + 2, dtype=np.float64)
    coefs, intercepts = _layout.unpack((3, 4, 2), flat)
    assert [W.shape for W in coefs] == [(3, 4), (4, 2)]
    assert [b.shape for b in intercepts] == [(4,), (2,)]
    assert coefs[1][0, 1] == 17.0 and intercepts[1][1] == 25.0
    coefs[0][0, 0] = -1.0
    assert flat[0] == -1.0
    assert np.array_equal(_layout.pack(coefs, intercepts), flat)


def test_a_config_and_its_layer_sizes_give_the_same_layout():
    config = TrainConfig(layer_sizes=(5, 3, 2), activations=("relu",))
    assert _layout.layer_sizes(config) == (5, 3, 2)
    assert _layout.n_params(config) == config.n_params == 5 * 3 + 3 + 3 * 2 + 2
    flat = np.arange(config.n_params, dtype=np.float32)
    by_config, by_sizes = _layout.unpack(config, flat), _layout.unpack([5, 3, 2], flat)
    for a, b in zip(by_config[0] + by_config[1], by_sizes[0] + by_sizes[1]):
        assert np.shares_memory(a, b) and a.shape == b.shape and a.dtype == np.float32


def test_weight_mask_marks_weights_and_not_biases():
    mask = _layout.weight_mask((2, 3, 1))
    assert mask.tolist() == [True] * 6 + [False] * 3 + [True] * 3 + [False]


@pytest.mark.parametrize("flat", [np.zeros(12), np.zeros((13, 1))])
def test_unpack_refuses_a_buffer_of_the_wrong_shape(flat):
    with pytest.raises(ValueError, match="expected a flat buffer of 13 parameters"):
        _layout.unpack((2, 3, 1), flat)
