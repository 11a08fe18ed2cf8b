"""Actions through the views: each a POST that calls one service and answers with the panel
(htmx) or a redirect (plain form); conflicts are 409 with who has it, bad input 422."""

import re

import pytest

from apps.escalations.models import Comment, Escalation
from apps.runs.models import Run, RunEvent, StepAttempt
from apps.runs.services import run_start
from tests.escalations.factories import escalate, htmx

pytestmark = pytest.mark.django_db

HOLDER = r"Claimed by {} at \d\d:\d\d\."


def post(client, escalation, action, data=None, **params):
    url = f"/inbox/{escalation.pk}/{action}/"
    if params:
        url += "?" + "&".join(f"{k}={v}" for k, v in params.items())
    return client.post(url, data or {}, headers=htmx())


def fresh(escalation) -> Escalation:
    return Escalation.objects.get(pk=escalation.pk)


@pytest.fixture
def escalation(workflow):
    return escalate(workflow, "INV-1")


# ---------------------------------------------------------------------------------------------
# Claim, release, assign, comment


def test_claim_answers_the_panel_and_tells_the_page_it_changed(client, member, escalation):
    client.force_login(member)

    response = post(client, escalation, "claim", tab="all")

    assert response.status_code == 200
    assert response["HX-Trigger"] == "escalationChanged"
    html = response.content.decode()
    assert html.lstrip().startswith('<aside id="inbox-panel"')
    assert "You have the case now." in html
    assert 'Olivia Stone <span class="you">you</span>' in html
    assert f'hx-post="/inbox/{escalation.pk}/release/?tab=all"' in html
    assert fresh(escalation).assignee == member
    assert escalation.run.events.filter(kind=RunEvent.Kind.CLAIMED, actor=member).count() == 1


def test_a_plain_post_is_redirected_back_to_the_case_keeping_the_list_query(
    client, member, escalation
):
    client.force_login(member)

    response = client.post(f"/inbox/{escalation.pk}/claim/?tab=mine&sort=-priority")

    assert response.status_code == 302
    assert response["Location"] == f"/inbox/{escalation.pk}/?tab=mine&sort=-priority"
    page = client.get(response["Location"]).content.decode()
    assert "You have the case now." in page  # the message, on the next page


def test_a_second_claim_is_refused_with_409_naming_the_holder(client, member, teammate, escalation):
    client.force_login(teammate)
    assert post(client, escalation, "claim").status_code == 200
    client.force_login(member)

    response = post(client, escalation, "claim")

    assert response.status_code == 409
    assert response["HX-Trigger"] == "escalationChanged"
    html = response.content.decode()
    alert = r'<div class="alert alert--error panel__alert" role="alert"><p>'
    assert re.search(alert + HOLDER.format("Ana Ruiz"), html)
    assert html.lstrip().startswith('<aside id="inbox-panel"')
    assert fresh(escalation).assignee == teammate


def test_a_conflict_on_a_plain_post_shows_the_page_with_the_message(
    client, member, teammate, escalation
):
    client.force_login(teammate)
    post(client, escalation, "claim")
    client.force_login(member)

    response = client.post(f"/inbox/{escalation.pk}/claim/")

    assert response.status_code == 409
    html = response.content.decode()
    assert html.startswith("<!doctype html>")
    assert re.search(HOLDER.format("Ana Ruiz"), html)


def test_release_gives_the_case_back_and_only_its_holder_can(client, member, teammate, escalation):
    client.force_login(member)
    post(client, escalation, "claim")
    client.force_login(teammate)

    refused = post(client, escalation, "release")

    assert refused.status_code == 409
    assert re.search(HOLDER.format("Olivia Stone"), refused.content.decode())
    client.force_login(member)
    released = post(client, escalation, "release")
    assert released.status_code == 200
    assert "Released: the case is back in the team&#x27;s queue." in released.content.decode()
    assert fresh(escalation).status == Escalation.Status.OPEN
    assert fresh(escalation).assignee is None


def test_assign_hands_the_case_to_a_teammate(client, member, teammate, escalation):
    client.force_login(member)

    response = post(client, escalation, "assign", {"assignee": teammate.pk})

    assert response.status_code == 200
    assert "Assigned to Ana Ruiz." in response.content.decode()
    assert fresh(escalation).assignee == teammate
    assert fresh(escalation).status == Escalation.Status.CLAIMED


def test_assign_to_someone_outside_the_team_is_refused_next_to_the_field(
    client, member, outsider, escalation
):
    client.force_login(member)

    response = post(client, escalation, "assign", {"assignee": outsider.pk})

    assert response.status_code == 422
    error = f'<p class="field__error" id="assign-error-{escalation.pk}">'
    assert error + "Choose someone from the team.</p>" in response.content.decode()
    assert fresh(escalation).assignee is None


def test_comment_is_posted_and_listed(client, member, escalation):
    client.force_login(member)

    response = post(client, escalation, "comment", {"text": "  Called the vendor.\nNo answer. "})

    assert response.status_code == 200
    html = response.content.decode()
    assert "Called the vendor.<br>No answer." in html
    assert f'<h3 id="comments-title-{escalation.pk}">Comments <span class="muted">1</span>' in html
    assert Comment.objects.get().author == member
    assert escalation.run.events.filter(kind=RunEvent.Kind.COMMENTED).count() == 1


def test_an_empty_comment_is_refused_next_to_the_field(client, member, escalation):
    client.force_login(member)

    response = post(client, escalation, "comment", {"text": "   "})

    assert response.status_code == 422
    assert '<p class="field__error">Write something before posting a comment.</p>' in (
        response.content.decode()
    )
    assert not Comment.objects.exists()


# ---------------------------------------------------------------------------------------------
# Resolutions


def test_resume_with_an_edited_field_lets_a_real_worker_complete_the_run(
    client, drain, member, workflow
):
    run, _ = run_start(
        workflow=workflow, external_id="INV-9", data={"amount": 5000, "vendor": "ACME"}
    )
    drain()
    escalation = Escalation.objects.get(run=run)
    client.force_login(member)
    assert "INV-9" in client.get("/inbox/", {"tab": "unassigned"}).content.decode()
    post(client, escalation, "claim")
    assert "INV-9" in client.get("/inbox/", {"tab": "mine"}).content.decode()

    response = post(
        client,
        escalation,
        "resolve",
        {"resolution": "resumed", "data.amount": "800", "data.vendor": "ACME", "note": ""},
    )

    assert response.status_code == 200
    assert response["HX-Trigger"] == "escalationChanged"
    assert "Resolved: Resumed after editing data." in response.content.decode()
    drain()
    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED
    assert run.data == {"amount": 800, "vendor": "ACME"}
    assert fresh(escalation).resolution == Escalation.Resolution.RESUMED
    for tab in ("unassigned", "mine"):
        assert "INV-9" not in client.get("/inbox/", {"tab": tab}).content.decode()
    # The diff is on the timeline: field, old, new, and who.
    html = client.get(f"/inbox/{escalation.pk}/", headers=htmx()).content.decode()
    assert re.search(
        r'<li class="timeline__item timeline__item--resolved"[^>]*>.*?'
        r'<code class="diff__field">amount</code> <del class="diff__old">5000</del>'
        r' <span aria-hidden="true">→</span> <ins class="diff__new">800</ins>.*?'
        r'<span class="timeline__actor">olivia</span>',
        html,
        re.S,
    )
    assert "Completed" in html


def test_resume_without_edits_passes_no_changes(client, member, escalation):
    client.force_login(member)

    response = post(
        client,
        escalation,
        "resolve",
        {"resolution": "resumed", "data.amount": "5000", "data.vendor": "ACME"},
    )

    assert response.status_code == 200
    event = escalation.run.events.get(kind=RunEvent.Kind.RESOLVED)
    assert event.detail["diff"] == []


def test_a_value_that_does_not_read_as_the_fields_type_is_refused_next_to_it(
    client, member, escalation
):
    client.force_login(member)

    response = post(client, escalation, "resolve", {"resolution": "resumed", "data.amount": "lots"})

    assert response.status_code == 422
    html = response.content.decode()
    assert re.search(
        r'name="data.amount" value="lots"[^>]*>\s*<p class="field__error">'
        r"&#x27;lots&#x27; is not a valid int: ",
        html,
    )
    assert fresh(escalation).status == Escalation.Status.OPEN


def test_edits_with_a_resolution_that_would_drop_them_are_refused(client, member, escalation):
    client.force_login(member)

    response = post(client, escalation, "resolve", {"resolution": "retried", "data.amount": "900"})

    assert response.status_code == 422
    assert "only “Resume” keeps the edits" in response.content.decode()
    assert fresh(escalation).status == Escalation.Status.OPEN


def test_retry_sends_the_step_back_to_the_engine(client, member, escalation):
    client.force_login(member)

    response = post(client, escalation, "resolve", {"resolution": "retried"})

    assert response.status_code == 200
    escalation.run.refresh_from_db()
    assert escalation.run.status == Run.Status.RUNNING
    assert escalation.run.attempts.filter(status=StepAttempt.Status.QUEUED).count() == 1


NO_MINUTES = "Give the minutes the case took by hand."


@pytest.mark.parametrize(
    "resolution, data, errors",
    [
        ("skipped", {}, {"note": "Say why the step is skipped."}),
        ("done_by_hand", {}, {"note": "Say what was done by hand.", "minutes": NO_MINUTES}),
        ("done_by_hand", {"note": "Keyed into the ERP.", "minutes": "0"}, {"minutes": NO_MINUTES}),
        ("cancelled", {}, {"note": "Say why the case is cancelled."}),
    ],
)
def test_resolutions_that_need_a_note_or_minutes_say_so_next_to_the_field(
    client, member, escalation, resolution, data, errors
):
    client.force_login(member)

    response = post(client, escalation, "resolve", {"resolution": resolution, **data})

    assert response.status_code == 422
    html = response.content.decode()
    for field, message in errors.items():
        after_the_field = r"[^>]*>[^<]*(</textarea>)?\s*"
        error = f'<p class="field__error">{message}</p>'
        assert re.search(f'name="{field}"' + after_the_field + error, html), field
    assert fresh(escalation).status == Escalation.Status.OPEN


@pytest.mark.parametrize(
    "resolution, data, run_status",
    [
        ("skipped", {"note": "Checked by phone."}, Run.Status.COMPLETED_SKIPPED),
        ("done_by_hand", {"note": "Keyed into the ERP.", "minutes": "12.5"}, Run.Status.COMPLETED),
        ("cancelled", {"note": "Duplicate invoice."}, Run.Status.CANCELLED),
    ],
)
def test_skip_by_hand_and_cancel_finish_the_step_or_the_case(
    client, member, escalation, resolution, data, run_status
):
    client.force_login(member)

    response = post(client, escalation, "resolve", {"resolution": resolution, **data})

    assert response.status_code == 200
    resolved = fresh(escalation)
    assert resolved.resolution == resolution
    assert resolved.note == data["note"]
    escalation.run.refresh_from_db()
    assert escalation.run.status == run_status
    html = response.content.decode()
    assert f"<strong>{resolved.get_resolution_display()}</strong> by Olivia Stone" in html
    if resolution == "done_by_hand":
        assert str(resolved.human_minutes) == "12.50"
        assert "12.5 min of a person's time" in html


def test_resolving_a_resolved_escalation_is_a_409_naming_who_did(
    client, member, teammate, escalation
):
    client.force_login(teammate)
    post(client, escalation, "resolve", {"resolution": "cancelled", "note": "Duplicate."})
    client.force_login(member)

    response = post(client, escalation, "resolve", {"resolution": "retried"})

    assert response.status_code == 409
    assert re.search(
        r"Already resolved by Ana Ruiz at \d\d:\d\d \(Case cancelled\)\.", response.content.decode()
    )


def test_resolving_a_case_someone_else_holds_is_a_409(client, member, teammate, escalation):
    client.force_login(teammate)
    post(client, escalation, "claim")
    client.force_login(member)

    response = post(client, escalation, "resolve", {"resolution": "retried"})

    assert response.status_code == 409
    assert re.search(HOLDER.format("Ana Ruiz"), response.content.decode())
    assert fresh(escalation).status == Escalation.Status.CLAIMED


def test_a_missing_field_the_bound_reads_can_be_filled_in(client, drain, member, workflow):
    run, _ = run_start(workflow=workflow, external_id="INV-10", data={"vendor": "ACME"})
    drain()
    escalation = Escalation.objects.get(run=run)
    client.force_login(member)
    html = client.get(f"/inbox/{escalation.pk}/", headers=htmx()).content.decode()
    assert re.search(r'name="data.amount" value="" placeholder="the value', html)

    post(client, escalation, "resolve", {"resolution": "resumed", "data.amount": "250"})
    drain()

    run.refresh_from_db()
    assert run.data == {"vendor": "ACME", "amount": 250}
    assert run.status == Run.Status.COMPLETED


def test_actions_are_post_only(client, member, escalation):
    client.force_login(member)
    for action in ("claim", "release", "assign", "comment", "resolve"):
        assert client.get(f"/inbox/{escalation.pk}/{action}/").status_code == 405
    assert client.get("/inbox/bulk/").status_code == 405
