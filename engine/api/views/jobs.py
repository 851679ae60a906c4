"""Jobs: long-poll activation, completion, failure, BPMN error, update, search."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from engine.actions import jobs as job_actions
from engine.actions.jobs import fail_job, throw_error, update_job
from engine.api import requests, shapes
from engine.api.base import ApiView, path_key, principal, readable, require_on, valid
from engine.api.search import Field, Spec
from engine.api.views.common import SearchView
from engine.backpressure import job_lag
from engine.models import Job
from engine.queries import work as q
from engine.queries.common import root_keys
from engine.rights import Right
from engine.store.notify import jobs_channel, wait_until
from flowsync.models import Tenant

DEFAULT_LONG_POLL_MS = 10_000
MAX_LONG_POLL_MS = 60_000


def long_poll_seconds(request_timeout: int | None) -> float:
    """requestTimeout: 0/None = server default, < 0 = answer at once, else capped at the maximum."""
    if request_timeout is not None and request_timeout < 0:
        return 0.0
    ms = request_timeout or int(getattr(settings, "FLOWSYNC_LONG_POLL_DEFAULT_MS", DEFAULT_LONG_POLL_MS))
    return min(ms, int(getattr(settings, "FLOWSYNC_LONG_POLL_MAX_MS", MAX_LONG_POLL_MS))) / 1000


class JobActivationView(ApiView):
    """Answers as soon as at least one job is activated, or with `jobs: []` when the wait ends.

    Waiting holds no transaction and no busy loop: it sleeps on Redis pub/sub, woken by
    `engine.store.notify.notify_jobs_available` (re-checking PostgreSQL every couple of seconds
    in case a notification was lost).
    """
    rights = {"POST": Right.WORK_JOBS}

    def post(self, request: Request) -> Response:
        data = valid(requests.ActivateJobs, request.data)
        who = principal(request)
        tenant_ids = who.tenant_ids
        if data.get("tenantIds") and data.get("tenantFilter") != "ASSIGNED":
            wanted = set(data["tenantIds"])
            found = dict(Tenant.objects.filter(tenant_id__in=wanted, pk__in=tenant_ids).values_list("tenant_id", "pk"))
            missing = wanted - set(found)
            if missing:
                raise PermissionDenied(f"tenant(s) {', '.join(sorted(missing))} not assigned to this client")
            tenant_ids = list(found.values())
        job_type, worker = data["type"], data.get("worker") or ""
        job_lag.polled(tenant_ids, job_type)  # this type has a live worker: its lag may refuse starts

        def attempt() -> tuple[list[Job], dict[int, dict[str, Any]], dict[int, int]] | None:
            found = job_actions.activate_with_context(
                tenant_ids, job_type, worker, data["timeout"], data["maxJobsToActivate"], timezone.now(),
                data.get("fetchVariable") or None,
            )
            return found if found[0] else None

        wait = long_poll_seconds(data.get("requestTimeout"))
        if wait <= 0:
            found = attempt()
        else:
            found = wait_until(attempt, [jobs_channel(t, job_type) for t in tenant_ids], wait)
        jobs, variables, roots = found or ([], {}, {})
        tasks = q.listened_tasks(jobs)  # a task listener's job carries its user task
        return Response(
            {
                "jobs": [
                    shapes.activated_job(
                        j, variables[j.key], who.tenant_id_of(j.tenant_id), roots.get(j.process_instance_key),
                        with_lease=bool(data.get("withLease")), user_task=tasks.get(j.key),
                    )
                    for j in jobs
                ]
            }
        )


class JobCompletionView(ApiView):
    rights = {"POST": Right.WORK_JOBS}
    submits_commands = True

    def post(self, request: Request, key: str) -> Response:
        data = valid(requests.CompleteJob, request.data)
        who = principal(request)
        job_actions.complete_job(
            who.tenant_ids, path_key(key, "jobKey"), data.get("variables") or {}, who.actor, timezone.now(),
            lease=data.get("jobLeaseToken") or "", result=data.get("result"),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class JobFailureView(ApiView):
    rights = {"POST": Right.WORK_JOBS}
    submits_commands = True

    def post(self, request: Request, key: str) -> Response:
        data = valid(requests.FailJob, request.data)
        who = principal(request)
        job = q.get_job(who.tenant_ids, path_key(key, "jobKey"))
        fail_job(
            who.tenant_ids,
            job.key,
            data["retries"],
            data.get("errorMessage") or "",
            data["retryBackOff"],
            data.get("variables") or {},
            who.actor,
            timezone.now(),
            lease=data.get("jobLeaseToken") or "",
            error_code=data.get("errorCode") or "",
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class JobErrorView(ApiView):
    rights = {"POST": Right.WORK_JOBS}
    submits_commands = True

    def post(self, request: Request, key: str) -> Response:
        data = valid(requests.ThrowJobError, request.data)
        who = principal(request)
        job = q.get_job(who.tenant_ids, path_key(key, "jobKey"))
        throw_error(
            who.tenant_ids,
            job.key,
            data["errorCode"],
            data.get("errorMessage") or "",
            data.get("variables") or {},
            who.actor,
            timezone.now(),
            lease=data.get("jobLeaseToken") or "",
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class JobView(ApiView):
    rights = {"PATCH": Right.OPERATE}
    per_process = frozenset({"PATCH"})
    submits_commands = True

    def patch(self, request: Request, key: str) -> Response:
        data = valid(requests.UpdateJob, request.data)
        who = principal(request)
        job = q.get_job(who.tenant_ids, path_key(key, "jobKey"))
        require_on(request, Right.OPERATE, job.tenant_id, job.bpmn_process_id, "change jobs")
        change = data["changeset"]
        update_job(
            who.tenant_ids,
            job.key,
            retries=change.get("retries"),
            timeout_ms=change.get("timeout"),
            actor=who.actor,
            now=timezone.now(),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


_JOB_STATES = {
    api: tuple(s for s, a in shapes.JOB_STATES.items() if a == api)
    for api in (
        "CANCELED",
        "COMPLETED",
        "CREATED",
        "ERROR_THROWN",
        "FAILED",
        "MIGRATED",
        "PRIORITY_UPDATED",
        "RETRIES_UPDATED",
        "TIMED_OUT",
        "TIMEOUT_UPDATED",
    )
}

SPEC = Spec(
    fields={
        "deadline": Field("deadline", "date"),
        "elementId": Field("element_id"),
        "elementInstanceKey": Field("element_instance_key", "key"),
        "errorMessage": Field("error_message", blank_null=True),
        "jobKey": Field("key", "key"),
        "kind": Field(
            "kind",
            "enum",
            enum={
                "BPMN_ELEMENT": ("BPMN_ELEMENT",),
                "EXECUTION_LISTENER": ("EXECUTION_LISTENER",),
                "TASK_LISTENER": ("TASK_LISTENER",),
                "AD_HOC_SUB_PROCESS": (),
            },
        ),
        "listenerEventType": Field(
            "listener_event_type",
            "enum",
            enum={
                v: ((v,) if v != "BEFORE_ALL" and v != "CANCEL" else ())
                for v in (
                    "UNSPECIFIED",
                    "START",
                    "END",
                    "CREATING",
                    "ASSIGNING",
                    "UPDATING",
                    "COMPLETING",
                    "CANCELING",
                    "BEFORE_ALL",
                    "CANCEL",
                )
            },
        ),
        "processDefinitionId": Field("bpmn_process_id"),
        "processDefinitionKey": Field("process_definition_key", "key"),
        "processInstanceKey": Field("process_instance_key", "key"),
        "retries": Field("retries", "int"),
        "state": Field("state", "enum", enum=_JOB_STATES),
        "tenantId": Field("tenant__tenant_id"),
        "type": Field("type"),
        "worker": Field("worker", blank_null=True),
        "creationTime": Field("created_at", "date"),
    },
    sort={
        "creationTime": Field("created_at", "date"),
        "deadline": Field("deadline", "date"),
        "elementId": Field("element_id"),
        "elementInstanceKey": Field("element_instance_key", "key"),
        "errorMessage": Field("error_message"),
        "jobKey": Field("key", "key"),
        "processDefinitionId": Field("bpmn_process_id"),
        "processDefinitionKey": Field("process_definition_key", "key"),
        "processInstanceKey": Field("process_instance_key", "key"),
        "retries": Field("retries", "int"),
        "state": Field("state"),
        "tenantId": Field("tenant__tenant_id"),
        "type": Field("type"),
        "worker": Field("worker"),
    },
    unsupported=frozenset(
        {"deniedReason", "endTime", "errorCode", "hasFailedWithRetriesLeft", "isDenied", "priority", "lastUpdateTime"}
    ),
)


class JobSearchView(SearchView):
    spec = SPEC
    per_process = frozenset({"POST"})  # a READ grant lets in; readable() limits the rows to its processes

    def queryset(self, request: Request):  # type: ignore[no-untyped-def]
        return q.jobs(principal(request).tenant_ids).filter(readable(request, "bpmn_process_id"))

    def shape_page(self, request: Request, rows: list[Any]) -> list[dict[str, Any]]:
        who = principal(request)
        roots = root_keys(j.process_instance_key for j in rows)
        return [shapes.job(j, who.tenant_id_of(j.tenant_id), roots.get(j.process_instance_key)) for j in rows]
