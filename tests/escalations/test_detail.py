"""The detail panel: the error in plain words, the bound and its values, the case data as a
form, the run's timeline and attempts, the suggested action, comments."""

import re

import pytest

from apps.escalations.models import Escalation
from apps.runs.services import run_start
from tests.escalations.factories import escalate, htmx
from tests.factories import workflow_with_steps

pytestmark = pytest.mark.django_db


def panel(client, escalation, **params) -> str:
    response = client.get(f"/inbox/{escalation.pk}/", params, headers=htmx("inbox-panel"))
    assert response.status_code == 200
    return response.content.decode()


def test_a_real_out_of_bounds_case_reads_summary_first_then_bound_values_and_timeline(
    client, drain, member, team
):
    workflow = workflow_with_steps(
        {
            "key": "check",
            "name": "Check amount",
            "bounds": ["vendor != ''", "amount <= 1000"],
        },
        team=team,
        name="Invoice approval",
    )
    run, _ = run_start(
        workflow=workflow,
        external_id="INV-77",
        data={
            "amount": 5000,
            "rate": 0.25,
            "vendor": "ACME",
            "urgent": True,
            "lines": [{"sku": "A", "qty": 2}],
            "memo": None,
        },
    )
    drain()
    escalation = Escalation.objects.get(run=run)
    client.force_login(member)

    html = panel(client, escalation)

    assert "<html" not in html
    assert html.lstrip().startswith('<aside id="inbox-panel" class="inbox__panel is-open"')
    summary = html.index('class="panel__summary"')
    assert (
        "Check amount stopped the case: Bound `amount &lt;= 1000` does not hold: amount = 5000."
        in html
    )
    # The error in plain words comes before the technical detail, which is folded.
    assert summary < html.index('<details class="technical">')
    assert '<li class="bound bound--broken">\n          <code>amount &lt;= 1000</code>' in html
    assert '<li class="bound">\n          <code>vendor != &#x27;&#x27;</code>' in html
    assert re.search(r"<th scope=\"row\">amount</th><td><code>5000</code>", html)
    assert "Fix the field and resume." in html
    # Case data: one input per scalar field, typed; JSON for the nested ones.
    # (PostgreSQL's jsonb orders keys its own way: match each input, not their order.)
    assert re.search(r'type="number" id="field-\d" name="data.amount" value="5000" step="1"', html)
    assert re.search(r'type="number" id="field-\d" name="data.rate" value="0.25" step="any"', html)
    assert re.search(r'type="text" id="field-\d" name="data.vendor" value="ACME"', html)
    assert re.search(r'type="checkbox" id="field-\d" name="data.urgent" value="true" checked', html)
    lines = re.search(r'<textarea id="field-\d" name="data.lines"[^>]*>([^<]*)</textarea>', html)
    assert lines.group(1).startswith("[\n  {\n    &quot;")
    assert "&quot;sku&quot;: &quot;A&quot;" in lines.group(1)
    assert 'name="data.memo" value="" placeholder="empty"' in html
    assert "case-field--culprit" in html and "read by the bound" in html
    # The run's timeline and attempts, as on the run page.
    assert "Handed to a person" in html and "Step failed" in html and "Created" in html
    assert re.search(r'<tr id="attempt-\d+">\s*<td class="attempt-step">Check amount</td>', html)
    assert '<span class="error-kind error-kind--out_of_bounds">Out of bounds</span>' in html
    # The suggested resolution is preselected.
    assert 'name="resolution" value="resumed" checked' in html


def test_the_full_page_of_a_case_is_the_inbox_with_its_panel_open(client, member, workflow):
    escalation = escalate(workflow, "INV-1")
    client.force_login(member)

    html = client.get(f"/inbox/{escalation.pk}/", {"tab": "all"}).content.decode()

    assert html.startswith("<!doctype html>")
    assert "<title>Case INV-1 · Inbox · Handoff</title>" in html
    assert 'id="inbox-list"' in html
    assert (
        '<aside id="inbox-panel" class="inbox__panel is-open" aria-label="Case detail" '
        f'data-pk="{escalation.pk}">' in html
    )
    assert re.search(rf'<tr id="escalation-{escalation.pk}" class="is-active', html)
    assert 'href="/inbox/?tab=all"' in html  # close keeps the list as it was


def test_the_list_refreshing_under_an_open_case_gets_the_list_only(client, member, workflow):
    escalation = escalate(workflow, "INV-1")
    client.force_login(member)

    response = client.get(f"/inbox/{escalation.pk}/", {"tab": "all"}, headers=htmx("inbox-list"))

    html = response.content.decode()
    assert html.lstrip().startswith('<section id="inbox-list"')
    assert 'id="inbox-panel"' not in html
    assert re.search(rf'<tr id="escalation-{escalation.pk}" class="is-active', html)


def test_closing_the_panel_swaps_in_an_empty_one(client, member, workflow):
    escalate(workflow, "INV-1")
    client.force_login(member)

    html = client.get("/inbox/", {"tab": "all"}, headers=htmx("inbox-panel")).content.decode()

    assert html.strip() == (
        '<aside id="inbox-panel" class="inbox__panel" aria-label="Case detail">\n    \n  </aside>'
    )


def test_http_errors_show_the_response_and_the_traceback_folded(client, member, workflow):
    escalation = escalate(
        workflow,
        "INV-1",
        reason=Escalation.Reason.PERMANENT_ERROR,
        summary="Post to ERP failed and retrying would not help: erp refused the request: 422.",
        detail={
            "kind": "permanent",
            "code": "http_422",
            "request": {"method": "POST", "url": "http://erp/invoices/1", "body": {"amount": 5}},
            "response": {"status": 422, "body": '{"error": "vendor unknown"}'},
        },
    )
    client.force_login(member)

    html = panel(client, escalation)

    technical = html[html.index('<details class="technical">') :]
    assert "<code>http_422</code>" in technical
    assert "<code>POST http://erp/invoices/1</code>" in technical
    assert "<strong>422</strong>" in technical
    assert "{&quot;error&quot;: &quot;vendor unknown&quot;}" in technical
    assert "Check the data, then resume, or complete by hand." in html
    assert "bounds__list" not in html


@pytest.mark.parametrize(
    "reason, suggestion, preselected",
    [
        ("out_of_bounds", "Fix the field and resume.", "resumed"),
        ("retries_exhausted", "Retry the step when the other system is back.", "retried"),
        ("timeout", "Retry the step when the other system is back.", "retried"),
        ("permanent_error", "Check the data, then resume, or complete by hand.", "resumed"),
        ("manual_review", "Decide, then resume or cancel.", "resumed"),
    ],
)
def test_each_reason_suggests_what_to_do_in_words(
    client, member, workflow, reason, suggestion, preselected
):
    escalation = escalate(workflow, "INV-1", reason=reason, summary="Something happened.")
    client.force_login(member)

    html = panel(client, escalation)

    assert f'<span class="suggestion__label">Suggested</span> {suggestion}' in html
    assert f'name="resolution" value="{preselected}" checked' in html


def test_a_case_without_a_step_offers_only_by_hand_and_cancel(client, member, workflow):
    escalation = escalate(workflow, "INV-1", reason=Escalation.Reason.MANUAL_REVIEW)
    Escalation.objects.filter(pk=escalation.pk).update(step=None)
    escalation.run.current_step = None
    escalation.run.save(update_fields=["current_step"])
    client.force_login(member)

    html = panel(client, escalation)

    assert re.findall(r'name="resolution" value="(\w+)"', html) == ["done_by_hand", "cancelled"]


def test_a_case_claimed_by_someone_else_shows_who_and_offers_no_resolve(
    client, member, teammate, workflow
):
    escalation = escalate(workflow, "INV-1")
    client.force_login(teammate)
    client.post(f"/inbox/{escalation.pk}/claim/", headers=htmx())
    client.force_login(member)

    html = panel(client, escalation)

    assert "Ana Ruiz has the case: only they can resolve it." in html
    assert 'id="resolve-form"' not in html
    assert 'name="data.amount" value="5000" step="1" readonly' in html
    assert "/release/" not in html
    assert f"/inbox/{escalation.pk}/assign/" in html


def test_the_assign_select_lists_the_escalations_team(client, member, teammate, outsider, workflow):
    escalation = escalate(workflow, "INV-1")
    client.force_login(member)

    html = panel(client, escalation)

    select = html[html.index(f'id="assign-{escalation.pk}"') :]
    select = select[: select.index("</select>")]
    assert f'<option value="{teammate.pk}">Ana Ruiz</option>' in select
    assert f'<option value="{member.pk}">Olivia Stone (you)</option>' in select
    assert "Carl" not in select


def test_an_unknown_escalation_is_404_without_a_trace(client, member):
    client.force_login(member)

    response = client.get("/inbox/987654/")

    assert response.status_code == 404
    assert b"Traceback" not in response.content
