import csv
import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html

from flowsync.admin_keyset import COUNT_CAP, KeysetAdmin
from flowsync.admin_scope import TenantScopedAdmin, scoped_pks
from flowsync.audit import Actor, record
from flowsync.models import ApiKey, AuditEntry, Membership, ProcessAccess, Tenant
from flowsync.rights import PERMISSION_OF, RIGHT_OF, Right, set_grant
from flowsync.tenancy import issue_key, revoke_key, rotate_key, set_suspended


class MembershipInline(admin.TabularInline):
    """Members of a tenant; only its admins (and superusers) may change them."""

    model = Membership
    extra = 0
    autocomplete_fields = ["user"]

    def _administers(self, request: HttpRequest, tenant: Any) -> bool:
        pks = scoped_pks(request, Right.ADMINISTER)
        return pks is None or (tenant is not None and tenant.pk in pks)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_add_permission(request, obj) and self._administers(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and self._administers(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and self._administers(request, obj)


def _administered(request: HttpRequest, queryset: QuerySet, admin_: admin.ModelAdmin) -> QuerySet:
    """The selected rows in tenants where the user holds ADMINISTER; says so when some were left out."""
    pks = scoped_pks(request, Right.ADMINISTER)
    if pks is None:
        return queryset
    allowed = queryset.filter(**{f"{admin_.tenant_path}__in": pks})
    if allowed.count() != queryset.count():
        admin_.message_user(request, "Some selected rows are in tenants you do not administer; left unchanged.",
                            messages.WARNING)
    return allowed


@admin.register(Tenant)
class TenantAdmin(TenantScopedAdmin):
    tenant_path = "pk"
    list_display = ["tenant_id", "name", "suspended", "created_at"]
    list_filter = ["suspended"]
    search_fields = ["tenant_id", "name"]
    readonly_fields = ["suspended"]
    inlines = [MembershipInline]
    actions = ["suspend", "resume"]

    def save_formset(self, request, form, formset, change):  # type: ignore[no-untyped-def]
        """Membership (rights) changes go to the audit trail, in the admin's transaction."""
        super().save_formset(request, form, formset, change)
        actor, tenant = Actor.of_user(request.user), form.instance
        for m in formset.new_objects:
            record(tenant, actor, "membership.add", target_type="user", target_key=m.user.get_username(),
                   after={"role": m.role})
        for m, fields in formset.changed_objects:
            record(tenant, actor, "membership.change", target_type="user", target_key=m.user.get_username(),
                   after={f: getattr(m, f, None) for f in fields if f == "role"})
        for m in formset.deleted_objects:
            record(tenant, actor, "membership.remove", target_type="user", target_key=m.user.get_username(),
                   before={"role": m.role})

    def _suspend(self, request: HttpRequest, queryset: QuerySet, suspended: bool) -> None:
        # Suspension is the platform's (billing, abuse): a tenant admin must not lift it themselves.
        if not request.user.is_superuser:  # type: ignore[union-attr]
            self.message_user(request, "Only platform admins suspend or resume tenants.", messages.ERROR)
            return
        actor = Actor.of_user(request.user)
        changed = sum(set_suspended(tenant, suspended, actor) for tenant in queryset)
        self.message_user(request, f"{'Suspended' if suspended else 'Resumed'} {changed} tenant(s)."
                          + (" Their API answers 403; no jobs are activated and no timers fire." if suspended else ""))

    @admin.action(description="Suspend selected tenants", permissions=["view"])
    def suspend(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._suspend(request, queryset, True)

    @admin.action(description="Resume selected tenants", permissions=["view"])
    def resume(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._suspend(request, queryset, False)


@admin.register(ApiKey)
class ApiKeyAdmin(TenantScopedAdmin):
    list_display = ["name", "client_id", "tenant", "role", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["tenant"]
    search_fields = ["name", "client_id"]
    readonly_fields = ["client_id", "created_at", "last_used_at", "revoked_at"]
    actions = ["rotate", "revoke"]

    @admin.action(description="Revoke selected API keys", permissions=["change"])
    def revoke(self, request, queryset):  # type: ignore[no-untyped-def]
        actor = Actor.of_user(request.user)
        count = sum(revoke_key(key, actor) for key in _administered(request, queryset, self))
        self.message_user(request, f"Revoked {count} API key(s); their tokens stop working now, their Basic "
                                 "credentials within FLOWSYNC_API_KEY_RECHECK_SECONDS (1 s).")

    @admin.action(description="Rotate the secret of selected API keys (new secrets shown once)",
                  permissions=["change"])
    def rotate(self, request, queryset):  # type: ignore[no-untyped-def]
        actor = Actor.of_user(request.user)
        for key in _administered(request, queryset, self).filter(revoked_at__isnull=True):
            secret = rotate_key(key, actor)
            self.message_user(request, f"New secret for {key.client_id} (shown only now; the old one and its tokens "
                                       f"stop working): {secret}", messages.WARNING)

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        if change:
            with transaction.atomic():
                super().save_model(request, obj, form, change)
                if form.changed_data:
                    record(obj.tenant_id, Actor.of_user(request.user), "api-key.update", target_type="api-key",
                           target_key=obj.client_id, before={f: form.initial.get(f) for f in form.changed_data},
                           after={f: form.cleaned_data.get(f) for f in form.changed_data if f != "tenant"})
            return None
        # A new key gets a generated secret, shown to the operator exactly once.
        key, secret = issue_key(obj.tenant, obj.name, obj.role, Actor.of_user(request.user))
        obj.pk, obj.client_id = key.pk, key.client_id
        self.message_user(request, f"API key created. Client id: {key.client_id} — secret (shown only now): {secret}")

    def get_fields(self, request, obj=None):  # type: ignore[no-untyped-def]
        return (
            ["tenant", "name", "role"]
            if obj is None
            else ["tenant", "name", "role", "client_id", "created_at", "last_used_at", "revoked_at"]
        )


RIGHT_LABELS = {Right.READ: "read its instances", Right.START: "start it", Right.OPERATE: "operate on its instances",
                Right.WORK_TASKS: "work its tasks"}


def _field(right: Right) -> str:
    return f"grant_{right.value.replace('-', '_')}"


def _members_field(right: Right) -> forms.ModelMultipleChoiceField:
    return forms.ModelMultipleChoiceField(get_user_model().objects.none(), required=False,
                                          label=f"may {RIGHT_LABELS[right]}",
                                          widget=FilteredSelectMultiple(RIGHT_LABELS[right], is_stacked=False))


class ProcessAccessForm(forms.ModelForm):
    """One process id of a tenant and, per right, the members who hold it there (django-guardian grants)."""

    grant_read = _members_field(Right.READ)
    grant_start = _members_field(Right.START)
    grant_operate = _members_field(Right.OPERATE)
    grant_work_tasks = _members_field(Right.WORK_TASKS)
    members: QuerySet = get_user_model().objects.none()  # set per request by ProcessAccessAdmin.get_form

    class Meta:
        model = ProcessAccess
        fields = ["tenant", "process_id"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for right in PERMISSION_OF:
            self.fields[_field(right)].queryset = self.members
            if self.instance.pk:
                self.initial[_field(right)] = list(self.instance.user_grants.filter(
                    permission__codename=PERMISSION_OF[right]).values_list("user_id", flat=True))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        tenant = data.get("tenant") or (self.instance.tenant if self.instance.pk else None)
        if tenant is not None:
            members = set(Membership.objects.filter(tenant=tenant).values_list("user_id", flat=True))
            for right in PERMISSION_OF:
                strangers = [u.get_username() for u in data.get(_field(right)) or [] if u.pk not in members]
                if strangers:
                    self.add_error(_field(right), f"not members of {tenant}: {', '.join(strangers)}")
        return data


@admin.register(ProcessAccess)
class ProcessAccessAdmin(TenantScopedAdmin):
    """Per-process rights: who may start a process, read, operate on and work the tasks of its instances,
    beyond their role (flowsync.rights). Each grant or revocation is audited (rights.grant / rights.revoke)."""

    list_display = ["process_id", "tenant", "grants"]
    list_filter = ["tenant"]
    search_fields = ["process_id"]
    form = ProcessAccessForm

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        pks = scoped_pks(request, Right.ADMINISTER)
        members = get_user_model().objects.filter(memberships__tenant__in=[obj.tenant_id] if obj else (
            pks if pks is not None else Tenant.objects.values("pk"))).distinct().order_by("username")
        form = super().get_form(request, obj, change, **kwargs)
        form.members = members  # a fresh class per request (modelform_factory), so this stays per request
        return form

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> list:
        return [(None, {"fields": ["tenant", "process_id"]}),
                ("Granted to members of the tenant", {"fields": [_field(r) for r in PERMISSION_OF]})]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["tenant", "process_id"] if obj else []

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # take rights back on the form (each revocation is audited), not by deleting the row

    @admin.display(description="grants")
    def grants(self, obj: ProcessAccess) -> str:
        rows = obj.user_grants.select_related("user", "permission").order_by("user__username")
        return ", ".join(f"{g.user.get_username()}: {RIGHT_LABELS[RIGHT_OF[g.permission.codename]]}" for g in rows)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        access, actor = form.instance, Actor.of_user(request.user)
        for right in PERMISSION_OF:
            wanted = set(form.cleaned_data.get(_field(right)) or [])
            held = {g.user for g in access.user_grants.filter(permission__codename=PERMISSION_OF[right])
                    .select_related("user")}
            for user in wanted - held:
                set_grant(access.tenant, access.process_id, user, right, True, actor)
            for user in held - wanted:
                set_grant(access.tenant, access.process_id, user, right, False, actor)


class AuditExport:
    """CSV and JSON lines of the selected (or filtered) audit entries, for auditors."""

    COLUMNS = ["id", "created_at", "tenant", "who", "user_id", "api_key_id", "via", "what", "target_type",
               "target_key", "process_instance_key", "before", "after", "request_id"]

    @staticmethod
    def row(entry: AuditEntry) -> dict[str, Any]:
        return {
            "id": entry.id, "created_at": entry.created_at.isoformat(),
            "tenant": entry.tenant.tenant_id if entry.tenant_id else None, "who": entry.who,
            "user_id": entry.user_id, "api_key_id": entry.api_key_id, "via": entry.via, "what": entry.what,
            "target_type": entry.target_type, "target_key": entry.target_key,
            "process_instance_key": str(entry.process_instance_key) if entry.process_instance_key else None,
            "before": entry.before, "after": entry.after, "request_id": entry.request_id,
        }

    @classmethod
    def csv(cls, entries: Iterable[AuditEntry]) -> HttpResponse:
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="audit.csv"'
        writer = csv.DictWriter(response, fieldnames=cls.COLUMNS)
        writer.writeheader()
        for entry in entries:
            row = cls.row(entry)
            writer.writerow({k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in row.items()})
        return response

    @classmethod
    def jsonl(cls, entries: Iterable[AuditEntry]) -> HttpResponse:
        response = HttpResponse(content_type="application/x-ndjson; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="audit.jsonl"'
        for entry in entries:
            response.write(json.dumps(cls.row(entry)) + "\n")
        return response


class WhatFilter(admin.SimpleListFilter):
    """The audit verbs, found by a skip scan of the (what, -id) index: one index probe per distinct verb
    instead of Django's SELECT DISTINCT over every entry (seconds at a million rows). The verbs are a
    fixed vocabulary, not tenant data."""

    title = "what"
    parameter_name = "what"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        if connection.vendor != "postgresql":  # embedded SQLite: small, and no parenthesised CTE member
            verbs = AuditEntry.objects.order_by("what").values_list("what", flat=True).distinct()
            return [(w, w) for w in verbs]
        table = connection.ops.quote_name(AuditEntry._meta.db_table)
        with connection.cursor() as cur:
            cur.execute(f"""WITH RECURSIVE w(what) AS (
                (SELECT what FROM {table} ORDER BY what LIMIT 1)
                UNION ALL
                SELECT (SELECT a.what FROM {table} a WHERE a.what > w.what ORDER BY a.what LIMIT 1)
                FROM w WHERE w.what IS NOT NULL
            ) SELECT what FROM w WHERE what IS NOT NULL""")
            return [(w, w) for (w,) in cur.fetchall()]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(what=self.value()) if self.value() else queryset


@admin.register(AuditEntry)
class AuditEntryAdmin(KeysetAdmin, TenantScopedAdmin):
    """The audit trail: filterable, exportable, never changed or deleted (append-only)."""

    list_display = ["created_at", "tenant", "who_link", "via", "what", "target_type", "target_key",
                    "process_instance_key", "request_id"]
    # Every filter and search below is served by an index (fast at millions of entries).
    list_filter = ["tenant", "via", WhatFilter]
    search_fields = ["=who", "=target_key", "=process_instance_key", "=request_id"]
    list_select_related = ["tenant"]
    list_per_page = 100
    actions = ["export_csv", "export_jsonl"]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="who", ordering="who")
    def who_link(self, obj: AuditEntry) -> str:
        """Per user (or API key): everything this account did, by the (who, -id) index."""
        return format_html('<a href="?{}" title="everything {} did">{}</a>', urlencode({"q": obj.who}), obj.who,
                           obj.who)

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        """One indexed lookup per kind of term. An account ("user:…", "api:…") walks the (who, -id) index in
        page order; a key or a request id matches few entries, found first by their own index (an OR with
        ORDER BY id LIMIT would let PostgreSQL walk every entry newest-first looking for them)."""
        term = search_term.strip()
        if not term:
            return queryset, False
        if ":" in term:
            return queryset.filter(who=term), False
        found = Q(target_key=term) | (Q(process_instance_key=int(term)) if term.isdigit() else Q(request_id=term))
        ids = list(AuditEntry.objects.filter(found).values_list("id", flat=True)[:COUNT_CAP])
        return queryset.filter(id__in=ids), False

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        # Without a delete permission Django drops its bulk delete; the exports stay for anyone who may view.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.action(description="Export selected entries as CSV", permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
        return AuditExport.csv(queryset.select_related("tenant").order_by("id").iterator())

    @admin.action(description="Export selected entries as JSON lines", permissions=["view"])
    def export_jsonl(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
        return AuditExport.jsonl(queryset.select_related("tenant").order_by("id").iterator())
