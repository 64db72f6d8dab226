"""Compatibility shims between the pinned TFX 1.16 stack and newer Apache Beam.

Pulumi's SDK needs ``dill>=0.4``, which only Beam >= 2.65 accepts, so the lock
carries a newer Beam than TFX 1.16 was released with. One incompatibility is
known: tf.transform's deep-copy optimization (used for analyzers that depend
on other analyzers, e.g. bucketizing an imputed column) builds
``AppliedPTransform`` without the ``environment_id`` and ``annotations``
arguments Beam added. Beam itself passes ``None`` and the current annotations
there, so defaulting them to ``None`` / ``{}`` is faithful.
"""

import inspect


def patch_beam_for_tft() -> None:
    """Gives AppliedPTransform's newer positional parameters their natural defaults."""
    from apache_beam import pipeline

    original = pipeline.AppliedPTransform.__init__
    if getattr(original, "_fullcycle_compat", False):
        return
    params = inspect.signature(original).parameters
    if "environment_id" not in params or params["environment_id"].default is not inspect.Parameter.empty:
        return

    def __init__(self, parent, transform, full_label, main_inputs,  # noqa: N807
                 environment_id=None, annotations=None):
        original(self, parent, transform, full_label, main_inputs, environment_id,
                 annotations if annotations is not None else {})

    __init__._fullcycle_compat = True
    pipeline.AppliedPTransform.__init__ = __init__
