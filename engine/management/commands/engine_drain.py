from django.core.management.base import BaseCommand

from engine.runtime.loop import drain


class Command(BaseCommand):
    help = "Apply all pending engine commands in this process, then exit."

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        self.stdout.write(f"applied {drain()} commands")
