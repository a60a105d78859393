from django.core.management.base import BaseCommand

from leadscoring.roles import DEMO_PASSWORD, DEMO_USERS, demo_users_ensure


class Command(BaseCommand):
    """Create (or reset) the demo logins, one or more per role, and print them."""

    help = "Create or reset the demo users and print their logins."

    def handle(self, *args, **options):
        demo_users_ensure()
        for username, group, _first, _last in DEMO_USERS:
            self.stdout.write(f"{username:<10} {DEMO_PASSWORD}  ({group})")
