"""Reading /metrics in tests: the text as Prometheus parses it."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    return [(sample.name, sample.labels, sample.value)
            for family in text_string_to_metric_families(text) for sample in family.samples]


def value(text: str, name: str, **labels: str) -> float | None:
    """The value of the one sample `name` with exactly these labels (None when there is none)."""
    found = [number for sample, given, number in samples(text) if sample == name and given == labels]
    assert len(found) <= 1, f"{name}{labels} is in the exposition {len(found)} times"
    return found[0] if found else None


def total(text: str, name: str, **labels: str) -> float:
    """The sum of `name` over the samples that carry at least these labels."""
    return sum(number for sample, given, number in samples(text)
               if sample == name and all(given.get(key) == wanted for key, wanted in labels.items()))


def debian_tool(name: str) -> str:
    """Debian's prometheus package's binary (`make test` installs it)."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (`make test` installs Debian's prometheus package)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def promtool_check_metrics(text: str) -> subprocess.CompletedProcess:
    return subprocess.run([debian_tool("promtool"), "check", "metrics"], input=text, capture_output=True,
                          text=True, timeout=30)
