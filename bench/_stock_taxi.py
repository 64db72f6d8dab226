"""Runs TFX's stock Chicago-taxi native-Keras pipeline (the baseline) into a directory."""

import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")


def main(root: str) -> None:
    from tfx.examples.chicago_taxi_pipeline import taxi_pipeline_native_keras as stock
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner

    here = os.path.dirname(stock.__file__)
    LocalDagRunner().run(stock._create_pipeline(  # noqa: SLF001 - the example's own factory
        pipeline_name="stock_taxi", pipeline_root=f"{root}/pipeline",
        data_root=f"{here}/data/simple", module_file=f"{here}/taxi_utils_native_keras.py",
        serving_model_dir=f"{root}/serving", metadata_path=f"{root}/metadata.db",
        beam_pipeline_args=stock._beam_pipeline_args))  # noqa: SLF001


if __name__ == "__main__":
    main(sys.argv[1])
