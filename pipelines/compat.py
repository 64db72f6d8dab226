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

3. Beam's DoFn inspection. Beam asks every DoFn for its state and timer specs
(``userstate.get_dofn_specs``) each time a ParDo is built, validated, translated
or run, and every answer walks all the DoFn's methods through
``inspect.signature``: about 8,000 walks and 10 s of a small cold run, the same
answer each time. The answer depends only on the methods' functions (and, for a
``Map``/``FlatMap``, on the function it wraps), so it is kept per those.
"""

import inspect
import types
from collections import OrderedDict


def patch_autograph_for_tf_keras() -> None:
    """Tells AutoGraph not to convert tf_keras, as it already does not convert keras."""
    from tensorflow.python.autograph.core import config, config_lib

    if not any(getattr(rule, "_prefix", None) == "tf_keras" for rule in config.CONVERSION_RULES):
        config.CONVERSION_RULES = (*config.CONVERSION_RULES, config_lib.DoNotConvert("tf_keras"))


def patch_beam_for_tft() -> None:
    """Gives AppliedPTransform's newer positional parameters their natural defaults.

    Also installs the DoFn spec cache (3. above): every caller builds Beam pipelines.
    """
    from apache_beam import pipeline

    patch_beam_dofn_specs()

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


_SPECS_CACHE_SIZE = 4096


def _dofn_methods_key(dofn) -> tuple | None:
    """What ``get_dofn_specs(dofn)`` depends on, or None when that cannot be said cheaply."""
    from apache_beam.transforms.core import CallableWrapperDoFn

    cls = type(dofn)
    inspectors = [name for name in dir(cls) if name.startswith("_inspect_")]
    key: list = [cls]
    if inspectors:
        # Only Map/FlatMap's wrapper is understood: its process() is the wrapped function's.
        if cls is not CallableWrapperDoFn or inspectors != ["_inspect_process"] \
                or getattr(dofn, "_fullargspec", None):
            return None
        key.append(dofn._process_argspec_fn())
    for name in dir(dofn):
        value = getattr(dofn, name, None)
        if isinstance(value, types.MethodType):
            key.append((name, value.__func__, value.__self__ is dofn))
    try:
        hash(tuple(key))
    except TypeError:
        return None
    return tuple(key)


def patch_beam_dofn_specs() -> None:
    """Keeps each DoFn's state/timer specs per its methods instead of re-inspecting them."""
    from apache_beam.transforms import userstate

    original = userstate.get_dofn_specs
    if getattr(original, "_fullcycle_compat", False):
        return
    cache: OrderedDict = OrderedDict()

    def get_dofn_specs(dofn):
        key = _dofn_methods_key(dofn)
        if key is None:
            return original(dofn)
        if key in cache:
            cache.move_to_end(key)
            states, timers = cache[key]
        else:
            states, timers = original(dofn)  # raises for a malformed DoFn, uncached
            cache[key] = (frozenset(states), frozenset(timers))
            if len(cache) > _SPECS_CACHE_SIZE:
                cache.popitem(last=False)
        return set(states), set(timers)

    get_dofn_specs._fullcycle_compat = True
    get_dofn_specs.__wrapped__ = original
    userstate.get_dofn_specs = get_dofn_specs
