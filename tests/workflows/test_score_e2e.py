"""Batch scoring with trained models, end to end (slow: marked e2e).

A regression (basic_template), a binary (taxi_tips) and a multiclass model are
trained and pushed once each; scoring their source then gives, row for row, what
``LoadedModel.predict`` (``fullcycle predict``) gives for the same rows sent as JSON,
and a ×1000 unit change of basic_template's data is blocked against the
baseline its blessed run recorded.
"""

import json
import shutil

import duckdb
import numpy as np
import pytest

from pipelines.config import load_config
from pipelines.config.registry import with_overrides
from pipelines.data import warehouse
from pipelines.pipeline.local import run_local
from pipelines.serving.model_store import LoadedModel, pushed_versions
from pipelines.workflows.score import ScoreBlockedError, score

pytestmark = pytest.mark.e2e
STEPS = 100
MULTICLASS = '''
from pipelines.config import DataSource, ModelConfig, accuracy_metric, create_metric_spec
CONFIG = ModelConfig(
    task="multiclass_classification", num_classes=3, label_key="label",
    dense_float_features=["numeric_feature1", "numeric_feature2"],
    categorical_int_features={"categorical_calculated": 2},
    vocab_features={"categorical_feature": {"top_k": 5}},
    train_steps=100, eval_metric_spec=create_metric_spec([accuracy_metric(lower_bound=0.0)]),
    source=DataSource(query="SELECT * EXCLUDE (label), CAST(LEAST(GREATEST(floor(label / 10), 0),"
                            " 2) AS INTEGER) AS label FROM {dataset}.basic_template",
                      split_key="id"),
)
'''


@pytest.fixture(scope="module")
def workspace(module_workspace):
    return module_workspace


def trained(workspace, name: str):
    config = with_overrides(load_config(name), train_steps=STEPS)
    summary = run_local(config, workspace, overrides={"train_steps": STEPS}, deploy=False)
    assert summary.pushed_path, summary.error
    return config, pushed_versions(workspace.serving_model_dir(name))[-1]


def source_instances(workspace, config) -> list[dict]:
    """The rows ``score`` reads, as JSON instances (the label left out), ordered by key."""
    from pipelines.data.scoring import rows_query
    from pipelines.data.splits import LOCAL_DATASET

    con = warehouse.connect(workspace.warehouse)
    try:
        sql, _ = rows_query(config, con, LOCAL_DATASET)
        key = config.score_keys[0]
        rows = con.execute(f"SELECT * FROM ({sql}) ORDER BY {key}").fetch_arrow_table()
    finally:
        con.close()
    return json.loads(json.dumps(rows.to_pylist()))


def check_parity(workspace, config, version) -> None:
    summary = score(config, workspace)
    rows = source_instances(workspace, config)
    assert summary.rows == len(rows) and summary.status == "scored", summary.findings
    assert [f for f in summary.findings if f["action"] != "info"] == []
    key = config.score_keys[0]
    con = duckdb.connect(str(workspace.warehouse), read_only=True)
    try:
        got = con.execute(f"SELECT {key}, prediction FROM {config.score_destination} "
                          f"ORDER BY {key}").fetchall()
    finally:
        con.close()
    assert [g[0] for g in got] == [r[key] for r in rows]  # every key once, none added
    expected = LoadedModel(version).predict(rows)
    np.testing.assert_allclose(np.asarray([g[1] for g in got], np.float64),
                               np.asarray(expected, np.float64), rtol=1e-5, atol=1e-6)


def test_regression_parity_and_a_unit_change_blocked(workspace, seeded_warehouse):
    config, version = trained(workspace, "basic_template")
    check_parity(workspace, config, version)
    con = warehouse.connect(workspace.warehouse, read_only=False)
    con.execute("UPDATE basic_template SET numeric_feature1 = numeric_feature1 * 1000")
    con.close()
    try:
        with pytest.raises(ScoreBlockedError, match=r"numeric_feature1: drift"):
            score(config, workspace)
    finally:
        shutil.copy(seeded_warehouse, workspace.warehouse)


def test_binary_parity(workspace):
    check_parity(workspace, *trained(workspace, "taxi_tips"))


def test_multiclass_parity(workspace, tmp_path_factory):
    from pipelines.config import registry

    root = tmp_path_factory.mktemp("multiclass_models")
    (root / "multi_models" / "three_classes").mkdir(parents=True)
    (root / "multi_models" / "__init__.py").write_text("")
    (root / "multi_models" / "three_classes" / "__init__.py").write_text("")
    (root / "multi_models" / "three_classes" / "config.py").write_text(MULTICLASS)
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(root))
        patch.setattr(registry, "MODELS_DIR", root / "multi_models")
        patch.setattr(registry, "MODELS_PACKAGE", "multi_models")
        check_parity(workspace, *trained(workspace, "three_classes"))
