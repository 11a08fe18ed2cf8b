"""The demo: a team, its people, a live invoice workflow with a flaky ERP, and cases to run.

``demo_load`` is safe to run again: it finds what the first run made and adds only what is
missing. The cases are drawn from a seeded generator, so case ``INV-2026-0007`` is the same
invoice on every machine, and each block of ``BLOCK`` cases holds the same mix of trouble.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Max

from apps.accounts import roles
from apps.accounts.models import Team
from apps.runs.models import Run
from apps.runs.services import run_start, workflow_refusal

from .models import Step, Workflow, WorkflowVersion
from .services import version_publish, workflow_set_status

TEAM = {"slug": "accounts-payable", "name": "Accounts Payable"}
WORKFLOW_SLUG = "supplier-invoice-intake"
DEFAULT_PASSWORD = "handoff-demo"  # noqa: S105 - the demo's documented login
DEFAULT_SEED = 2026

# username: (role, is_staff, first name, last name)
PEOPLE = {
    "operator": (roles.OPERATOR, False, "Priya", "Shah"),
    "implementer": (roles.IMPLEMENTER, True, "Tom", "Becker"),
    "manager": (roles.MANAGER, True, "Maria", "Lopez"),
}
ADMIN_USERNAME = "admin"

# Every block of BLOCK consecutive cases holds this mix (in a shuffled order).
BLOCK = 40
MIX = {
    "over_limit": 2,  # amount above 10 000: out of bounds at `validate`
    "low_confidence": 1,  # the reading is unsure: out of bounds at `validate`
    "new_vendor": 3,  # a person reviews the first invoice of a vendor
    "erp_flaky": 2,  # the ERP is busy once, the retry books it
    "erp_unavailable": 1,  # the ERP is down for this case: retries run out
    "erp_reject": 1,  # the ERP refuses the invoice: a permanent error
    "erp_slow": 1,  # the ERP answers after the step's time limit: timeouts
}
MIX["plain"] = BLOCK - sum(MIX.values())
ERP_SCENARIO = {
    "erp_flaky": "flaky",
    "erp_unavailable": "unavailable",
    "erp_reject": "reject",
    "erp_slow": "slow",
}

VENDORS = [
    "Acme Office Supplies",
    "Nordic Paper AB",
    "Bolt Logistics",
    "Greenleaf Catering",
    "Kestrel IT Services",
    "Lumen Energy",
    "Harbor Freight Forwarding",
    "Brightclean Facilities",
]
NEW_VENDORS = [
    "Quill & Ink Stationers",
    "Sundial Security",
    "Meridian Translation",
    "Copperleaf Print",
]
FIRST_INVOICE_DAY = date(2026, 9, 1)


@dataclass
class DemoResult:
    team: Team
    workflow: Workflow
    version: WorkflowVersion
    users_created: list[str] = field(default_factory=list)
    version_created: bool = False
    cases_created: int = 0
    cases_existing: int = 0
    mix: Counter = field(default_factory=Counter)
    refusal: str | None = None


def demo_steps(
    *, base_url: str, erp_timeout_s: float = 3.0, retry_initial_s: float = 1.0
) -> list[dict[str, Any]]:
    """The workflow's steps as Step fields, in order."""
    return [
        {
            "key": "validate",
            "name": "Check amount and reading confidence",
            "action": "rules.check",
            "config": {"note": "Invoices over 10 000 or read with low confidence go to a person."},
            "bounds": ["amount <= 10000", "confidence >= 0.8"],
        },
        {
            "key": "review-new-vendor",
            "name": "Review a new vendor",
            "action": "human.review",
            "config": {
                "when": "vendor_is_new",
                "reason": "First invoice from this vendor: check its bank details and "
                "vendor record before the invoice is booked.",
            },
        },
        {
            "key": "normalise",
            "name": "Normalise vendor and amount",
            "action": "data.set",
            "config": {
                "set": {"vendor_key": "upper(vendor)", "amount_cents": "round(amount * 100)"}
            },
        },
        {
            "key": "post-to-erp",
            "name": "Book the invoice in the ERP",
            "action": "http.request",
            "config": {
                "method": "POST",
                "url": f"{base_url.rstrip('/')}/demo/erp/invoices",
                "body": {
                    "invoice_number": "invoice_number",
                    "vendor": "vendor_key",
                    "amount": "amount",
                    "currency": "currency",
                    "invoice_date": "invoice_date",
                    "due_date": "case.get('due_date')",
                    "po_number": "case.get('po_number', '')",
                    "scenario": "case.get('erp_scenario', '')",
                },
                "response": {"erp_id": "id"},
            },
            "max_attempts": 4,
            "initial_interval_s": retry_initial_s,
            "backoff_coefficient": 2.0,
            "max_interval_s": 20.0,
            "jitter": 0.2,
            "timeout_s": erp_timeout_s,
        },
        {
            "key": "notify",
            "name": "Tell the AP team",
            "action": "email.send",
            "config": {
                "to": "ap-team@example.com",
                "subject": "Invoice {invoice_number} booked as {erp_id}",
                "body": "{vendor}: {amount} {currency}, due {due_date}, "
                "booked in the ERP as {erp_id}.",
            },
            "on_failure": Step.OnFailure.SKIP,
        },
    ]


# What a case must carry before it starts: the fields the steps read. Fields the steps set
# (vendor_key, amount_cents, erp_id) are not asked for. The amount and confidence have no
# maximum or minimum here: a case over the limit is valid data that a person must look at, so
# the `validate` step's bounds hand it over instead of intake refusing it.
DEMO_CASE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": [
        "invoice_number",
        "vendor",
        "vendor_is_new",
        "amount",
        "currency",
        "confidence",
        "invoice_date",
        "due_date",
    ],
    "properties": {
        "invoice_number": {"type": "string", "minLength": 1},
        "vendor": {"type": "string", "minLength": 1},
        "vendor_is_new": {"type": "boolean"},
        "amount": {"type": "number", "exclusiveMinimum": 0},
        "currency": {"enum": ["EUR", "USD", "GBP"]},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "invoice_date": {"type": "string", "format": "date"},
        "due_date": {"type": "string", "format": "date"},
        "po_number": {"type": "string"},
        "erp_scenario": {"enum": ["", *ERP_SCENARIO.values()]},
    },
}


def demo_cases(*, count: int, seed: int = DEFAULT_SEED) -> list[tuple[str, str, dict[str, Any]]]:
    """``(external id, kind, case data)`` for cases 1…count; case n is the same for any count."""
    cases = []
    kinds: list[str] = []
    for n in range(1, count + 1):
        if (n - 1) % BLOCK == 0:
            kinds = [kind for kind, how_many in MIX.items() for _ in range(how_many)]
            random.Random(f"{seed}-block-{(n - 1) // BLOCK}").shuffle(kinds)
        kind = kinds[(n - 1) % BLOCK]
        external_id = f"INV-2026-{n:04d}"
        cases.append((external_id, kind, _invoice(external_id, kind, random.Random(f"{seed}-{n}"))))
    return cases


def _invoice(number: str, kind: str, rng: random.Random) -> dict[str, Any]:
    if kind == "over_limit":
        amount = rng.uniform(10_500, 48_000)
    else:
        # Most invoices are small; a few are large but still within the limit.
        amount = min(rng.lognormvariate(6.5, 1.0), 9_800)
    invoice_date = FIRST_INVOICE_DAY + timedelta(days=rng.randrange(60))
    return {
        "invoice_number": number,
        "vendor": rng.choice(NEW_VENDORS if kind == "new_vendor" else VENDORS),
        "vendor_is_new": kind == "new_vendor",
        "amount": round(max(amount, 12.0), 2),
        "currency": rng.choices(["EUR", "USD", "GBP"], weights=[8, 1, 1])[0],
        "confidence": round(
            rng.uniform(0.42, 0.78) if kind == "low_confidence" else rng.uniform(0.83, 0.995), 3
        ),
        "invoice_date": invoice_date.isoformat(),
        "due_date": (invoice_date + timedelta(days=30)).isoformat(),
        "po_number": f"PO-{rng.randrange(40_000, 49_999)}",
        "erp_scenario": ERP_SCENARIO.get(kind, ""),
    }


def demo_load(
    *,
    base_url: str,
    cases: int = 200,
    password: str = DEFAULT_PASSWORD,
    seed: int = DEFAULT_SEED,
    erp_timeout_s: float = 3.0,
    retry_initial_s: float = 1.0,
) -> DemoResult:
    """Create (or find) the demo team, people and workflow, then start ``cases`` demo cases.

    Cases start one transaction each, so a worker already running picks them up while the
    rest are still being created.
    """
    result = _setup(
        base_url=base_url,
        password=password,
        steps=demo_steps(
            base_url=base_url, erp_timeout_s=erp_timeout_s, retry_initial_s=retry_initial_s
        ),
        case_schema=DEMO_CASE_SCHEMA,
    )
    planned = demo_cases(count=cases, seed=seed)
    result.mix = Counter(kind for _, kind, _ in planned)
    if planned and (refusal := workflow_refusal(result.workflow)):
        result.refusal = refusal
        return result
    for external_id, _, data in planned:
        _, created = run_start(
            workflow=result.workflow, external_id=external_id, data=data, source=Run.Source.DEMO
        )
        if created:
            result.cases_created += 1
        else:
            result.cases_existing += 1
    return result


@transaction.atomic
def _setup(
    *, base_url: str, password: str, steps: list[dict[str, Any]], case_schema: dict[str, Any]
) -> DemoResult:
    team, _ = Team.objects.get_or_create(slug=TEAM["slug"], defaults={"name": TEAM["name"]})
    users_created = _people(team=team, password=password)
    workflow, workflow_created = Workflow.objects.get_or_create(
        slug=WORKFLOW_SLUG,
        defaults={
            "name": "Supplier invoice intake",
            "team": team,
            "description": "Supplier invoices read from the AP mailbox are checked, "
            "reviewed when the vendor is new, and booked in the ERP.",
            "baseline_minutes": Decimal("12"),
            "baseline_source": "stopwatch study, 40 invoices",
            "baseline_sample_size": 40,
        },
    )
    version, version_created = _published_version(
        workflow=workflow, steps=steps, case_schema=case_schema
    )
    if workflow_created:
        # Only a new demo workflow goes live: one someone paused or retired is left as it is.
        workflow_set_status(
            workflow=workflow, status=Workflow.Status.LIVE, user=None, reason="Demo"
        )
    return DemoResult(
        team=team,
        workflow=workflow,
        version=version,
        users_created=users_created,
        version_created=version_created,
    )


def _people(*, team: Team, password: str) -> list[str]:
    User = get_user_model()
    created_names = []
    wanted = {**PEOPLE, ADMIN_USERNAME: (None, True, "Ada", "Admin")}
    for username, (role, is_staff, first, last) in wanted.items():
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first,
                "last_name": last,
                "email": f"{username}@example.com",
                "is_staff": is_staff,
                "is_superuser": username == ADMIN_USERNAME,
            },
        )
        if created:
            created_names.append(username)
        # Only what differs is written, so a second run changes nothing.
        if user.is_staff != is_staff:
            user.is_staff = is_staff
            user.save(update_fields=["is_staff"])
        if not user.check_password(password):
            user.set_password(password)
            user.save(update_fields=["password"])
        if role:
            # The groups come from a data migration; get_or_create keeps a bare test DB working.
            user.groups.add(Group.objects.get_or_create(name=role)[0])
            team.members.add(user)
    return created_names


_STEP_FIELDS = (
    "key",
    "name",
    "action",
    "config",
    "bounds",
    "max_attempts",
    "initial_interval_s",
    "backoff_coefficient",
    "max_interval_s",
    "jitter",
    "timeout_s",
    "non_retryable_errors",
    "on_failure",
)


def _as_fields(step: Step) -> dict[str, Any]:
    return {name: getattr(step, name) for name in _STEP_FIELDS}


def _published_version(
    *, workflow: Workflow, steps: list[dict[str, Any]], case_schema: dict[str, Any]
) -> tuple[WorkflowVersion, bool]:
    """The newest published version if it has these steps and case schema; otherwise a new
    one, published.

    Publishing validates the case schema and each step's action config and bounds, so the
    demo proves its own definition is valid; an invalid one rolls the whole setup back.
    """
    wanted = [_as_fields(Step(position=i, **fields)) for i, fields in enumerate(steps, 1)]
    current = workflow.versions.filter(published_at__isnull=False).order_by("-number").first()
    if (
        current
        and current.case_schema == case_schema
        and [_as_fields(step) for step in current.steps.order_by("position")] == wanted
    ):
        return current, False
    number = (workflow.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    version = WorkflowVersion.objects.create(
        workflow=workflow, number=number, note="Demo definition", case_schema=case_schema
    )
    Step.objects.bulk_create(
        Step(version=version, position=position, **fields)
        for position, fields in enumerate(steps, 1)
    )
    return version_publish(version=version), True
