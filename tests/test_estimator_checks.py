"""scikit-learn's own conformance checks, with no expected failures."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys

import pytest
from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    check_param_validation,
    parametrize_with_checks,
)

from fnn import FNNClassifier, FNNRegressor

pytest.importorskip("pandas")  # several checks are skipped without it

ESTIMATORS = [FNNClassifier(), FNNRegressor()]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_feature_names_are_checked_like_sklearn(estimator):
    check_dataframe_column_names_consistency(type(estimator).__name__, estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_every_parameter_is_validated_with_sklearn_messages(estimator):
    check_param_validation(type(estimator).__name__, estimator)


ARRAY_API_CHECK = """
from fnn import {name}
from sklearn.utils.estimator_checks import check_array_api_input
check_array_api_input(
    "{name}", {name}(), array_namespace="numpy", expect_only_array_outputs=False
)
print("checked")
"""


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_array_api_dispatch_check_passes_with_scipy_array_api(estimator):
    # parametrize_with_checks skips this check unless SCIPY_ARRAY_API=1 was
    # set before SciPy was imported, so it runs here in a fresh interpreter.
    name = type(estimator).__name__
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", ARRAY_API_CHECK.format(name=name)],
        env={**os.environ, "SCIPY_ARRAY_API": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "checked"


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_docstring_documents_every_parameter_in_signature_order(estimator):
    doc = type(estimator).__doc__
    section = doc[doc.index("Parameters\n") : doc.index("Attributes\n")]
    documented = re.findall(r"^    (\w+) :", section, flags=re.MULTILINE)
    assert documented == list(inspect.signature(type(estimator)).parameters)
    assert "%(" not in doc
