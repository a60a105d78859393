"""An import-linter contract of our own (pyproject.toml, [tool.importlinter]): no module imports
another module's private names. A leading underscore says "only this module uses it"; a name
another module needs is made public, or the code that needs it moves beside it.
"""

import ast
import importlib.util

from importlinter import Contract, ContractCheck, fields, output


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


class PrivateNamesContract(Contract):
    """Imports of `_name` (or of a module whose path has a `_part`) from another module are broken."""

    type_name = "private names"
    containers = fields.ListField(subfield=fields.StringField())

    def check(self, graph, verbose: bool) -> ContractCheck:
        roots = tuple(self.containers)
        found = []
        for module in sorted(graph.modules):
            if module.split(".")[0] not in roots:
                continue
            spec = importlib.util.find_spec(module)
            if spec is None or not spec.origin or not spec.origin.endswith(".py"):
                continue
            with open(spec.origin, encoding="utf-8") as source:
                tree = ast.parse(source.read(), spec.origin)
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    if node.module.split(".")[0] not in roots or node.module == module:
                        continue
                    names = [a.name for a in node.names]
                    bad = [n for n in names if _private(n)] + [p for p in node.module.split(".") if _private(p)]
                elif isinstance(node, ast.Import):
                    bad = [
                        p for a in node.names if a.name.split(".")[0] in roots for p in a.name.split(".") if _private(p)
                    ]
                else:
                    continue
                if bad:
                    found.append((module, node.lineno, ", ".join(bad)))
        return ContractCheck(kept=not found, metadata={"found": found})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for module, line, names in check.metadata["found"]:
            output.print_error(f"{module}:{line} imports private {names}")
            output.new_line()
