"""tasklane's task contract: the single source of truth every tasklane image shares.

The API validates against it and sends by name; workers implement it; beat schedules from it;
the autoscaler reads backlogs with it. Nothing here imports API, worker or beat code.
"""

from tasklane_contract.catalog import CATALOG, get_spec
from tasklane_contract.settings import Settings
from tasklane_contract.spec import TaskOptions, TaskSpec

__all__ = ["CATALOG", "Settings", "TaskOptions", "TaskSpec", "get_spec"]
