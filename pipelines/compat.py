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

4. The multi-processing DirectRunner's first worker. With N workers (large data,
``pipelines/pipeline/local.py``) Beam starts N SDK worker processes, each importing
Beam, TensorFlow and TFMA (0.8 GB before any data), while the run's process, which
has all of that loaded already, only hands them bundles. The first worker runs in
the run's process instead, on Beam's in-process gRPC worker (the same Fn API, data
plane and state API as a worker process), and N-1 processes are started, each
Beam's worker ended without TensorFlow's teardown
(``pipelines/pipeline/beam_worker.py``): at 1M rows the peak is 2.4 GB instead of
3.1, and the run is no slower. Beam's in-process gRPC worker flushes its output
from a timer thread every second as well as by size, whatever the writer is doing
(Beam 2.74, ``data_plane.TimeBasedBufferingClosableOutputStream``): a chunk can end
inside an element, and the runner decodes each chunk on its own. The rest of it is
then garbage to the runner (here once a window count in the billions: the run grew
by 200 MB/s until it was killed). Worker processes flush by size only (their
default), and so does this one.
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


# The DirectRunner's worker command, and the one a local run's workers end quietly with.
BEAM_WORKER_MAIN = b"-m apache_beam.runners.worker.sdk_worker_main"
LOCAL_WORKER_MAIN = b"-m pipelines.pipeline.beam_worker"


def patch_beam_first_worker_in_process() -> None:
    """The multi-processing DirectRunner runs its first worker in this process, and its
    worker processes with ``pipelines/pipeline/beam_worker.py`` (4. above)."""
    from apache_beam.portability import python_urns
    from apache_beam.runners.portability.fn_api_runner import worker_handlers

    manager = worker_handlers.WorkerHandlerManager
    original = manager.get_worker_handlers
    if getattr(original, "_fullcycle_compat", False):
        return

    class InProcessWorkerHandler(worker_handlers.EmbeddedGrpcWorkerHandler):
        def __init__(self, state, provision_info, grpc_server):
            super().__init__(str(worker_handlers.STATE_CACHE_SIZE_MB).encode(), state,
                             provision_info, grpc_server)
            self._data_buffer_time_limit_ms = 0  # read by start_worker(); 0: by size only

    def get_worker_handlers(self, environment_id, num_workers):
        key = environment_id if environment_id is not None else next(iter(self._environments))
        environment = self._environments[key]
        if environment.urn == python_urns.SUBPROCESS_SDK:
            if environment.payload.endswith(BEAM_WORKER_MAIN):
                environment.payload = (environment.payload[:-len(BEAM_WORKER_MAIN)]
                                       + LOCAL_WORKER_MAIN)
            handlers = self._cached_handlers[key]
            if num_workers > 1 and not handlers:
                if self._grpc_server is None:
                    self._grpc_server = worker_handlers.GrpcServer(
                        self.state_servicer, self._job_provision_info, self)
                handler = InProcessWorkerHandler(
                    self.state_servicer, self._job_provision_info.for_environment(environment),
                    self._grpc_server)
                handlers.append(handler)
                self._workers_by_id[handler.worker_id] = handler
                handler.start_worker()
        return original(self, environment_id, num_workers)

    get_worker_handlers._fullcycle_compat = True
    get_worker_handlers.__wrapped__ = original
    manager.get_worker_handlers = get_worker_handlers
