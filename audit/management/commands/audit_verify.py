import orjson
from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from audit.selectors import audit_chain_verify


def _when(value: str | None):
    if value is None:
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        raise CommandError(f"{value!r} is not an ISO date-time (e.g. 2026-11-01T00:00:00Z)")
    return parsed


class Command(BaseCommand):
    help = "Walk the audit hash chain; print the first broken link. Exit 1 on any tamper or gap, 0 when intact."

    def add_arguments(self, parser):
        parser.add_argument("--start", help="Only entries at or after this ISO date-time")
        parser.add_argument("--end", help="Only entries before this ISO date-time")
        parser.add_argument("--json", action="store_true", help="Print the result as one JSON object")

    def handle(self, *args, **opts):
        result = audit_chain_verify(start=_when(opts["start"]), end=_when(opts["end"]))
        if opts["json"]:
            self.stdout.write(orjson.dumps(result.as_dict()).decode())
        elif result.ok:
            span = f"#{result.first_sequence}..#{result.last_sequence}" if result.checked else "empty log"
            self.stdout.write(self.style.SUCCESS(f"Audit chain intact: {result.checked} entries verified ({span})."))
        else:
            first = result.first_break
            self.stdout.write(self.style.ERROR(f"Audit chain BROKEN at entry {first.sequence}: {first.problem}"))
            for extra in result.breaks[1:5]:
                self.stdout.write(f"  also entry {extra.sequence}: {extra.problem}")
            if len(result.breaks) > 5:
                self.stdout.write(f"  … {len(result.breaks) - 5} more breaks")
            self.stdout.write(f"{result.checked} entries checked.")
        if not result.ok:
            raise SystemExit(1)
