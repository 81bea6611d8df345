from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def sample_value(exposition: str, name: str, **labels: str) -> float | None:
    """The value of the sample `name` whose labels include `labels`, from a /metrics text."""
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                return float(sample.value)
    return None
