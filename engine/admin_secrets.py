"""Connector secrets in the admin: tenant admins set them, nobody reads them back (engine/secrets.py)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from engine import secrets
from engine.audit import Actor
from engine.models import ConnectorSecret
from flowsync.admin_scope import TenantScopedAdmin


class ConnectorSecretForm(forms.ModelForm):
    # Write-only: never rendered back (render_value=False), not even after a form error.
    value = forms.CharField(
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}), required=False,
        strip=False, help_text="Write-only: it is stored encrypted and never shown again. On an existing secret, "
                               "leave empty to keep the current value.")

    class Meta:
        model = ConnectorSecret
        fields = ["tenant", "name"]
        help_texts = {"name": "Referenced as {{secrets.NAME}} in http nodes and connector inputs."}

    def clean_name(self) -> str:
        try:
            return secrets.check_name(self.cleaned_data.get("name", ""))
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.instance.pk is None and not data.get("value"):
            self.add_error("value", "A new secret needs a value.")
        return data


@admin.register(ConnectorSecret)
class ConnectorSecretAdmin(TenantScopedAdmin):
    """Names, who changed them and when; the value only goes in."""

    form = ConnectorSecretForm
    edit_right = secrets.MANAGE_RIGHT
    list_display = ["name", "tenant", "updated_at", "updated_by"]
    list_filter = ["tenant"]
    search_fields = ["name"]
    readonly_fields = ["created_at", "updated_at", "updated_by"]
    actions = ["delete_secrets"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["tenant", "name", "value"] + (["created_at", "updated_at", "updated_by"] if obj else [])

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # A secret keeps its tenant and name (flows refer to it by name): rename = add a new one, delete this.
        return [*self.readonly_fields, *(["tenant", "name"] if obj else [])]

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        found = super().get_actions(request)
        found.pop("delete_selected", None)  # ours audits each deletion by name
        return found

    def save_model(self, request: HttpRequest, obj: ConnectorSecret, form: Any, change: bool) -> None:
        value = form.cleaned_data.get("value")
        if change and not value:
            return  # nothing to change: the name and tenant are read-only
        secrets.set_secret(obj.tenant, obj.name, value, Actor.of_user(request.user))
        saved = ConnectorSecret.objects.get(tenant=obj.tenant, name=obj.name)
        obj.pk, obj.ciphertext = saved.pk, saved.ciphertext

    def delete_model(self, request: HttpRequest, obj: ConnectorSecret) -> None:
        secrets.delete_secret(obj.tenant_id, obj.name, Actor.of_user(request.user))

    @admin.action(description="Delete selected secrets", permissions=["delete"])
    def delete_secrets(self, request: HttpRequest, queryset: QuerySet) -> None:
        actor = Actor.of_user(request.user)
        done = [s.name for s in queryset if self.has_delete_permission(request, s)
                and secrets.delete_secret(s.tenant_id, s.name, actor)]
        self.message_user(request, f"Deleted {len(done)} secret(s): {', '.join(done) or 'none'}.", messages.SUCCESS)
