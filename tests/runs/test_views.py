import pytest
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from apps.accounts.roles import SUPERVISOR
from apps.escalations.models import Escalation
from apps.runs.models import Run, RunEvent, StepAttempt
from apps.runs.services import run_hand_over, run_lock, run_start
from tests.factories import TeamFactory, UserFactory, workflow_with_steps
from tests.http_target import Reply

pytestmark = pytest.mark.django_db


def start(workflow, external_id: str, data=None, **kwargs) -> Run:
    # Under the `db` fixture on_commit never fires, so nothing is enqueued: rows only.
    run, _ = run_start(
        workflow=workflow, external_id=external_id, data=data or {"amount": 1}, **kwargs
    )
    return run


@pytest.fixture
def team():
    return TeamFactory(name="Accounts payable", slug="ap")


@pytest.fixture
def member(team):
    return UserFactory(username="olivia", team=team, role="operator")


@pytest.fixture
def workflow(team):
    return workflow_with_steps(
        {"action": "rules.check", "name": "Check amount"}, team=team, name="Invoice approval"
    )


@pytest.fixture
def other_workflow():
    return workflow_with_steps(
        {"action": "rules.check"},
        team=TeamFactory(name="Claims", slug="claims"),
        name="Claims intake",
    )


@pytest.mark.parametrize("url", ["/", "/runs/", "/runs/1/", "/escalations/"])
def test_anonymous_user_is_sent_to_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


def test_sign_in_page_renders_and_signs_in_to_the_run_list(client, member):
    page = client.get(reverse("login"))
    assert page.status_code == 200
    assert b'name="csrfmiddlewaretoken"' in page.content
    assert b"Sign in" in page.content

    response = client.post(reverse("login"), {"username": "olivia", "password": "pw"})

    assert response.status_code == 302
    assert response["Location"] == reverse("runs:list")
    assert client.get(reverse("runs:list")).wsgi_request.user == member


def test_sign_in_with_a_wrong_password_says_so(client, member):
    response = client.post(reverse("login"), {"username": "olivia", "password": "nope"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content


def test_layout_has_nav_user_post_sign_out_and_htmx_from_static(client, member):
    client.force_login(member)
    html = client.get(reverse("runs:list")).content.decode()
    assert 'href="/inbox/"' in html
    assert "olivia" in html
    assert f'<form method="post" action="{reverse("logout")}"' in html
    assert """hx-headers='{"X-CSRFToken": """ in html
    assert "/static/django_htmx/htmx-2.min.js" in html
    assert "/static/css/handoff.css" in html
    assert 'href="/admin/"' not in html


def test_admin_link_is_shown_to_staff_only(client):
    client.force_login(UserFactory(is_staff=True))
    assert b'href="/admin/"' in client.get(reverse("runs:list")).content


def test_sign_out_is_a_post_that_ends_the_session(client, member):
    client.force_login(member)
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("runs:list")).status_code == 302


def test_run_list_shows_only_runs_of_the_users_teams(client, member, workflow, other_workflow):
    start(workflow, "INV-1")
    start(other_workflow, "CLM-1")
    client.force_login(member)

    response = client.get(reverse("runs:list"))

    assert response.status_code == 200
    assert b"INV-1" in response.content
    assert b"CLM-1" not in response.content


def test_root_url_is_the_run_list(client, member, workflow):
    start(workflow, "INV-1")
    client.force_login(member)
    assert b"INV-1" in client.get("/").content


def test_user_without_a_team_sees_no_runs(client, workflow):
    start(workflow, "INV-1")
    client.force_login(UserFactory())
    response = client.get(reverse("runs:list"))
    assert b"INV-1" not in response.content
    assert b"No runs match these filters." in response.content


def test_supervisors_see_runs_of_every_team(client, workflow, other_workflow):
    start(workflow, "INV-1")
    start(other_workflow, "CLM-1")
    client.force_login(UserFactory(role=SUPERVISOR))

    response = client.get(reverse("runs:list"))

    assert b"INV-1" in response.content
    assert b"CLM-1" in response.content


def test_staff_status_alone_shows_only_runs_of_the_users_teams(
    client, member, workflow, other_workflow
):
    start(workflow, "INV-1")
    run = start(other_workflow, "CLM-1")
    member.is_staff = True
    member.save()
    client.force_login(member)

    response = client.get(reverse("runs:list"))

    assert b"INV-1" in response.content
    assert b"CLM-1" not in response.content
    assert client.get(run.get_absolute_url()).status_code == 404


def test_run_list_rows_link_to_the_detail_and_show_a_status_badge(client, member, workflow):
    run = start(workflow, "INV-1")
    client.force_login(member)
    html = client.get(reverse("runs:list")).content.decode()
    assert f'href="{run.get_absolute_url()}"' in html
    assert '<span class="badge badge--queued">Queued</span>' in html
    assert "Check amount" in html


def test_run_list_filters_by_case_status_workflow_and_source(client, member, team, workflow):
    second = workflow_with_steps({"action": "rules.check"}, team=team, name="Vendor onboarding")
    start(workflow, "INV-100")
    escalated = start(workflow, "INV-200")
    with transaction.atomic():
        run_hand_over(
            run=run_lock(run=escalated),
            reason=Escalation.Reason.MANUAL_REVIEW,
            summary="Look at it.",
        )
    start(second, "VEN-1", source=Run.Source.CSV)
    client.force_login(member)
    url = reverse("runs:list")

    def cases(**params) -> set[str]:
        html = client.get(url, params).content.decode()
        return {c for c in ("INV-100", "INV-200", "VEN-1") if c in html}

    assert cases() == {"INV-100", "INV-200", "VEN-1"}
    assert cases(external_id="inv-1") == {"INV-100"}
    assert cases(status="escalated") == {"INV-200"}
    assert cases(workflow=second.pk) == {"VEN-1"}
    assert cases(source="csv") == {"VEN-1"}


def test_run_list_workflow_filter_offers_only_visible_workflows(
    client, member, workflow, other_workflow
):
    client.force_login(member)
    html = client.get(reverse("runs:list")).content.decode()
    assert "Invoice approval" in html
    assert "Claims intake" not in html


def test_run_list_sorts_by_case(client, member, workflow):
    for case in ("B-2", "A-1", "C-3"):
        start(workflow, case)
    client.force_login(member)

    html = client.get(reverse("runs:list"), {"sort": "external_id"}).content.decode()

    assert html.index("A-1") < html.index("B-2") < html.index("C-3")


def test_run_list_paginates_by_25(client, member, workflow):
    for n in range(30):
        start(workflow, f"CASE-{n:02d}")
    client.force_login(member)

    first = client.get(reverse("runs:list"), {"sort": "external_id"}).content.decode()
    second = client.get(reverse("runs:list"), {"sort": "external_id", "page": 2}).content.decode()

    assert "CASE-24" in first and "CASE-25" not in first
    assert "CASE-25" in second and "CASE-29" in second
    assert "30 runs" in first


def _queries_for(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("sees_all", [False, True])
def test_run_list_query_count_does_not_grow_with_rows(client, member, workflow, sees_all):
    if sees_all:
        member.groups.add(Group.objects.get(name=SUPERVISOR))
    for n in range(5):
        start(workflow, f"A-{n}")
    client.force_login(member)
    few = _queries_for(client, reverse("runs:list"))

    for n in range(25):
        start(workflow, f"B-{n}")
    many = _queries_for(client, reverse("runs:list"))

    assert many == few
    assert few <= 8


def test_run_detail_of_another_teams_run_is_404(client, member, other_workflow):
    run = start(other_workflow, "CLM-1")
    client.force_login(member)
    assert client.get(run.get_absolute_url()).status_code == 404


def test_run_detail_of_a_missing_run_is_404(client, member):
    client.force_login(member)
    assert client.get(reverse("runs:detail", args=[999_999])).status_code == 404


def test_run_detail_shows_case_data_readably(client, member, workflow):
    run = start(
        workflow,
        "INV-1",
        data={"amount": 120, "vendor": {"name": "ACME", "country": "DE"}, "approved": True},
    )
    client.force_login(member)

    html = client.get(run.get_absolute_url()).content.decode()

    assert "INV-1" in html
    assert "Invoice approval" in html and "v1" in html
    assert '<th scope="row">amount</th>' in html
    assert '<pre class="json">{\n  &quot;name&quot;: &quot;ACME&quot;' in html
    assert "<td>true</td>" in html


def test_run_detail_of_an_escalated_run_shows_summary_attempts_and_timeline(client, drain):
    team = TeamFactory(name="AP", slug="ap-real")
    member = UserFactory(username="eve", team=team)
    workflow = workflow_with_steps(
        {"action": "data.set", "name": "Compute total", "config": {"set": {"total": "amount * 2"}}},
        {"action": "rules.check", "name": "Check limit", "bounds": ["total <= 100"]},
        team=team,
        name="Payments",
    )
    run, _ = run_start(workflow=workflow, external_id="PAY-9", data={"amount": 400})
    drain()
    run.refresh_from_db()
    assert run.status == Run.Status.ESCALATED
    escalation = run.escalations.get()
    client.force_login(member)

    response = client.get(run.get_absolute_url())

    html = response.content.decode()
    assert response.status_code == 200
    assert "This case needs a person" in html
    assert escape(escalation.summary) in html
    assert '<span class="reason reason--out_of_bounds">Out of bounds</span>' in html
    # Steps of the pinned version with their state.
    steps = html[html.index('id="steps-title"') : html.index('id="data-title"')]
    assert steps.index("Compute total") < steps.index("Check limit")
    assert '<span class="badge badge--succeeded">Done</span>' in html
    assert '<span class="badge badge--escalated">With a person</span>' in html
    # Attempts, with the error and its folded traceback.
    for attempt in run.attempts.all():
        assert f'id="attempt-{attempt.pk}"' in html
    failed = run.attempts.get(status=StepAttempt.Status.FAILED)
    assert failed.error_code in html
    assert "<summary>Traceback</summary>" in html
    # The timeline, in order, by the system.
    events = list(run.events.order_by("at", "id"))
    assert [e.kind for e in events][0] == RunEvent.Kind.CREATED
    assert events[-1].kind == RunEvent.Kind.ESCALATED
    positions = [html.index(f'id="event-{e.pk}"') for e in events]
    assert positions == sorted(positions)
    assert "system" in html


def test_run_detail_names_the_person_who_acted_on_the_timeline(client, member, workflow):
    from apps.runs.services import event_append

    run = start(workflow, "INV-1")
    event_append(run=run, kind=RunEvent.Kind.COMMENTED, actor=member, message="Called the vendor.")
    client.force_login(member)

    html = client.get(run.get_absolute_url()).content.decode()

    assert "Called the vendor." in html
    assert '<span class="timeline__actor">olivia</span>' in html


@pytest.mark.parametrize(
    "column", ["external_id", "workflow", "status", "current_step", "created_at", "-updated_at"]
)
def test_run_list_sorts_by_every_column(client, member, workflow, column):
    start(workflow, "INV-1")
    client.force_login(member)
    response = client.get(reverse("runs:list"), {"sort": column})
    assert response.status_code == 200
    assert b"INV-1" in response.content


def test_run_detail_tells_a_persons_retry_from_an_automatic_one(client, member, team, http_target):
    from apps.escalations.services import escalation_resolve
    from apps.runs.services import attempt_execute

    http_target.default = Reply(503)
    workflow = workflow_with_steps(
        {
            "action": "http.request",
            "name": "Book payment",
            "config": {"url": f"{http_target.url}/book"},
            "max_attempts": 2,
            "initial_interval_s": 60,
            "max_interval_s": 60,
        },
        team=team,
    )
    run = start(workflow, "INV-7")
    client.force_login(member)
    badge = '<span class="badge badge--{}">{}</span>'

    attempt_execute(attempt_id=run.attempts.get().pk)  # 503: the policy retries in 60 s

    html = client.get(run.get_absolute_url()).content.decode()
    assert badge.format("waiting_retry", "Waiting to retry") in html

    attempt_execute(attempt_id=run.attempts.get(status=StepAttempt.Status.QUEUED).pk)
    escalation_resolve(
        escalation=run.escalations.get(), user=member, resolution=Escalation.Resolution.RETRIED
    )

    retry = run.attempts.get(status=StepAttempt.Status.QUEUED)
    assert (retry.number, retry.try_number) == (3, 1)
    html = client.get(run.get_absolute_url()).content.decode()
    assert badge.format("queued", "Queued again by a person") in html
    assert "Waiting to retry" not in html
