"""Case schemas: checked as schemas when saved, frozen once published, and case data judged
against them in plain sentences."""

import pytest
from django.core.exceptions import ValidationError

from apps.workflows.models import WorkflowVersion
from apps.workflows.schema import (
    SCHEMA_NOT_FOR_OBJECTS,
    SCHEMA_NOT_OBJECT,
    CaseDataInvalid,
    case_data_check,
    case_data_errors,
    case_schema_errors,
)
from apps.workflows.services import version_copy, version_publish
from tests.factories import StepFactory, UserFactory, VersionFactory

INVOICE = {
    "type": "object",
    "required": ["amount", "currency", "due_date"],
    "properties": {
        "amount": {"type": "number", "minimum": 0},
        "currency": {"enum": ["EUR", "USD"]},
        "due_date": {"type": "string", "format": "date"},
        "contact": {"type": "string", "format": "email"},
        "lines": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["amount"],
                "properties": {"amount": {"type": "number"}},
            },
        },
    },
}
VALID = {"amount": 420.5, "currency": "EUR", "due_date": "2026-12-31"}


# ---------------------------------------------------------------------------------------------
# Case data against a schema


def test_valid_data_has_no_errors():
    assert case_data_errors(schema=INVOICE, data=VALID) == []
    case_data_check(schema=INVOICE, data=VALID)


@pytest.mark.parametrize("schema", [{}, None])
def test_a_blank_schema_accepts_any_data(schema):
    assert case_data_errors(schema=schema, data={"amount": "lots"}) == []


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"amount": "lots"}, "amount: 'lots' is not a number"),
        ({"amount": True}, "amount: true is not a number"),
        ({"amount": -1}, "amount: -1 is less than the minimum of 0"),
        ({"currency": "XYZ"}, "currency: 'XYZ' is not one of EUR, USD"),
        ({"due_date": "31/12/2026"}, "due_date: '31/12/2026' is not a date (YYYY-MM-DD)"),
        ({"due_date": "2026-02-30"}, "due_date: '2026-02-30' is not a date (YYYY-MM-DD)"),
        ({"contact": "nobody"}, "contact: 'nobody' is not an email address"),
        ({"lines": {"amount": 1}}, "lines: an object is not a list"),
    ],
)
def test_each_rule_is_a_sentence_naming_the_field_and_the_rule(changes, error):
    assert case_data_errors(schema=INVOICE, data={**VALID, **changes}) == [error]


def test_a_missing_field_is_required():
    data = {key: value for key, value in VALID.items() if key != "due_date"}

    assert case_data_errors(schema=INVOICE, data=data) == ["due_date: is required"]


def test_every_problem_is_listed_at_once_sorted_by_field_with_nested_paths():
    data = {
        "amount": "lots",
        "currency": "XYZ",
        "lines": [{"amount": 1}, {"amount": "x"}, {}],
    }

    assert case_data_errors(schema=INVOICE, data=data) == [
        "amount: 'lots' is not a number",
        "currency: 'XYZ' is not one of EUR, USD",
        "due_date: is required",
        "lines[1].amount: 'x' is not a number",
        "lines[2].amount: is required",
    ]


def test_list_positions_sort_as_numbers():
    data = {**VALID, "lines": [{"amount": "a"}] * 11}

    errors = case_data_errors(schema=INVOICE, data=data)

    assert errors[0] == "lines[0].amount: 'a' is not a number"
    assert errors[2] == "lines[2].amount: 'a' is not a number"
    assert errors[-1] == "lines[10].amount: 'a' is not a number"


def test_fields_the_schema_forbids_are_named_one_by_one():
    schema = {**INVOICE, "additionalProperties": False}

    errors = case_data_errors(schema=schema, data={**VALID, "colour": "red", "size": 3})

    assert errors == [
        "colour: is not a field this workflow expects",
        "size: is not a field this workflow expects",
    ]


def test_long_text_is_shortened_in_the_sentence():
    [error] = case_data_errors(schema=INVOICE, data={**VALID, "amount": "x" * 500})

    assert error == f"amount: '{'x' * 39}…' is not a number"


def test_the_check_raises_with_every_error_and_the_fields_apart():
    with pytest.raises(CaseDataInvalid) as caught:
        case_data_check(schema=INVOICE, data={"amount": "lots"})

    assert caught.value.messages == [
        "amount: 'lots' is not a number",
        "currency: is required",
        "due_date: is required",
    ]
    assert [(e.field, e.message) for e in caught.value.errors][0] == (
        "amount",
        "'lots' is not a number",
    )


# ---------------------------------------------------------------------------------------------
# The schema as a schema


def test_a_usable_schema_has_no_errors():
    assert case_schema_errors(INVOICE) == []
    assert case_schema_errors({}) == []


@pytest.mark.parametrize(
    ("schema", "error"),
    [
        ([1, 2], SCHEMA_NOT_OBJECT),
        ({"type": "array"}, SCHEMA_NOT_FOR_OBJECTS),
        (
            {"type": "object", "properties": {"amount": {"type": "nmber"}}},
            "In the case schema at properties.amount.type: 'nmber' is not a JSON Schema type "
            "(use one of: number, integer, string, boolean, object, array, null).",
        ),
        (
            {"type": "object", "required": "amount"},
            "In the case schema at required: 'amount' is not of type 'array'.",
        ),
        (
            {"type": "object", "properties": {"due": {"type": "string", "format": "dat"}}},
            "In the case schema at properties.due: the format 'dat' is unknown "
            "(known: date, email, ipv4, ipv6, time, uuid).",
        ),
        (
            {"type": "object", "properties": {"vendor": {"$ref": "#/$defs/vendor"}}},
            "In the case schema at properties.vendor: $ref '#/$defs/vendor' points to nothing "
            "in the schema.",
        ),
    ],
)
def test_a_broken_schema_is_named_with_what_is_wrong_and_where(schema, error):
    assert case_schema_errors(schema) == [error]


def test_a_property_called_format_is_a_field_not_a_format():
    schema = {"type": "object", "properties": {"format": {"type": "string"}}}

    assert case_schema_errors(schema) == []


@pytest.mark.django_db
def test_saving_a_version_with_a_broken_schema_is_refused_on_the_field():
    version = VersionFactory(published_at=None, case_schema={"type": "object", "required": 1})

    with pytest.raises(ValidationError) as caught:
        version.full_clean()

    assert caught.value.message_dict == {
        "case_schema": ["In the case schema at required: 1 is not of type 'array'."]
    }


@pytest.mark.django_db
def test_publishing_refuses_a_broken_schema():
    version = VersionFactory(published_at=None, case_schema={"type": "array"})
    StepFactory(version=version)

    with pytest.raises(ValueError, match="case schema: The case schema must describe a JSON"):
        version_publish(version=version)

    version.refresh_from_db()
    assert not version.is_published


@pytest.mark.django_db
def test_a_copied_version_keeps_the_schema():
    version = VersionFactory(case_schema=INVOICE)

    copy = version_copy(version=version)

    assert copy.case_schema == INVOICE


# ---------------------------------------------------------------------------------------------
# Admin


@pytest.fixture
def admin_client(client, db):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def version_form(version, case_schema: str) -> dict:
    return {
        "workflow": version.workflow_id,
        "number": version.number,
        "note": "edited",
        "case_schema": case_schema,
        "steps-TOTAL_FORMS": "0",
        "steps-INITIAL_FORMS": "0",
    }


def test_admin_shows_what_is_wrong_in_a_draft_versions_schema(admin_client):
    version = VersionFactory(published_at=None)
    url = f"/admin/workflows/workflowversion/{version.pk}/change/"

    response = admin_client.post(
        url, version_form(version, '{"type": "object", "properties": {"a": {"type": "nmber"}}}')
    )

    assert response.status_code == 200
    assert "&#x27;nmber&#x27; is not a JSON Schema type" in response.content.decode()
    version.refresh_from_db()
    assert version.case_schema == {}


def test_admin_saves_a_valid_schema_on_a_draft_version_and_blank_means_none(admin_client):
    version = VersionFactory(published_at=None)
    url = f"/admin/workflows/workflowversion/{version.pk}/change/"

    response = admin_client.post(url, version_form(version, '{"type": "object"}'))
    assert response.status_code == 302
    version.refresh_from_db()
    assert version.case_schema == {"type": "object"}

    response = admin_client.post(url, version_form(version, ""))
    assert response.status_code == 302
    version.refresh_from_db()
    assert version.case_schema == {}


def test_a_published_versions_schema_is_read_only_in_admin(admin_client):
    version = VersionFactory(case_schema=INVOICE)
    url = f"/admin/workflows/workflowversion/{version.pk}/change/"

    page = admin_client.get(url)
    response = admin_client.post(url, version_form(version, '{"type": "object"}'))

    assert 'name="case_schema"' not in page.content.decode()
    assert response.status_code == 302
    assert WorkflowVersion.objects.get(pk=version.pk).case_schema == INVOICE
