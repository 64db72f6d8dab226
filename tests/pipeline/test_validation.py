"""The checks against the baseline, on statistics TFDV computes from small frames."""

import numpy as np
import pandas as pd
import pytest
import tensorflow_data_validation as tfdv

from pipelines.config import Check, DataValidation, FeatureChecks
from pipelines.pipeline.validation import compare, missing_fraction

FEATURES = ["x", "city", "label"]


def frame(n=2000, seed=0, **changes):
    rng = np.random.default_rng(seed)
    data = pd.DataFrame({"x": rng.normal(5, 2, n),
                         "city": rng.choice(["ams", "ber", "cph"], n, p=[0.5, 0.3, 0.2]),
                         "label": rng.normal(0, 1, n)})
    for column, change in changes.items():
        data[column] = change(data[column])
    return data


@pytest.fixture(scope="module")
def baseline():
    stats = tfdv.generate_statistics_from_dataframe(frame())
    return {"train": stats}, tfdv.infer_schema(stats)


def findings(baseline, data, checks=DataValidation()):
    stats, schema = baseline
    now = {"train": tfdv.generate_statistics_from_dataframe(data)}
    return {(f.feature, f.check): f for f in compare(now, stats, schema, FEATURES, checks)}


def test_data_like_the_baseline_has_no_findings(baseline):
    assert findings(baseline, frame(seed=1)) == {}


def test_a_null_flood_is_a_missing_fraction_finding(baseline):
    found = findings(baseline, frame(x=lambda x: x.where(x.index % 10 == 0)))
    finding = found["x", "missing_fraction"]
    assert finding.value == pytest.approx(0.9) and finding.threshold == 0.1
    assert (finding.baseline, finding.now) == ("0.0% missing", "90.0% missing")
    assert finding.action == "block" and finding.split == "train"
    assert missing_fraction(tfdv.generate_statistics_from_dataframe(frame()), "gone") == 1.0


def test_a_unit_change_drifts_and_names_both_distributions(baseline):
    finding = findings(baseline, frame(x=lambda x: x * 1000))["x", "drift"]
    assert finding.value > 0.9 and finding.detail == "jensen-shannon"
    assert (finding.baseline, finding.now) == ("mean 4.944, std 2", "mean 4944, std 2000")


def test_new_categories_drift_by_l_infinity(baseline):
    found = findings(baseline, frame(city=lambda c: c.where(c.index % 2 == 1, "osl")))
    assert found["city", "drift"].detail == "l-infinity"
    assert found["city", "drift"].value > 0.1
    assert ("city", "type_and_domain") in found  # half the values are outside the domain


def test_row_count_change(baseline):
    finding = findings(baseline, frame(n=20000))["*", "example_count"]
    assert finding.value == pytest.approx(9.0)
    assert (finding.baseline, finding.now) == ("2000 examples", "20000 examples")


def test_type_change(baseline):
    found = findings(baseline, frame(x=lambda x: x.round(1).astype(str)))
    assert found["x", "type_and_domain"].action == "block"


def test_thresholds_and_actions_per_check_and_per_feature(baseline):
    data = frame(x=lambda x: x + 3, label=lambda y: y + 3)
    assert {k for k in findings(baseline, data)} == {("x", "drift"), ("label", "drift")}
    relaxed = DataValidation(numeric_drift=Check(threshold=0.99),
                             features={"x": FeatureChecks(drift=Check(threshold=0.1,
                                                                      action="warn"))})
    found = findings(baseline, data, relaxed)
    assert list(found) == [("x", "drift")] and found["x", "drift"].action == "warn"


def test_finding_lines_read_as_sentences(baseline):
    drift = findings(baseline, frame(x=lambda x: x * 1000))["x", "drift"]
    assert drift.line() == ("[train] x: drift 0.9983 > 0.1; baseline mean 4.944, std 2, now "
                            "mean 4944, std 2000 (jensen-shannon)")
    typed = findings(baseline, frame(x=lambda x: x.round(1).astype(str)))["x", "type_and_domain"]
    assert typed.line().startswith("[train] x: type_and_domain - ")
    warned = findings(baseline, frame(n=20000), DataValidation(
        example_count=Check(threshold=0.5, action="warn")))["*", "example_count"]
    assert warned.line().endswith("now 20000 examples [warn]")


def test_drift_is_not_measured_on_splits_too_small_to_tell(baseline):
    stats, schema = baseline
    small = {"train": tfdv.generate_statistics_from_dataframe(frame(n=36, seed=3))}
    tiny_baseline = {"train": tfdv.generate_statistics_from_dataframe(frame(n=36))}
    found = compare(small, tiny_baseline, schema, FEATURES, DataValidation())
    # two samples of 36 rows from the same data differ by ~0.1-0.2 by chance: not a finding
    assert [(f.check, f.action) for f in found] == [("drift", "info")]
    assert found[0].line() == ("[train] *: drift - not measured: 36 examples, fewer than "
                               "min_examples 100 [info]")
    shifted = {"train": tfdv.generate_statistics_from_dataframe(frame(n=36, x=lambda x: x * 1000))}
    found = compare(shifted, tiny_baseline, schema, FEATURES, DataValidation(min_examples=10))
    assert ("x", "drift", "block") in [(f.feature, f.check, f.action) for f in found]


def test_a_feature_declared_since_the_baseline_is_not_a_finding(baseline):
    added = frame(seed=1)
    added["age"] = np.arange(len(added)) % 90
    stats, schema = baseline
    now = {"train": tfdv.generate_statistics_from_dataframe(added)}
    assert compare(now, stats, schema, [*FEATURES, "age"], DataValidation()) == []
