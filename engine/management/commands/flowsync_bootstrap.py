"""Set up a platform to use: a tenant, its admin user, an API key and (optionally) demo data.

The admin user is a *tenant* admin (staff, admin role in the tenant), not a platform superuser:
`--superuser` makes one on purpose. Passwords: `--demo` uses the well-known demo passwords
(admin/admin, demo/demo) and says so; otherwise a new user gets a generated password, printed once.
"""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from engine.actions.instances import find_definition, start_instance
from engine.definitions.deploy import Resource, deploy
from engine.models import ProcessInstance
from flowsync.models import DEFAULT_TENANT_ID, ApiKey, Membership, Tenant
from flowsync.staff import make_tenant_admin

DEMO_ADMIN_PASSWORD = "admin"  # demo mode only, printed as such
DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"


class Command(BaseCommand):
    help = "Create the default tenant, an admin user and an API key; --demo deploys the demo processes."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--tenant", default=DEFAULT_TENANT_ID)
        parser.add_argument("--admin-user", default="admin")
        parser.add_argument("--admin-password", default=None,
                            help="default: 'admin' with --demo, else generated and printed once")
        parser.add_argument("--superuser", action="store_true",
                            help="make the admin user a platform superuser (every tenant), not a tenant admin")
        parser.add_argument("--demo", action="store_true")
        parser.add_argument("--credentials-file", default=str(Path(settings.BASE_DIR) / "var" / "credentials.json"))
        parser.add_argument("--json", action="store_true", help="print the credentials as JSON")

    def handle(self, *args, **opts):  # type: ignore[no-untyped-def]
        creds_path = Path(opts["credentials_file"])
        with transaction.atomic():
            tenant, _ = Tenant.objects.get_or_create(
                tenant_id=opts["tenant"],
                defaults={"name": "Default" if opts["tenant"] == DEFAULT_TENANT_ID else opts["tenant"]},
            )
            User = get_user_model()
            user = User.objects.filter(username=opts["admin_user"]).first()
            new_password = None
            if user is None:
                new_password = opts["admin_password"] or (DEMO_ADMIN_PASSWORD if opts["demo"]
                                                          else secrets.token_urlsafe(12))
                user = User.objects.create_user(opts["admin_user"], "", new_password)
            if opts["superuser"] and not user.is_superuser:
                user.is_staff = user.is_superuser = True
                user.save(update_fields=["is_staff", "is_superuser"])
            make_tenant_admin(user, tenant)
            creds = self._stored(creds_path, tenant)
            if creds is None:
                key, secret = ApiKey.issue(tenant, "bootstrap")
                creds = {"tenantId": tenant.tenant_id, "clientId": key.client_id, "clientSecret": secret}
                creds_path.parent.mkdir(parents=True, exist_ok=True)
                creds_path.write_text(json.dumps(creds, indent=2))
                creds_path.chmod(0o600)
            if opts["demo"]:
                self._demo(tenant)
        creds = {**creds, "adminUser": opts["admin_user"]}
        if new_password is not None:
            creds["adminPassword"] = new_password
        if opts["json"]:
            self.stdout.write(json.dumps(creds))
            return
        kind = "platform superuser" if user.is_superuser else "tenant admin"
        if new_password is None:
            who = f"{kind} '{opts['admin_user']}' (exists; password unchanged)"
        elif opts["demo"] and new_password == DEMO_ADMIN_PASSWORD:
            who = f"{kind} '{opts['admin_user']}' / password '{new_password}' (DEMO password: do not expose this)"
        else:
            who = f"{kind} '{opts['admin_user']}' / password '{new_password}' (shown only now)"
        self.stdout.write(
            f"tenant {creds['tenantId']}; {who}; "
            f"API key id {creds['clientId']} secret {creds['clientSecret']} (also in {creds_path})"
            + ("; Tasklist user 'demo' / password 'demo' (DEMO password)" if opts["demo"] else "")
        )

    def _demo(self, tenant: Tenant) -> None:
        """Demo processes, a demo user in the candidate groups they use, and a few running instances."""
        from django.contrib.auth.models import Group

        files = [p for p in sorted(DEMO_DIR.iterdir()) if p.name.endswith((".bpmn", ".form", ".schema.json"))]
        deploy(tenant, [Resource(p.name, p.read_bytes()) for p in files], timezone.now())
        User = get_user_model()
        demo = User.objects.filter(username="demo").first()
        if demo is None:
            demo = User.objects.create_user("demo", "demo@example.com", "demo", first_name="Demo", last_name="User")
        Membership.objects.get_or_create(tenant=tenant, user=demo, defaults={"role": Membership.Role.MEMBER})
        for name in ("accounting", "managers", "staff"):
            demo.groups.add(Group.objects.get_or_create(name=name)[0])
        if ProcessInstance.objects.filter(tenant=tenant).exists():
            return  # instances were started on an earlier run
        now = timezone.now()
        invoices = find_definition(tenant, process_id="invoice-approval")
        for number, (supplier, amount) in enumerate([("Globex Ltd", 1250.5), ("Initech", 89.9), ("Umbrella", 4300)]):
            start_instance(tenant, invoices, {"supplier": supplier, "amount": amount, "priority": 50 + 10 * number,
                                              "dueDate": (now + timedelta(days=number - 1)).isoformat()},
                           "demo", now, business_key=f"INV-{1001 + number}")
        start_instance(tenant, find_definition(tenant, process_id="expense-claim"), {"requester": "demo",
                       "reviewer": "demo"}, "demo", now, business_key="EXP-1")
        start_instance(tenant, find_definition(tenant, process_id="order-process"), {"orderId": "A-1", "amount": 42},
                       "demo", now, business_key="A-1")
        start_instance(tenant, find_definition(tenant, process_id="order-messages"), {"orderId": "A-2"},
                       "demo", now, business_key="A-2")

    def _stored(self, path: Path, tenant: Tenant) -> dict | None:
        # Reuse the key written on an earlier run while it still exists and matches.
        if not path.exists():
            return None
        try:
            creds = json.loads(path.read_text())
            key = ApiKey.objects.get(client_id=creds["clientId"], tenant=tenant)
        except (ValueError, KeyError, ApiKey.DoesNotExist):
            return None
        return creds if key.check_secret(creds.get("clientSecret", "")) else None
