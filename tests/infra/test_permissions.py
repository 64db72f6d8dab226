"""The permission table: every runtime call is allowed by a grant the plan makes, and every
grant is needed by a call (least privilege). See tests/infra/permissions.py for the table."""

import importlib
import re

import pytest

from infra.plan import plan
from tests.infra.permissions import CALLS, REFERENCE, ROLES, covers
from tests.support.stacks import stack

PROJECT = "acme-ml-prod"
AIRFLOW = "serviceAccount:airflow@acme-composer.iam.gserviceaccount.com"
MODELS = ("taxi_tips", "basic_template")


@pytest.fixture(scope="module")
def planned():
    return plan(stack([{"name": m} for m in MODELS], **{"fullcycle:invokers": [AIRFLOW]}))


def _identity(member: str, model_email: str) -> str | None:
    email = member.split(":", 1)[1]
    if email == model_email:
        return "model"
    if email.startswith(("fc-runner@", "fc-scheduler@")):
        return email.split("@")[0].removeprefix("fc-")
    return None if email.startswith("fc-") else "invoker"  # another model's account: not ours


def _scope(resource, ids, model_email: str) -> str | None:
    """The grant's scope as the table names it; None when it is another model's resource."""
    short, i = resource.type.split(":")[-1], resource.inputs
    if resource.type == "gcp:projects/iAMMember:IAMMember":
        return "project"
    if short == "BucketIAMMember":
        if i["bucket"] != ids.bucket:
            return None
        condition = (i.get("condition") or {}).get("expression", "")
        prefix = re.search(r'/objects/([^"]*)"\)$', condition)
        return f"bucket:{prefix.group(1)}" if prefix else "bucket"
    if short == "DatasetIamMember":
        return "dataset" if i["datasetId"] == ids.dataset_id else None
    if resource.type == "gcp:serviceaccount/iAMMember:IAMMember":
        return "account" if i["serviceAccountId"].endswith(f"/{model_email}") else None
    if short == "ServiceIamMember":
        return "service"
    if short == "RepositoryIamMember":
        return "repository"
    raise AssertionError(f"{resource.urn}: a grant the table does not know ({resource.type})")


def grants_for(planned, model: str) -> dict[tuple[str, str, str], str]:
    """(identity, role, scope) -> URN of every grant reaching ``model``'s runtime."""
    ids = planned.config.names(model)
    model_email = f"{ids.service_account_id}@{PROJECT}.iam.gserviceaccount.com"
    grants = {}
    for resource in planned.custom:
        role, member = resource.inputs.get("role"), resource.inputs.get("member")
        if role is None or member is None:
            continue
        identity, scope = _identity(member, model_email), _scope(resource, ids, model_email)
        if identity is not None and scope is not None:
            grants[identity, role, scope] = resource.urn
    return grants


@pytest.mark.parametrize("model", MODELS)
def test_every_runtime_call_is_granted(planned, model):
    grants = grants_for(planned, model)
    unknown = sorted({role for _, role, _ in grants} - set(ROLES))
    assert not unknown, f"granted roles missing from the table ({REFERENCE}): {unknown}"
    uncovered = [f"{c.identity} needs {c.permission} on {c.scope} ({c.what}; {c.code})"
                 for c in CALLS
                 if not any(identity == c.identity and c.permission in ROLES[role]
                            and covers(scope, c.scope) for identity, role, scope in grants)]
    assert not uncovered, "calls no grant allows:\n" + "\n".join(uncovered)


@pytest.mark.parametrize("model", MODELS)
def test_every_grant_is_needed_by_a_call(planned, model):
    unused = [f"{urn}: {role} on {scope} to {identity}"
              for (identity, role, scope), urn in grants_for(planned, model).items()
              if not any(c.identity == identity and c.permission in ROLES[role]
                         and covers(scope, c.scope) for c in CALLS)]
    assert not unused, "granted roles no call needs:\n" + "\n".join(unused)


def test_the_table_names_code_that_exists():
    for call in CALLS:
        module, _, attribute = call.code.partition(":")
        value = importlib.import_module(module)
        for part in attribute.split("."):
            assert hasattr(value, part), f"{call}: {call.code} does not exist"
            value = getattr(value, part)


def test_a_missing_grant_is_caught(planned):
    """The check itself: without the Dataflow self-grant, the workers' actAs is uncovered."""
    grants = {k: v for k, v in grants_for(planned, "taxi_tips").items()
              if k != ("model", "roles/iam.serviceAccountUser", "account")}
    missing = [c for c in CALLS if not any(
        identity == c.identity and c.permission in ROLES[role] and covers(scope, c.scope)
        for identity, role, scope in grants)]
    assert [(c.identity, c.permission, c.scope) for c in missing] == [
        ("model", "iam.serviceAccounts.actAs", "account")]
