"""The fullcycle CLI: fast commands, clear errors, no tracebacks."""

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from pipelines.cli.main import app

runner = CliRunner()


def test_list_shows_models():
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0
    assert "basic_template" in result.output and "taxi_tips" in result.output


def test_validate_unknown_model_is_a_clear_error():
    result = runner.invoke(app, ["validate", "taxi_tip"])
    assert result.exit_code == 2
    assert 'unknown model \'taxi_tip\' (did you mean "taxi_tips"?)' in result.output
    assert "Traceback" not in result.output


def test_validate_checks_source_columns(workspace):
    result = runner.invoke(app, ["validate", "taxi_tips"])
    assert result.exit_code == 0, result.output
    assert "config and source columns OK" in result.output


def test_new_scaffolds_a_valid_model(models_package):
    from pipelines.config import registry
    from pipelines.models.basic_template import config as template

    models_package("basic_template", open(template.__file__).read())
    result = runner.invoke(app, ["new", "churn"])
    assert result.exit_code == 0, result.output
    assert (registry.MODELS_DIR / "churn" / "config.py").exists()
    assert registry.load_config("churn").name == "churn"
    again = runner.invoke(app, ["new", "churn"])
    assert again.exit_code == 2 and "already exists" in again.output
    bad = runner.invoke(app, ["new", "my-model"])
    assert bad.exit_code == 2 and "must be a letter" in bad.output


def test_data_load_then_validate(workspace, tmp_path):
    csv = tmp_path / "mine.csv"
    csv.write_text("id,x,y\n1,0.5,1.0\n2,1.5,2.0\n")
    result = runner.invoke(app, ["data", "load", "mine", str(csv)])
    assert result.exit_code == 0 and "loaded 2 rows into mine" in result.output


def test_predict_without_pushed_model_says_what_to_do(workspace, tmp_path):
    instances = tmp_path / "i.json"
    instances.write_text(json.dumps([{"numeric_feature1": 1.0}]))
    result = runner.invoke(app, ["predict", "basic_template", "--instances", str(instances)])
    assert result.exit_code == 2
    assert "has no pushed version" in result.output and "fullcycle run basic_template" in \
        result.output


@pytest.mark.parametrize("content, message", [
    ("{not json", "is not valid JSON"), ('{"rows": []}', "must hold a list of objects")])
def test_predict_bad_instances_file(workspace, tmp_path, content, message):
    instances = tmp_path / "i.json"
    instances.write_text(content)
    result = runner.invoke(app, ["predict", "basic_template", "--instances", str(instances)])
    assert result.exit_code == 2 and message in result.output


def test_help_does_not_import_tensorflow():
    code = ("import sys; from pipelines.cli.main import app; "
            "print('tensorflow' in sys.modules, 'tfx' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"
