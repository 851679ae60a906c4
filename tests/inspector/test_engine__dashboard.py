"""The Inspector's engine dashboard: the Grafana board's key figures for people without Grafana — throughput
and apply latency per minute from the database (this tenant's only), job hand-off from the Prometheus
histogram, queue depth, open incidents per type, workers — drawn on the server as SVG and refreshed live."""

from __future__ import annotations

import re
from datetime import UTC, timedelta

import pytest
from django.utils import timezone

from engine.actions.instances import start_instance
from engine.models import Incident, ProcessDefinition
from engine.queries import engine_dashboard
from flowsync.models import Membership
from inspector import charts
from tests.inspector.conftest import PASSWORD, Flow, make_user


def recent(flow):  # type: ignore[no-untyped-def]
    """The fixture's clock runs two hours behind; the dashboard looks at the last hour."""
    flow.clock = timezone.now() - timedelta(seconds=20)
    return flow


@pytest.mark.django_db
def test_throughput_and_latency_count_this_tenants_instances_and_commands(op_client, flow, other_flow,
                                                                          django_assert_max_num_queries):
    flow, other_flow = recent(flow), recent(other_flow)
    flow.deploy()
    other_flow.deploy()
    mine = [flow.start(f"M-{n}") for n in range(3)]
    flow.complete_charge(mine[0])
    for n in range(4):
        other_flow.start(f"T-{n}")

    board = engine_dashboard.dashboard(flow.ids, flow.tenant.tenant_id)
    assert len(board.minutes) == engine_dashboard.WINDOW_MINUTES
    assert sum(m.started for m in board.minutes) == 3  # the other tenant's four are not here
    applied = sum(m.commands for m in board.minutes)
    assert applied >= 4  # three starts and a job completion, at least
    latencies = [m.apply_p95 for m in board.minutes if m.apply_p95 is not None]
    assert latencies and all(p >= 0 for p in latencies)

    with django_assert_max_num_queries(20):  # a fixed set of statements, none per row or minute
        html = op_client.get("/inspector/engine/").content.decode()
    for series in ("commands", "started", "ended", "p50", "p95"):
        points = re.search(rf'data-series="{series}" points="([^"]*)"', html)
        assert points, series
        assert len(points.group(1).split()) == engine_dashboard.WINDOW_MINUTES
    peaks = dict(re.findall(r'data-line="(\w+)" data-last="[^"]*" data-peak="([^"]*)"', html))
    assert 1 <= float(peaks["started"]) <= 3 and float(peaks["commands"]) >= 1
    assert 'hx-trigger="every 10s"' in html and 'hx-select="#engine-live"' in html


@pytest.mark.django_db
def test_queue_depth_handoff_and_incidents_per_type(op_client, flow, other_flow):
    flow = recent(flow)
    flow.deploy()
    before = engine_dashboard.handoff().count
    stuck = flow.start("STUCK")
    flow.fail_to_incident(stuck)  # one activation, then a failure with no retries left: an incident
    definition = ProcessDefinition.objects.get(tenant=flow.tenant, bpmn_process_id="inspect-order")
    start_instance(flow.tenant, definition, {}, "starter", flow.now())  # written, not applied: pending

    board = engine_dashboard.dashboard(flow.ids, flow.tenant.tenant_id)
    assert board.handoff.count == before + 1
    assert sum(n for _, n in board.handoff.buckets) == board.handoff.count
    assert board.handoff.p95 is not None and board.handoff.p50 <= board.handoff.p95

    html = op_client.get("/inspector/engine/").content.decode()
    assert 'data-pending="1"' in html and "1 pending command," in html
    assert re.search(r'class="gauge__fill" x="0" y="0" width="0\.\d+"', html)  # 1 of 10 000: a sliver
    assert f'data-handoff-count="{before + 1}"' in html
    incident = re.search(r'<tr data-incident-type="([^"]+)">.*?<td>(\d+)</td>.*?width="([\d.]+)"', html, re.S)
    assert incident and incident.group(2) == "1" and float(incident.group(3)) == 100.0
    assert board.incidents_opened[-1][1] == 1 and len(board.incidents_opened) == engine_dashboard.INCIDENT_HOURS
    assert re.search(r'data-panel="incidents-opened".*?data-line="opened" data-last="1"', html, re.S)


def test_incidents_opened_per_hour_fall_in_the_hour_they_were_raised_for_this_tenant_only(flow, other_flow):
    flow.deploy()
    other_flow.deploy()
    for f, stamp in ((flow, "OLD"), (flow, "NEW"), (other_flow, "THEIRS")):
        f.fail_to_incident(f.start(stamp))
    now = timezone.now()
    old, new = Incident.objects.filter(tenant=flow.tenant).order_by("key")
    Incident.objects.filter(pk=old.pk).update(created_at=now - timedelta(hours=3))
    Incident.objects.filter(pk=new.pk).update(created_at=now)  # the flow's clock is its own
    Incident.objects.create(**{**_fields(old), "key": old.key + 10**9, "created_at": now - timedelta(hours=30)})

    hours = engine_dashboard.incidents_per_hour(flow.ids, now)
    assert [n for _, n in hours][-4:] == [1, 0, 0, 1]  # three hours ago, then this hour; other tenants' not
    assert sum(n for _, n in hours) == 2  # the one raised 30 hours ago is outside the day
    assert hours[-1][0] == now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _fields(incident: Incident) -> dict:  # type: ignore[type-arg]
    return {f.attname: getattr(incident, f.attname) for f in Incident._meta.concrete_fields}


def test_charts_scale_to_a_round_top_and_draw_one_point_per_value():
    assert [charts.nice_ceiling(v) for v in (0, 0.3, 1, 7, 12, 999, 1001)] == [1, 0.5, 1, 10, 20, 1000, 2000]
    chart = charts.line_chart([("a", "A", [0, 5, None, 10]), ("b", "B", [1, 1, 1, 1])])
    assert chart.top == 10
    a = [tuple(map(float, p.split(","))) for p in chart.lines[0].points.split()]
    assert a == [(0, 120), (200, 60), (400, 120), (600, 0)]  # a gap is drawn at zero; the peak touches the top
    assert chart.lines[0].last == 10 and chart.lines[1].peak == 1
    assert [b.width for b in charts.bars([("x", 2), ("y", 8), ("z", 0)])] == [25, 100, 0]
    assert charts.bars([("x", 0)])[0].width == 0
    assert charts.trim_zero_ends([("a", 0), ("b", 3), ("c", 0), ("d", 1), ("e", 0)]) == [("b", 3), ("c", 0), ("d", 1)]
    assert charts.trim_zero_ends([("a", 0)]) == []


@pytest.mark.browser
def test_dashboard_renders_and_refreshes_under_the_csp(live_server, transactional_db, creds, settings, page,
                                                       monkeypatch, screenshot):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    monkeypatch.setattr("inspector.views.DASHBOARD_SECONDS", 1)
    flow = recent(Flow(creds.tenant))
    flow.deploy()
    flow.fail_to_incident(flow.start("B-1"))
    make_user("olga", {creds.tenant: Membership.Role.OPERATOR})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}/accounts/login/?next=/inspector/engine/")
    page.fill("input[name=username]", "olga")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/inspector/engine/")
    for panel in ("throughput", "latency", "handoff", "queue"):
        assert page.locator(f"[data-panel={panel}]").is_visible()
    assert page.locator("polyline[data-series=started]").count() == 1
    box = page.locator("[data-panel=throughput] svg").bounding_box()
    assert box and box["width"] > 300 and box["height"] > 50  # drawn, not collapsed
    stamp = page.locator("[data-live-stamp]").inner_text()
    page.wait_for_function("s => document.querySelector('[data-live-stamp]').textContent !== s", arg=stamp,
                           timeout=5_000)  # htmx swapped the dashboard in again
    assert page.locator("tr[data-incident-type]").count() == 1
    screenshot(page, "inspector-engine-dashboard")
    assert errors == []
