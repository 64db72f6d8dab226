"""An offline plan of ``pulumi up``: the real program under Pulumi's mocks.

No credentials, Pulumi CLI or GCP provider plugin: the program runs with
``pulumi.runtime.set_mocks``, and every resource registration is recorded with
its URN, parent and inputs. The mocks answer like GCP would (service account
emails, Cloud Run URLs) and refuse what GCP would refuse (invalid ids, labels,
cron expressions, IAM members), naming the resource's URN.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import re
import threading
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks

from pipelines.config.errors import FullcycleError
from pipelines.stack.config import StackConfig, time_zones
from pipelines.stack.names import check, slug

PROJECT = "fullcycle"


@dataclass(frozen=True)
class PlannedResource:
    """One resource ``pulumi up`` would create."""

    urn: str
    type: str
    name: str
    parent: str
    inputs: dict[str, Any]
    custom: bool
    retain_on_delete: bool = False  # kept by GCP when the stack no longer declares it
    dependencies: tuple[str, ...] = ()  # URNs created before it (depends_on and inputs)

    @property
    def labels(self) -> dict[str, str] | None:
        return self.inputs.get("labels")


@dataclass
class Plan:
    """Every resource of a stack, by component."""

    config: StackConfig
    resources: list[PlannedResource] = field(default_factory=list)

    @property
    def custom(self) -> list[PlannedResource]:
        return [r for r in self.resources
                if r.custom and not r.type.startswith("pulumi:providers:")]

    def components(self, type_: str) -> list[PlannedResource]:
        return [r for r in self.resources if r.type == type_]

    def children(self, component: PlannedResource) -> list[PlannedResource]:
        return [r for r in self.custom if r.parent == component.urn]

    def of_type(self, type_: str) -> list[PlannedResource]:
        return [r for r in self.custom if r.type == type_]

    def as_json(self) -> list[dict[str, Any]]:
        """Every resource to create, for scripts: type, name, URN, its model, inputs."""
        names = {slug(e.name): e.name for e in self.config.models}
        models = {c.urn: names.get(c.name) for c in
                  self.components("fullcycle:infra:ModelPlatform")}
        return [{"type": r.type, "name": r.name, "urn": r.urn,
                 "model": models.get(r.parent), "retain_on_delete": r.retain_on_delete,
                 "inputs": {k: v for k, v in r.inputs.items() if not k.startswith("__")}}
                for r in self.custom]

    def model_component(self, model: str) -> PlannedResource:
        return next(c for c in self.components("fullcycle:infra:ModelPlatform")
                    if c.name == slug(model))


class InvalidResourceError(FullcycleError):
    """A resource GCP would refuse."""


def _fail(urn: str, message: str) -> None:
    raise InvalidResourceError(f"{urn}: {message}")


def _validate(urn: str, type_: str, inputs: dict[str, Any]) -> None:
    """The checks the real API would make before creating the resource."""
    for key, value in (inputs.get("labels") or {}).items():
        for problem in (check("label key", key), check("label value", value)):
            if problem:
                _fail(urn, problem)
    member = inputs.get("member")
    if member is not None and not (member in ("allUsers", "allAuthenticatedUsers") or
                                   member.split(":", 1)[0] in ("serviceAccount", "user",
                                                               "group", "domain")):
        _fail(urn, f"IAM member {member!r} is not a valid principal")
    if "role" in inputs and not str(inputs["role"]).startswith("roles/"):
        _fail(urn, f"role {inputs['role']!r} is not a role name")
    kind = {"gcp:serviceaccount/account:Account": ("service account id", "accountId"),
            "gcp:storage/bucket:Bucket": ("bucket name", "name"),
            "gcp:bigquery/dataset:Dataset": ("dataset id", "datasetId"),
            "gcp:cloudrunv2/service:Service": ("Cloud Run service name", "name"),
            "gcp:cloudscheduler/job:Job": ("Cloud Scheduler job name", "name")}.get(type_)
    if kind and (problem := check(kind[0], str(inputs.get(kind[1], "")))):
        _fail(urn, problem)
    if type_ == "docker-build:index:Image":
        for tag in inputs.get("tags", []):
            if not re.fullmatch(r"[a-z0-9-]+-docker\.pkg\.dev/[a-z][a-z0-9-]+/[a-z0-9-]+/"
                                r"[a-z0-9-]+:[\w.-]{1,128}", tag):
                _fail(urn, f"image tag {tag!r} is not an Artifact Registry image reference")
    if type_ == "gcp:cloudscheduler/job:Job":
        from croniter import croniter

        if not croniter.is_valid(inputs.get("schedule", "")):
            _fail(urn, f"schedule {inputs.get('schedule')!r} is not a cron expression")
        if inputs.get("timeZone") not in time_zones():
            _fail(urn, f"time zone {inputs.get('timeZone')!r} is unknown")
        seconds = int(str(inputs.get("attemptDeadline", "0s")).rstrip("s"))
        if not 15 <= seconds <= 1800:
            _fail(urn, f"attempt deadline {seconds}s is outside 15s..1800s for HTTP targets")


class _GcpMocks(pulumi.runtime.Mocks):
    """Answers registrations the way GCP would, after validating them."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self.project, self.region = plan.config.project, plan.config.region
        # The monitor registers on several executor threads at once: each thread
        # hands its own URN and parent to new_resource.
        self._current = threading.local()
        self._lock = threading.Lock()

    @property
    def current_urn(self) -> str:
        return self._current.urn

    @property
    def current_parent(self) -> str:
        return self._current.parent

    def register(self, urn: str, parent: str, retain_on_delete: bool = False,
                 dependencies: tuple[str, ...] = ()) -> None:
        self._current.urn, self._current.parent = urn, parent
        self._current.retain = retain_on_delete
        self._current.dependencies = dependencies

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        inputs = dict(args.inputs)
        with self._lock:
            self.plan.resources.append(PlannedResource(
                urn=self.current_urn, type=args.typ, name=args.name, parent=self.current_parent,
                inputs=inputs, custom=bool(args.custom),
                retain_on_delete=getattr(self._current, "retain", False),
                dependencies=getattr(self._current, "dependencies", ())))
        if args.custom:
            _validate(self.current_urn, args.typ, inputs)
        outputs = dict(inputs)
        digest = hashlib.sha256(self.current_urn.encode()).hexdigest()
        if args.typ == "gcp:serviceaccount/account:Account":
            email = f"{inputs['accountId']}@{self.project}.iam.gserviceaccount.com"
            outputs.update(email=email, name=f"projects/{self.project}/serviceAccounts/{email}")
        elif args.typ == "gcp:cloudrunv2/service:Service":
            outputs["uri"] = f"https://{inputs['name']}-{digest[:10]}-ez.a.run.app"
        elif args.typ == "gcp:vertex/aiEndpoint:AiEndpoint":
            outputs["name"] = str(int(digest[:12], 16) % 10**10 or 1)
        elif args.typ == "gcp:storage/bucket:Bucket":
            outputs["url"] = f"gs://{inputs['name']}"
        elif args.typ == "docker-build:index:Image":  # pushed: the tag's digest reference
            outputs["ref"] = f"{inputs['tags'][0].rsplit(':', 1)[0]}@sha256:{digest}"
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list | None]:
        return {}, None


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    """The mock monitor, keeping each registration's URN, parent and inputs."""

    def __init__(self, mocks: _GcpMocks, plan: Plan):
        super().__init__(mocks)
        self.plan = plan

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # The monitor runs on executor threads, where Pulumi's context-variable
        # settings read as defaults: build URNs as `pulumi up` would.
        parent_type = parent.split("::")[2] if parent else "pulumi:pulumi:Stack"
        if parent_type != "pulumi:pulumi:Stack":  # the root stack is left out, as by the engine
            type_ = parent_type + "$" + type_
        return f"urn:pulumi:{self.plan.config.stack}::{PROJECT}::{type_}::{name}"

    def RegisterResource(self, request):  # noqa: N802 - gRPC method name
        self.mocks.register(self.make_urn(request.parent, request.type, request.name),
                            request.parent, request.retainOnDelete, tuple(request.dependencies))
        return super().RegisterResource(request)


@contextlib.contextmanager
def _fast_sdk():
    """Per-resource SDK work a plan does not need, avoided while planning.

    - property types of a resource or input class are static: looked up once
      per class (the SDK resolves type hints again for every resource);
    - source stack traces only annotate diagnostics: none are collected;
    - the cyclic garbage collector is paused for the run.
    """
    from pulumi import _types
    from pulumi.runtime import resource
    from pulumi.runtime.proto import source_pb2

    original_types, original_trace = _types._types_from_py_properties, resource._get_stack_trace
    cache: dict[type, dict[str, type]] = {}

    def types_from_py_properties(cls: type) -> dict[str, type]:
        if cls not in cache:
            cache[cls] = original_types(cls)
        return dict(cache[cls])

    _types._types_from_py_properties = types_from_py_properties
    resource._get_stack_trace = source_pb2.StackTrace
    gc_was_enabled = gc.isenabled()
    gc.disable()  # the SDK allocates heavily and frees by refcount; cyclic passes only cost
    try:
        yield
    finally:
        if gc_was_enabled:
            gc.enable()
        _types._types_from_py_properties = original_types
        resource._get_stack_trace = original_trace


def plan(config: StackConfig) -> Plan:
    """Runs the Pulumi program for ``config`` under mocks; returns every planned resource."""
    from pulumi.runtime import settings
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    from infra.program import build

    result = Plan(config=config)
    mocks = _GcpMocks(result)
    settings.set_root_resource(None)  # a fresh root stack for every plan
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=config.stack, preview=False,
                             monitor=_RecordingMonitor(mocks, result))
    errors: list[BaseException] = []

    def program() -> None:
        build(config)

    settings.SETTINGS.rpc_manager.clear()
    settings.SETTINGS.outputs = set()  # the SDK's pending outputs (a set since 3.2xx: O(1))
    try:
        with _fast_sdk():
            _sync_await(run_pulumi_func(program))
    except InvalidResourceError as err:
        errors.append(err)
    except Exception as err:  # registration failures surface wrapped by the runtime
        errors.append(_unwrap(err))
    if errors:
        raise errors[0] if isinstance(errors[0], FullcycleError) else FullcycleError(
            f"the Pulumi program failed: {errors[0]}")
    return result


def _unwrap(err: BaseException) -> BaseException:
    seen = err
    while seen is not None:
        if isinstance(seen, FullcycleError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return err
