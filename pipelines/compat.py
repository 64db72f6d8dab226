"""Compatibility shims for the pinned TFX 1.16 / TF 2.16 / tf-keras stack.

1. AutoGraph and tf-keras. TF 2.16's AutoGraph skips converting modules named
``keras`` (graph-safe by design) but not ``tf_keras``, the package Keras 2 now
ships as; so every trace of a Keras train step or serving signature converts
thousands of Keras functions (about 20 s per trace here). Adding ``tf_keras``
to the do-not-convert rules restores the behaviour Keras 2 had inside TF.

2. Beam. Pulumi's SDK needs ``dill>=0.4``, which only Beam >= 2.65 accepts, so the lock
carries a newer Beam than TFX 1.16 was released with. One incompatibility is
known: tf.transform's deep-copy optimization (used for analyzers that depend
on other analyzers, e.g. bucketizing an imputed column) builds
``AppliedPTransform`` without the ``environment_id`` and ``annotations``
arguments Beam added. Beam itself passes ``None`` and the current annotations
there, so defaulting them to ``None`` / ``{}`` is faithful.
"""

import inspect


def patch_autograph_for_tf_keras() -> None:
    """Tells AutoGraph not to convert tf_keras, as it already does not convert keras."""
    from tensorflow.python.autograph.core import config, config_lib

    if not any(getattr(rule, "_prefix", None) == "tf_keras" for rule in config.CONVERSION_RULES):
        config.CONVERSION_RULES = (*config.CONVERSION_RULES, config_lib.DoNotConvert("tf_keras"))


def patch_beam_for_tft() -> None:
    """Gives AppliedPTransform's newer positional parameters their natural defaults."""
    from apache_beam import pipeline

    original = pipeline.AppliedPTransform.__init__
    if getattr(original, "_fullcycle_compat", False):
        return
    params = inspect.signature(original).parameters
    if ("environment_id" not in params
            or params["environment_id"].default is not inspect.Parameter.empty):
        return

    def __init__(self, parent, transform, full_label, main_inputs,  # noqa: N807
                 environment_id=None, annotations=None):
        original(self, parent, transform, full_label, main_inputs, environment_id,
                 annotations if annotations is not None else {})

    __init__._fullcycle_compat = True
    pipeline.AppliedPTransform.__init__ = __init__
