"""basic_template's own tests, written with the pipelines.testing framework."""

import numpy as np

from pipelines.config import load_config
from pipelines.testing import (
    assert_rows_close,
    model_for,
    preprocessing_fn_for,
    run_preprocessing_fn,
    transformed_batch,
)

ROWS = [
    {"numeric_feature1": 1.0, "numeric_feature2": 2.0, "categorical_calculated": 0,
     "categorical_feature": "amber", "label": 1.0},
    {"numeric_feature1": 3.0, "numeric_feature2": None, "categorical_calculated": 1,
     "categorical_feature": "blue", "label": 2.0},
    {"numeric_feature1": 5.0, "numeric_feature2": 4.0, "categorical_calculated": 7,
     "categorical_feature": "amber", "label": 3.0},
]


def test_preprocessing_and_model():
    out = run_preprocessing_fn(preprocessing_fn_for("basic_template"), ROWS)
    z = 2 / np.sqrt(8 / 3)
    assert_rows_close(out, [
        {"numeric_feature1_xf": -z, "numeric_feature2_xf": -1.2247449,
         "categorical_calculated_xf": 0,
         "categorical_feature_xf": 0, "label_xf": 1.0},
        {"numeric_feature1_xf": 0.0, "numeric_feature2_xf": 0.0, "categorical_calculated_xf": 1,
         "categorical_feature_xf": 1, "label_xf": 2.0},
        {"numeric_feature1_xf": z, "numeric_feature2_xf": 1.2247449, "categorical_calculated_xf": 2,
         "categorical_feature_xf": 0, "label_xf": 3.0},
    ])
    model = model_for(load_config("basic_template"))
    features = transformed_batch([{k: v for k, v in row.items() if k != "label_xf"}
                                  for row in out])
    predictions = model(features).numpy()
    assert predictions.shape == (3, 1) and np.isfinite(predictions).all()
