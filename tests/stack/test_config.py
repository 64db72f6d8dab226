"""Bad stack configs fail before any resource is declared, naming the key path and value."""

import pytest

from pipelines.config import ConfigError
from pipelines.stack.config import StackConfig
from tests.support.stacks import stack


def error(models, **extra) -> str:
    with pytest.raises(ConfigError) as err:
        stack(models, **extra)
    return str(err.value)


def test_committed_dev_stack_is_valid():
    config = StackConfig.from_stack_file("dev")
    assert [m.name for m in config.models] == ["basic_template", "taxi_tips"]
    assert config.models[1].retry.attempt_deadline_seconds == 600


def test_unknown_model_suggests_closest():
    message = error([{"name": "taxi_tip"}])
    assert "fullcycle:models[0].name: unknown model 'taxi_tip' (did you mean \"taxi_tips\"?)" \
        in message


def test_duplicate_model():
    assert "model(s) listed twice: taxi_tips" in error([{"name": "taxi_tips"},
                                                        {"name": "taxi_tips"}])


def test_bad_cron_and_time_zone():
    message = error([{"name": "taxi_tips", "schedule": "0 25 * * *",
                      "time_zone": "Europe/Amsterdm"}])
    assert "fullcycle:models[0].schedule: schedule '0 25 * * *' is not a 5-field unix-cron" \
        in message
    assert "fullcycle:models[0].time_zone: unknown time zone 'Europe/Amsterdm' (did you mean " \
           "\"Europe/Amsterdam\"?)" in message


def test_canary_steps_must_end_at_100():
    message = error([{"name": "taxi_tips", "canary": {"steps": [10, 50, 90]}}])
    assert "fullcycle:models[0].canary.steps: canary steps [10, 50, 90] must end at 100" in message
    message = error([{"name": "taxi_tips", "canary": {"steps": [50, 10, 100]}}])
    assert "must rise strictly" in message


def test_canary_interval_must_be_a_scheduler_cadence():
    message = error([{"name": "taxi_tips", "canary": {"interval_minutes": 90}}])
    assert "fullcycle:models[0].canary.interval_minutes: canary interval_minutes 90 cannot be " \
        "a Cloud Scheduler cadence: use 1..59 minutes or whole hours" in message
    ticks = {minutes: stack([{"name": "taxi_tips", "canary": {"interval_minutes": minutes}}])
             .models[0].canary.tick_schedule for minutes in (5, 60, 180, 1440)}
    assert ticks == {5: "*/5 * * * *", 60: "0 */1 * * *", 180: "0 */3 * * *",
                     1440: "0 0 * * *"}


def test_name_that_makes_an_invalid_gcp_id(models_package):
    from pipelines.models.basic_template import config as template

    models_package("a_much_too_long_model_name_for_ids", open(template.__file__).read())
    message = error([{"name": "a_much_too_long_model_name_for_ids"}])
    assert "service account id 'fc-a-much-too-long-model-name-for-ids' is invalid: 6-30" in message


def test_bad_project_labels_and_unknown_key():
    message = error([], **{"gcp:project": "Acme_ML"})
    assert "gcp:project: project id 'Acme_ML' is invalid" in message
    message = error([{"name": "taxi_tips", "labels": {"Team": "x"}, "schedul": "* * * * *"}])
    assert "label key 'Team' is invalid" in message
    assert "fullcycle:models[0].schedul: unknown key" in message


def test_unknown_stack_lists_known():
    with pytest.raises(ConfigError, match=r"unknown stack 'prd'.*known: dev"):
        StackConfig.from_stack_file("prd")


def test_bad_scoring_settings_are_named():
    message = error([{"name": "taxi_tips", "scoring": {
        "schedule": "0 6 * *", "time_zone": "Europe/Amsterdm", "machine": "n1-standard-4"}}])
    assert "fullcycle:models[0].scoring.schedule: scoring schedule '0 6 * *' is not a 5-field " \
        "unix-cron" in message
    assert "fullcycle:models[0].scoring.time_zone: unknown scoring time zone 'Europe/Amsterdm'" \
        in message
    assert "fullcycle:models[0].scoring.machine" in message
    message = error([{"name": "taxi_tips", "scoring": {"starting_replicas": 5,
                                                       "max_replicas": 2}}])
    assert "scoring starting_replicas 5 is above max_replicas 2" in message
    scoring = stack([{"name": "taxi_tips", "scoring": {"schedule": "0 6 * * *"}}]) \
        .models[0].scoring
    assert (scoring.schedule, scoring.time_zone, scoring.starting_replicas) == \
        ("0 6 * * *", "Etc/UTC", 1)
    assert stack([{"name": "taxi_tips"}]).models[0].scoring.schedule is None  # not scheduled
