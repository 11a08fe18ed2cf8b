"""The discovery pages and the discovery API."""

import json
from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from apps.discovery.models import EventLog, Observation, ProcessMap
from apps.discovery.services import event_log_import
from tests.discovery.conftest import SMALL_LOG, SMALL_MAPPING, events_csv, import_bytes
from tests.discovery.factories import ObservationFactory, ProcessMapFactory
from tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_in(client, implementer):
    client.force_login(implementer)
    return client


@pytest.fixture
def operator(team):
    return UserFactory(username="otto", team=team)


def test_anonymous_user_is_sent_to_sign_in(client, process_map):
    for url in ["/discovery/", f"/discovery/{process_map.slug}/"]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_list_shows_only_the_maps_of_my_teams(client_in, process_map):
    other = ProcessMapFactory(name="Claims", team=TeamFactory(name="Claims"))
    page = client_in.get(reverse("discovery:list")).content.decode()
    assert "Ticket handling" in page
    assert "Claims" not in page
    assert client_in.get(reverse("discovery:map", args=[other.slug])).status_code == 404


def test_implementer_creates_a_map(client_in, team, implementer):
    response = client_in.post(
        reverse("discovery:map_create"),
        {
            "name": "Invoice intake",
            "team": team.pk,
            "owner": implementer.pk,
            "status": "mapping",
            "description": "From the mailbox to the ERP.",
        },
    )
    process_map = ProcessMap.objects.get(name="Invoice intake")
    assert response["Location"] == process_map.get_absolute_url()
    assert (process_map.slug, process_map.team, process_map.owner) == (
        "invoice-intake",
        team,
        implementer,
    )


def test_an_operator_may_not_create_maps_or_import_logs(client, operator, process_map):
    client.force_login(operator)
    assert client.get(reverse("discovery:map_create")).status_code == 403
    assert client.get(reverse("discovery:log_upload", args=[process_map.slug])).status_code == 403


def test_map_page_without_a_log_invites_an_import(client_in, process_map):
    page = client_in.get(process_map.get_absolute_url()).content.decode()
    assert "No event log to mine yet" in page
    assert reverse("discovery:log_upload", args=[process_map.slug]) in page


def test_map_page_shows_the_graph_findings_and_variants(client_in, small_log, process_map):
    ObservationFactory(
        process_map=process_map, activity="b", kind="workaround", text="Bob re-keys the form"
    )
    response = client_in.get(process_map.get_absolute_url())
    page = response.content.decode()
    assert "the longest typical wait is between <q>b</q> and <q>c</q>" in page
    assert "median <strong>30.0 min</strong> (mean 36.7 min)" in page
    assert "<q>b</q> is done again in 1 case (25.0%)" in page
    assert "Bob re-keys the form" in page
    graph = response.context["page"].graph
    assert {n["id"] for n in graph["nodes"]} == {"a", "b", "c"}
    assert next(n for n in graph["nodes"] if n["id"] == "b")["observations"][0]["kind"] == (
        "Workaround"
    )
    assert graph["bottleneck"] == ["b", "c"]
    assert 'id="map-data"' in page
    assert "/static/vendor/cytoscape-3.34.4/cytoscape.min.js" in page
    assert 'src="http' not in page  # nothing from a CDN


def test_cases_behind_an_activity_and_an_edge(client_in, small_log, process_map):
    url = reverse("discovery:map_cases", args=[process_map.slug])
    node = client_in.get(url, {"log": small_log.pk, "activity": "b"})
    assert node.context["behind"].total == 3
    assert [r.case_id for r in node.context["behind"].rows] == ["B", "A", "D"]  # B twice
    edge = client_in.get(url, {"log": small_log.pk, "from": "b", "to": "c"})
    behind = edge.context["behind"]
    # Slowest first: B waits 60 min, D 30, A 20.
    assert [(r.case_id, r.wait_s) for r in behind.rows] == [
        ("B", 3600.0),
        ("D", 1800.0),
        ("A", 1200.0),
    ]
    assert "b → c" in edge.content.decode()


def test_observations_are_added_filtered_edited_and_deleted(client_in, process_map, implementer):
    url = reverse("discovery:observations", args=[process_map.slug])
    response = client_in.post(
        url,
        {
            "kind": "bottleneck",
            "activity": "Approve",
            "text": "Waits for the manager",
            "times_per_week": "12",
            "minutes_each": "15",
            "observed_by": implementer.pk,
            "observed_on": "2024-03-04",
        },
    )
    assert response.status_code == 302
    observation = Observation.objects.get()
    assert observation.minutes_per_week == 180
    ObservationFactory(process_map=process_map, kind="note", text="Coffee machine broken")
    filtered = client_in.get(url, {"kind": "bottleneck"}).content.decode()
    assert "Waits for the manager" in filtered and "Coffee machine broken" not in filtered
    edit = reverse("discovery:observation_edit", args=[process_map.slug, observation.pk])
    client_in.post(
        edit,
        {
            "kind": "exception",
            "activity": "Approve",
            "text": "Manager on leave",
            "observed_on": "2024-03-05",
        },
    )
    observation.refresh_from_db()
    assert (observation.kind, observation.text) == ("exception", "Manager on leave")
    client_in.post(reverse("discovery:observation_delete", args=[process_map.slug, observation.pk]))
    assert not Observation.objects.filter(pk=observation.pk).exists()


def test_upload_a_csv_choose_columns_and_follow_the_progress(client_in, process_map):
    upload = SimpleUploadedFile("tickets.csv", events_csv(SMALL_LOG), content_type="text/csv")
    response = client_in.post(
        reverse("discovery:log_upload", args=[process_map.slug]), {"file": upload}
    )
    log = EventLog.objects.get()
    columns_url = reverse("discovery:log_mapping", args=[process_map.slug, log.pk])
    assert response["Location"] == columns_url
    mapping_page = client_in.get(columns_url).content.decode()
    assert "<th>case</th>" in mapping_page and "<td>ann</td>" in mapping_page
    response = client_in.post(columns_url, SMALL_MAPPING.as_dict())
    assert response["Location"] == log.get_absolute_url()
    log.refresh_from_db()
    assert (log.status, log.mapping) == (EventLog.Status.QUEUED, SMALL_MAPPING.as_dict())
    fragment = client_in.get(log.get_absolute_url(), HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 1s"' in fragment and "<progress" in fragment
    assert "<html" not in fragment
    event_log_import(log_id=log.pk)
    done = client_in.get(log.get_absolute_url(), HTTP_HX_REQUEST="true").content.decode()
    assert "12 events in 4 cases imported" in done and "every 1s" not in done


def test_the_same_column_twice_is_refused(client_in, process_map):
    log = import_bytes(process_map, events_csv(SMALL_LOG), mapping=None)  # default columns fail
    assert log.status == EventLog.Status.FAILED
    url = reverse("discovery:log_mapping", args=[process_map.slug, log.pk])
    response = client_in.post(url, {"case": "case", "activity": "case", "timestamp": "time"})
    assert "must be three different columns" in response.content.decode()


def test_an_empty_upload_is_refused_on_the_form(client_in, process_map):
    upload = SimpleUploadedFile("empty.csv", b" ", content_type="text/csv")
    response = client_in.post(
        reverse("discovery:log_upload", args=[process_map.slug]), {"file": upload}
    )
    assert "The file is empty (only blank space)." in response.content.decode()
    assert not EventLog.objects.exists()


def test_a_failed_log_shows_its_error(client_in, process_map):
    log = import_bytes(process_map, events_csv(SMALL_LOG) + b"Z,a,later,x\n", mapping=SMALL_MAPPING)
    page = client_in.get(log.get_absolute_url()).content.decode()
    assert "Line 14: the timestamp &#x27;later&#x27;" in page
    assert "Nothing from this file was kept." in page


@pytest.mark.parametrize("fmt", ["csv", "xes"])
def test_export_and_import_again_gives_the_same_discovery(client_in, small_log, process_map, fmt):
    response = client_in.get(
        reverse("discovery:log_export", args=[process_map.slug, small_log.pk, fmt])
    )
    data = b"".join(response.streaming_content)
    again = import_bytes(ProcessMapFactory(team=process_map.team), data, filename=f"x.{fmt}")
    assert again.status == EventLog.Status.READY, again.error
    assert again.discovery == small_log.discovery


def test_ideal_path_typed_in_then_a_deviation_accepted(client_in, small_log, process_map):
    url = reverse("discovery:conformance", args=[process_map.slug])
    client_in.post(url, {"source": "typed", "activities": "a\nb\nc\n"})
    process_map.refresh_from_db()
    assert process_map.ideal_paths == [["a", "b", "c"]]
    report = client_in.get(url).context["report"]
    assert (report.conforming, report.accepted) == (2, 2)
    client_in.post(
        reverse("discovery:deviation_toggle", args=[process_map.slug]),
        {"deviation": "repeated b", "accepted": "1"},
    )
    process_map.refresh_from_db()
    assert process_map.accepted_deviations == ["repeated b"]
    page = client_in.get(url)
    assert page.context["report"].accepted == 3
    assert "75.0%" in page.content.decode()
    cases = client_in.get(reverse("discovery:conformance_cases", args=[process_map.slug]))
    lines = b"".join(cases.streaming_content).decode().splitlines()
    assert lines[0] == "case,conforms,accepted,first_deviation,skipped,extra,repeated"
    assert "C,no,no,step 2: c instead of b,b,," in lines
    assert "B,no,yes,step 3: b instead of c,,,b" in lines


def test_ideal_path_from_chosen_variants(client_in, small_log, process_map):
    url = reverse("discovery:conformance", args=[process_map.slug])
    client_in.post(url, {"source": "variants", "variants": ["0", "2"]})
    process_map.refresh_from_db()
    assert process_map.ideal_paths == [["a", "b", "c"], ["a", "c"]]
    assert client_in.get(url).context["report"].conforming == 3


# ---------------------------------------------------------------------------------- API


def test_api_needs_a_session(client, small_log, process_map):
    response = client.get(f"/api/v1/process-maps/{process_map.slug}/discovery")
    assert response.status_code == 401
    assert response.json()["detail"].startswith("Sign in first")


def test_api_returns_what_the_command_prints(client_in, small_log, process_map):
    response = client_in.get(f"/api/v1/process-maps/{process_map.slug}/discovery")
    assert response.status_code == 200
    out = StringIO()
    call_command("discover", process_map.slug, "--json", stdout=out)
    assert response.json() == json.loads(out.getvalue())
    body = response.json()
    assert set(body) >= {
        "events",
        "cases",
        "activities",
        "edges",
        "start",
        "end",
        "variants",
        "bottleneck",
        "rework",
    }
    assert body["edges"][0] == {
        "from": "a",
        "to": "b",
        "count": 3,
        "cases": 3,
        "mean_s": 800.0,
        "median_s": 600.0,
    }


def test_api_answers_404_for_a_map_of_another_team_or_a_missing_log(client_in, small_log):
    other = ProcessMapFactory(team=TeamFactory(name="Other"))
    assert client_in.get(f"/api/v1/process-maps/{other.slug}/discovery").status_code == 404
    missing = client_in.get(f"/api/v1/process-maps/{small_log.process_map.slug}/discovery?log=999")
    assert missing.status_code == 404
    assert "no imported event log with id 999 ready" in missing.json()["detail"]


def test_the_intake_api_still_answers_its_own_paths(client):
    response = client.get("/api/v1/nowhere")
    assert response.status_code == 404
    assert response.json()["detail"] == "No such endpoint in the intake API."


def test_import_from_a_gzipped_csv_upload(client_in, process_map):
    import gzip

    upload = SimpleUploadedFile("t.csv.gz", gzip.compress(events_csv(SMALL_LOG)))
    client_in.post(reverse("discovery:log_upload", args=[process_map.slug]), {"file": upload})
    log = EventLog.objects.get()
    assert log.status == EventLog.Status.MAPPING
