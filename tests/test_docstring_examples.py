"""The examples in the docstrings of ``otel_setup`` and ``processors`` run as they read."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from types import ModuleType

import pytest

import otel_setup
import processors

_FINDER = doctest.DocTestFinder()


def _modules_with_examples() -> list[str]:
    names = []
    for package in (otel_setup, processors):
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            module = importlib.import_module(info.name)
            if any(test.examples for test in _FINDER.find(module)):
                names.append(info.name)
    return names


@pytest.mark.parametrize("name", _modules_with_examples())
def test_the_examples_of_a_module_run_as_they_read(name: str) -> None:
    module: ModuleType = importlib.import_module(name)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report: list[str] = []
    for test in _FINDER.find(module):
        runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)
    assert runner.tries > 0
