"""Vertex AI's task entrypoint in the image: one task of a compiled spec, as Vertex runs it.

``fullcycle compile`` writes the spec; SchemaGen's command and args (``{{$}}`` replaced by
its ExecutorInput) run in the image as its non-root user, on a tiny statistics artifact in
a mounted folder, offline. The task must exit 0 and write its ExecutorOutput and schema.
"""

import json
import subprocess
import sys
from pathlib import Path

from tests.runner_image.engine import NON_ROOT_UID, ROOT, podman
from tests.runner_image.vertex_task import command_line, executor_input, write_tiny_statistics


def test_schema_gen_task_runs_in_the_image(image, tmp_path):
    spec_path = tmp_path / "spec.json"
    compiled = subprocess.run([str(Path(sys.executable).parent / "fullcycle"), "compile",
                               "basic_template", "--stack", "dev", "-o", str(spec_path)],
                              capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert compiled.returncode == 0, compiled.stderr[-2000:]
    spec = json.loads(spec_path.read_text())
    work = tmp_path / "work"
    write_tiny_statistics(work / "statistics")
    work.chmod(0o777)  # the task writes as uid 10001
    invocation = executor_input(
        spec, "SchemaGen", {"statistics": ("/work/statistics", {"split_names": '["train"]'})},
        {"schema": "/work/schema"}, "/work/task/executor_output.json")
    command, *args = command_line(spec, "SchemaGen", invocation)
    container_image = spec["pipelineSpec"]["deploymentSpec"]["executors"]["SchemaGen_executor"][
        "container"]["image"]
    assert "/fullcycle/runner" in container_image  # the image `pulumi up` builds from this file

    result = podman("run", "--rm", "--network", "none", "-v", f"{work}:/work",
                    "--entrypoint", json.dumps([command]), image, *args, check=False)

    assert result.returncode == 0, result.stderr[-4000:]
    output = json.loads((work / "task" / "executor_output.json").read_text())
    (schema_artifact,) = output["artifacts"]["schema"]["artifacts"]
    assert schema_artifact["uri"] == "/work/schema"
    schema = (work / "schema" / "schema.pbtxt").read_text()
    assert 'name: "trip_miles"' in schema and 'value: "Cash"' in schema
    owners = {p.stat().st_uid for p in (work / "schema", work / "task")}
    assert owners == {NON_ROOT_UID}, owners
