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


def test_validate_marks_a_metric_that_means_nothing_for_the_task():
    result = runner.invoke(app, ["validate", "basic_template"])  # evaluates regression accuracy
    assert result.exit_code == 0, result.output
    assert "note: metric 'accuracy' is not meaningful for a regression label (exact match " \
           "only): reported, never a bound" in result.output
    assert "note:" not in runner.invoke(app, ["validate", "taxi_tips"]).output


def test_new_scaffolds_a_model_and_a_test_that_passes(models_package, tmp_path, monkeypatch):
    import importlib.util

    from pipelines.config import registry, scaffold
    from pipelines.models.basic_template import config as template

    monkeypatch.setattr(scaffold, "TESTS_DIR", tmp_path / "tests" / "models")
    models_package("basic_template", open(template.__file__).read())
    result = runner.invoke(app, ["new", "churn"])
    assert result.exit_code == 0, result.output
    assert (registry.MODELS_DIR / "churn" / "config.py").exists()
    assert registry.load_config("churn").name == "churn"
    test_file = tmp_path / "tests" / "models" / "test_churn.py"
    assert f"pytest {test_file}" in result.output
    # the scaffolded test runs the new model's real preprocessing_fn and Keras model
    spec = importlib.util.spec_from_file_location("test_churn_scaffold", test_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.MODEL == "churn"
    module.test_preprocessing_gives_finite_values_and_the_label()
    module.test_model_predicts_one_finite_answer_per_row()
    again = runner.invoke(app, ["new", "churn"])
    assert again.exit_code == 2 and "already exists" in again.output
    bad = runner.invoke(app, ["new", "my-model"])
    assert bad.exit_code == 2 and "must be a letter" in bad.output


MINE = """from pipelines.config import DataSource, ModelConfig
CONFIG = ModelConfig(label_key="y", dense_float_features=["{feature}"], train_steps=10,
                     source=DataSource(table="mine", split_key="id"))
"""


def test_data_load_then_validate(workspace, tmp_path, models_package):
    csv = tmp_path / "mine.csv"
    csv.write_text("id,x,y\n1,0.5,1.0\n2,1.5,2.0\n")
    result = runner.invoke(app, ["data", "load", "mine", str(csv)])
    assert result.exit_code == 0 and "loaded 2 rows into mine" in result.output
    models_package("mine", MINE.format(feature="x"))
    result = runner.invoke(app, ["validate", "mine"])
    assert result.exit_code == 0, result.output
    assert "mine: config and source columns OK" in result.output
    models_package("mine_typo", MINE.format(feature="xx"))
    result = runner.invoke(app, ["validate", "mine_typo"])
    assert result.exit_code == 2
    assert "the source has no column 'xx' (did you mean \"x\"?)" in result.output
    assert "its columns: id, x, y" in result.output


DIABETES = """from pipelines.config import DataSource, ModelConfig
CONFIG = ModelConfig(label_key="y", dense_float_features=["age", "bmi"], train_steps=10,
                     source=DataSource(table="diabetes", split_key="id"), eval_slices={slices})
"""


def test_a_float_slice_column_is_judged_by_its_values(workspace, tmp_path, models_package):
    # sklearn's diabetes data ships ``sex`` as DOUBLE 1.0 / 2.0: two slices, accepted.
    rows = [f"{i},{20 + i % 60},{1.0 + i % 2},{18.0 + i % 60 * 0.25},{i % 7}" for i in range(120)]
    csv = tmp_path / "diabetes.csv"
    csv.write_text("id,age,sex,bmi,y\n" + "\n".join(rows) + "\n")
    assert runner.invoke(app, ["data", "load", "diabetes", str(csv)]).exit_code == 0
    models_package("diabetes", DIABETES.format(slices='["sex"]'))
    result = runner.invoke(app, ["validate", "diabetes"])
    assert result.exit_code == 0, result.output
    assert "diabetes: config and source columns OK" in result.output
    # ``bmi`` has 60 values: each would be a slice of about two eval rows.
    models_package("diabetes_bmi", DIABETES.format(slices='["sex", "bmi"]'))
    result = runner.invoke(app, ["validate", "diabetes_bmi"])
    assert result.exit_code == 2
    assert "eval_slices column 'bmi' is DOUBLE with 60 distinct values in the source; a " \
           "floating-point slice column may have at most 50 (each value is a slice)" \
           in " ".join(result.output.split())


@pytest.mark.parametrize("file, source, expected", [
    ("config.py", "from pipelines.config import ModelConfig\nCONFIG = ModelConfig(\n",
     "config.py, line 2: SyntaxError: "),
    ("config.py", "from pipelines.config import ModelConfig\n\nCONFIG = make_config()\n",
     "config.py, line 3: NameError: name 'make_config' is not defined"),
    ("preprocessing.py", "import math\n\n\ndef preprocessing_fn(inputs):\n    return inputs\n"
     "\n\nSCALE = 1 / 0\n", "preprocessing.py, line 8: ZeroDivisionError: division by zero"),
    ("model.py", "from pipelines.no_such_module import build\n",
     "model.py, line 1: ModuleNotFoundError: No module named 'pipelines.no_such_module'"),
])
def test_an_error_in_model_code_is_one_clean_line(models_package, monkeypatch, file, source,
                                                  expected):
    monkeypatch.setenv("FULLCYCLE_VERBOSE", "")  # restored after --verbose sets it
    folder = models_package("broken", MINE.format(feature="x"))
    (folder / file).write_text(source)
    result = runner.invoke(app, ["validate", "broken"])
    assert result.exit_code == 2, result.output
    assert "error: model 'broken': " in result.output and expected in result.output
    assert "Traceback" not in result.output and len(result.output.splitlines()) == 1
    verbose = runner.invoke(app, ["--verbose", "validate", "broken"])
    assert verbose.exit_code == 2 and "Traceback" in verbose.output and expected in verbose.output


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


@pytest.mark.parametrize("command", [["compile", "basic_template"], ["infra", "plan"],
                                     ["trigger", "basic_template"], ["schedule"],
                                     ["rollout", "basic_template", "--once"],
                                     ["run", "basic_template"], ["serve-runner"]])
def test_every_stack_option_reads_fullcycle_stack(command, monkeypatch, workspace):
    monkeypatch.setenv("FULLCYCLE_STACK", "nope")
    result = runner.invoke(app, command)
    assert result.exit_code == 2, result.output
    assert "unknown stack 'nope'" in result.output and "known: dev" in result.output


@pytest.mark.parametrize("status, exit_code", [(3, 3), (None, 0), ("failed", 1)])
def test_exit_after_tensorflow_keeps_status_output_and_exit_handlers(tmp_path, status,
                                                                     exit_code):
    # The command's process skips Python's teardown of TensorFlow, nothing else.
    marker = tmp_path / "handler-ran"
    code = ("import atexit, os, sys, tensorflow; from pipelines.cli import main as cli\n"
            "class Teardown:\n"
            "    def __del__(self, write=os.write):\n"
            "        write(2, b'teardown ran')\n"
            "kept = Teardown()\n"
            "def command(prog_name):\n"
            f"    atexit.register(lambda: open({str(marker)!r}, 'w').write('x'))\n"
            "    print('partial line', end='')\n"
            f"    sys.exit({status!r})\n"
            "cli.app = command\n"
            "cli.main()\n"
            "print('not reached')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == exit_code, out.stderr
    assert out.stdout == "partial line"
    assert marker.read_text() == "x"
    assert ("failed" in out.stderr) == (status == "failed")
    assert "teardown ran" not in out.stderr
