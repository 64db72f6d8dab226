"""The runner image's content tag and the settings pulumi up hands the runner."""

import json
import shutil

import pytest

from pipelines.stack.config import PROJECT_ROOT, SETTINGS_ENV, StackConfig
from pipelines.stack.image import IMAGE_INPUTS, content_tag
from tests.support.stacks import stack


@pytest.fixture
def tree(tmp_path):
    """A copy of what goes into the image."""
    root = tmp_path / "tree"
    for entry in IMAGE_INPUTS:
        source, target = PROJECT_ROOT / entry, root / entry
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, target)
    return root


def test_same_tree_same_tag_and_a_changed_model_file_a_new_one(tree):
    first = content_tag(tree)
    assert content_tag(tree) == first and len(first) == 16
    config = tree / "pipelines" / "models" / "taxi_tips" / "config.py"
    config.write_text(config.read_text() + "\n# retrained with more steps\n")
    assert content_tag(tree) != first


def test_files_outside_the_image_do_not_change_the_tag(tree):
    first = content_tag(tree)
    (tree / "notes.md").write_text("not copied into the image")
    (tree / "pipelines" / "__pycache__").mkdir(exist_ok=True)
    (tree / "pipelines" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert content_tag(tree) == first


def test_the_image_is_built_unless_one_is_given():
    built = stack([{"name": "taxi_tips"}], **{"fullcycle:runnerImage": None})
    assert built.runner_image is None
    assert built.image == (f"europe-west4-docker.pkg.dev/acme-ml-prod/fullcycle/runner:"
                           f"{content_tag(PROJECT_ROOT)}")
    assert stack([]).image == "europe-west4-docker.pkg.dev/acme-ml-prod/fullcycle/runner:1"


def test_settings_handed_to_the_runner_are_read_instead_of_a_stack_file(monkeypatch):
    config = stack([{"name": "taxi_tips", "canary": {"steps": [5, 100]}}])
    handed = config.settings_json("europe-west4-docker.pkg.dev/acme-ml-prod/fullcycle/"
                                  "runner@sha256:abc")
    monkeypatch.setenv(SETTINGS_ENV, handed)
    loaded = StackConfig.load("prod")  # there is no Pulumi.prod.yaml: the settings are used
    assert loaded.entry("taxi_tips").canary.steps == (5, 100)
    assert loaded.image.endswith("@sha256:abc")
    assert json.loads(handed)["models"][0]["name"] == "taxi_tips"
    assert StackConfig.load("dev").stack == "dev"  # another stack: its file


def test_bad_settings_are_a_clear_error(monkeypatch):
    from pipelines.config import ConfigError

    monkeypatch.setenv(SETTINGS_ENV, json.dumps({"stack": "prod", "project": "Bad Project"}))
    with pytest.raises(ConfigError, match=f"the settings in {SETTINGS_ENV}"):
        StackConfig.load("prod")
