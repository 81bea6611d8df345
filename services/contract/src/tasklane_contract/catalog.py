"""Every task tasklane knows, by name. Add a task: a module under tasks/, one line here."""

from __future__ import annotations

from types import MappingProxyType

from tasklane_contract.spec import TaskSpec
from tasklane_contract.tasks import demo, email, maintenance, report, text

_SPECS: tuple[TaskSpec, ...] = (
    text.PROCESS_TEXT,
    email.SEND_EMAIL,
    report.GENERATE_REPORT,
    demo.SLEEP,
    maintenance.CLEANUP,
)

CATALOG: MappingProxyType[str, TaskSpec] = MappingProxyType({s.name: s for s in _SPECS})
if len(CATALOG) != len(_SPECS):
    raise RuntimeError("two catalog entries share a name")


def get_spec(name: str) -> TaskSpec | None:
    return CATALOG.get(name)


def longest_time_limit_s() -> float:
    return max(spec.options.time_limit_s for spec in CATALOG.values())
