"""The layers and the private-names rule (pyproject.toml, [tool.importlinter]) hold for the code
as it is: the same check `make lint` runs, here so the suite fails on a broken contract too."""

from importlinter.cli import lint_imports


def test_the_import_contracts_are_kept():
    # Given the contracts in pyproject.toml, when import-linter reads every app's imports,
    # then none is broken (exit code 0; a broken one prints the offending import).
    assert lint_imports(no_cache=True) == 0
