"""taxi_tips's own tests, written with the pipelines.testing framework."""


from pipelines.config import load_config
from pipelines.testing import (
    model_for,
    preprocessing_fn_for,
    run_preprocessing_fn,
    transformed_batch,
)

ROW = {"trip_miles": 1.0, "fare": 5.0, "trip_seconds": 300, "trip_start_hour": 9,
       "trip_start_day": 3, "trip_start_month": 5, "pickup_latitude": 41.9,
       "pickup_longitude": -87.6, "dropoff_latitude": 41.8, "dropoff_longitude": -87.7,
       "payment_type": "Cash", "company": "Flash Cab", "big_tipper": 1}


def test_preprocessing_and_model():
    rows = [ROW, {**ROW, "trip_miles": 3.0, "fare": None, "company": None, "big_tipper": 0}]
    out = run_preprocessing_fn(preprocessing_fn_for("taxi_tips"), rows)
    assert out[0]["trip_miles_xf"] == -out[1]["trip_miles_xf"] == -1.0
    assert out[1]["fare_xf"] == 0.0  # the missing fare is imputed with the mean
    assert [r["trip_start_hour_xf"] for r in out] == [9, 9]
    assert [r["big_tipper_xf"] for r in out] == [1, 0]
    model = model_for(load_config("taxi_tips"))
    probabilities = model(transformed_batch(
        [{k: v for k, v in row.items() if k != "big_tipper_xf"} for row in out])).numpy()
    assert probabilities.shape == (2, 1) and ((probabilities > 0) & (probabilities < 1)).all()
