import random
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.http import http_date

from apps.runs.services import backoff_delay
from apps.workflows.actions import OutOfBounds, PermanentError, expressions, registry
from apps.workflows.actions.http import retry_after_seconds
from tests.factories import StepFactory


def test_an_expression_that_does_not_parse_is_refused_at_save_time_with_its_error(db):
    step = StepFactory.build(
        version=StepFactory().version, position=9, key="k", bounds=["amount <="]
    )
    with pytest.raises(ValidationError) as caught:
        step.full_clean()
    assert "Bound 1 `amount <=` does not parse" in str(caught.value.message_dict["bounds"])


@pytest.mark.parametrize(
    ("action", "config", "field", "fragment"),
    [
        ("nope.nothing", {}, "action", "Unknown action 'nope.nothing'"),
        ("http.request", {"url": "ftp://x"}, "config", "`url` must be an http://"),
        ("http.request", {"url": "http://x/{a b}"}, "config", "plain field name"),
        ("http.request", {"url": "http://x", "method": "BREW"}, "config", "`method` must be"),
        ("http.request", {"url": "http://x", "body": {"a": "1 +"}}, "config", "`body.a`"),
        ("data.set", {}, "config", "`set` is required"),
        ("data.set", {"set": {"x": "__import__('os')"}}, "config", "not allowed"),
        ("email.send", {"to": "a@b.c"}, "config", "`subject` is required"),
        ("human.review", {"when": "amount >"}, "config", "`when`"),
        ("rules.check", {"rules": []}, "config", "takes no config"),
    ],
)
def test_each_action_validates_its_own_config(action, config, field, fragment):
    errors = registry.validate_step(action=action, config=config, bounds=[])
    assert fragment in " ".join(errors[field])


def test_a_valid_step_has_no_errors():
    assert (
        registry.validate_step(
            action="http.request",
            config={
                "url": "https://erp.example/{ref}",
                "body": {"a": "amount * 2"},
                "response": {"erp_id": "data.id"},
            },
            bounds=["amount <= 10000", "vendor.country in ['DE', 'FR']"],
        )
        == {}
    )


def test_private_attributes_are_refused_in_expressions():
    assert "private attribute" in expressions.syntax_error("amount.__class__")


def test_check_bounds_names_the_expression_and_the_values_that_broke_it():
    with pytest.raises(OutOfBounds) as caught:
        expressions.check_bounds(
            ["amount <= 10000", "confidence >= 0.8"], {"amount": 10, "confidence": 0.5}
        )
    assert caught.value.expression == "confidence >= 0.8"
    assert caught.value.values == {"confidence": 0.5}
    assert "confidence = 0.5" in caught.value.message


@pytest.mark.parametrize(
    ("bound", "data", "why"),
    [
        (
            "amount <= 10000",
            {"amount": "lots"},
            "amount is 'lots' (text), which cannot be compared with a number.",
        ),
        (
            "amount <= 10000",
            {"amount": None},
            "amount is null (empty), which cannot be compared with a number.",
        ),
        (
            "0 < amount <= limit",
            {"amount": 5, "limit": "10k"},
            "limit is '10k' (text), which cannot be compared with a number.",
        ),
        (
            "confidence >= 0.8",
            {"confidence": [0.9]},
            "confidence is [0.9] (a list), which cannot be compared with a number.",
        ),
        (
            "amount + 1 > 3",
            {"amount": "a"},
            "amount is 'a' (text): these kinds of values cannot be combined this way.",
        ),
    ],
)
def test_a_bound_that_meets_the_wrong_type_says_so_in_plain_words(bound, data, why):
    with pytest.raises(OutOfBounds) as caught:
        expressions.check_bounds([bound], data)

    assert caught.value.message == f"Bound `{bound}` could not be checked: {why}"
    assert "not supported between instances" not in caught.value.message
    assert caught.value.expression == bound


def test_evaluate_reports_a_missing_field_by_name():
    with pytest.raises(PermanentError, match="'vendor'"):
        expressions.evaluate("upper(vendor)", {})


def test_backoff_grows_exponentially_up_to_the_cap():
    delays = [
        backoff_delay(attempt_number=n, initial_s=1, coefficient=2, max_s=10, jitter=0)
        for n in range(1, 7)
    ]
    assert delays == [1, 2, 4, 8, 10, 10]


def test_jitter_only_shortens_the_delay_so_the_cap_holds():
    rng = random.Random(7)
    delays = [
        backoff_delay(attempt_number=5, initial_s=1, coefficient=2, max_s=10, jitter=0.5, rng=rng)
        for _ in range(200)
    ]
    assert all(5 <= d <= 10 for d in delays)
    assert len(set(delays)) > 100


def test_retry_after_is_honoured_past_the_cap():
    assert (
        backoff_delay(
            attempt_number=1, initial_s=1, coefficient=2, max_s=5, jitter=0, retry_after_s=30
        )
        == 30
    )


def test_retry_after_reads_seconds_and_http_dates():
    assert retry_after_seconds("7") == 7.0
    later = timezone.now() + timedelta(seconds=120)
    assert 100 < retry_after_seconds(http_date(later.timestamp())) <= 120
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_case_gives_optional_fields_a_default():
    assert expressions.evaluate("case.get('po', 'none')", {"amount": 1}) == "none"
    assert expressions.evaluate("case.get('amount')", {"amount": 1}) == 1
    assert expressions.names_in("case.get('po') or amount") == ["amount"]
