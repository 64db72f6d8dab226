"""Prints a plan the way an operator reads it: grouped by model, with key settings."""

from __future__ import annotations

from collections import Counter

from infra.plan import Plan, PlannedResource


def describe(resource: PlannedResource) -> str:
    """The settings worth seeing at a glance for each resource type."""
    i = resource.inputs
    short = resource.type.split(":")[-1]
    if short == "Bucket":
        return (f"{i['name']} ({i.get('location')}, uniform access, public access "
                f"{i.get('publicAccessPrevention')}, versioned)")
    if short == "Dataset":
        return f"{i['datasetId']} ({i.get('location')})"
    if short == "Account":
        return i["accountId"]
    if short in ("IAMMember", "DatasetIamMember", "BucketIAMMember", "RepositoryIamMember",
                 "ServiceIamMember"):
        scope = {"IAMMember": "project", "DatasetIamMember": "dataset", "BucketIAMMember": "bucket",
                 "RepositoryIamMember": "repository", "ServiceIamMember": "service"}[short]
        if "serviceAccountId" in i:
            scope = "service account"
        condition = i.get("condition")
        when = f" when {condition['expression']}" if condition else ""
        return f"{i['role']} on {scope} to {i['member']}{when}"
    if short == "Job":
        target = i.get("httpTarget", {})
        return (f"{i['name']}: '{i['schedule']}' {i['timeZone']}, POST {target.get('uri')}, "
                f"OIDC audience {target.get('oidcToken', {}).get('audience')}")
    if short == "AiEndpoint":
        return f"{i['displayName']} ({i['location']}), request-response logging to BigQuery"
    if short == "Service" and "template" in i:
        return f"{i['name']} ({i['location']}), image {i['template']['containers'][0]['image']}"
    if short == "Service":
        return i.get("service", "")
    if short == "Resource" and "spec" in i:  # the dynamic MonitoringJob
        spec, settings = i["spec"], i["spec"]["settings"]
        own = {f: t for f, t in settings["features"].items()}
        alerts = [*settings["alert_emails"], *settings["notification_channels"]]
        return (f"Model Monitoring {spec['endpoint_display_name']}-monitoring: skew vs "
                f"{spec['training_data']} > {settings['skew_threshold']}, drift > "
                f"{settings['drift_threshold']}"
                + (f" (own: {own})" if own else "")
                + f", sample {settings['sample_rate']}, every {int(settings['interval_hours'])} h, "
                  f"alerts to {', '.join(alerts)}")
    if short == "Table" and "view" in i:
        return f"view {i['tableId']}: the source query (training data for skew)"
    if short == "Image" and "tags" in i:
        return f"{', '.join(i['tags'])} (built from runner_image/Dockerfile, pushed)"
    if short == "Repository":
        return f"{i['repositoryId']} ({i.get('format')}, {i.get('location')})"
    return ""


def render_plan(plan: Plan) -> str:
    """The plan as text: shared resources, then each model, then totals."""
    config = plan.config
    lines = [f"Plan for stack {config.stack!r} (project {config.project}, region {config.region}):"
             f" {len(plan.custom)} resources to create", ""]
    groups = [("shared: runner", c) for c in plan.components("fullcycle:infra:Runner")]
    groups += [(f"model {entry.name}", plan.model_component(entry.name))
               for entry in config.models]
    for title, component in groups:
        children = plan.children(component)
        lines.append(f"{title} ({len(children)} resources)  [{component.urn}]")
        for child in children:
            kept = "  [kept when the model leaves the stack]" if child.retain_on_delete else ""
            lines.append(f"  + {child.type:<46} {child.name:<38} {describe(child)}{kept}")
        lines.append("")
    counts = Counter(r.type for r in plan.custom)
    lines.append("totals by type:")
    lines += [f"  {count:4d}  {type_}" for type_, count in sorted(counts.items())]
    return "\n".join(lines)
