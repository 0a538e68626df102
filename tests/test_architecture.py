"""The layering rules, read from the source with `ast` (nothing is imported, so the check is
about the code as written, including imports under TYPE_CHECKING and inside functions).

- `config` imports nothing of ours; `kernel` imports only `config`.
- Outside `auth/`, `auth` is used only for accounts, tokens, workspaces, roles and
  invitations: every module of `auth/` declares which of those it belongs to, below.
- No import cycle between packages (`kernel`, `config`, `auth`, `containers`, each
  subpackage of `collab`, and each module directly under `collab/`).
- Each table's SQL lives in its owner's package, with no exception; `deployments` and its
  two companion tables only in `containers/store.py`. Another package asks the owner (a
  function it passes at construction), never names the table.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import REPO

pytestmark = pytest.mark.unit

PACKAGES = ("kernel", "config", "auth", "collab", "containers")

# Every module of auth/, by the concept it belongs to. A new module must be added here;
# plumbing (errors, audit, background tasks, SQL, validation, context) belongs in kernel/.
AUTH_CONCEPTS: dict[str, str] = {
    "accounts": "accounts",
    "account_inputs": "accounts",
    "identifiers": "accounts",
    "users": "accounts",
    "passwords": "accounts",
    "password_policy": "accounts",
    "mail": "accounts",
    "oauth": "accounts",
    "oauth_providers": "accounts",
    "rate_limit": "accounts",
    "tokens": "tokens",
    "keys": "tokens",
    "refresh_tokens": "tokens",
    "revocation": "tokens",
    "workspaces": "workspaces",
    "workspace_store": "workspaces",
    "workspace_inputs": "workspaces",
    "roles": "roles",
    "invitations": "invitations",
    # API keys, who a caller is, logins and the new-device notice (X2).
    "api_keys": "tokens",
    "callers": "tokens",
    "devices": "tokens",
    # Two-factor login and account changes (X1).
    "totp": "accounts",
    "mfa": "accounts",
    "mfa_store": "accounts",
    "mfa_tokens": "tokens",
    "signed_tokens": "tokens",
    "account_changes": "accounts",
    # Account lifecycle and platform admins (Y).
    "lifecycle": "accounts",
    "account_deletion": "accounts",
    "account_export": "accounts",
    "admins": "accounts",
}

# table -> the one module that owns its SQL.
TABLE_OWNERS: dict[str, str] = {
    "deployments": "containers.store",
    "past_deployments": "containers.store",
    "deployment_database_identity": "containers.store",
    "deployment_participants": "containers.store",
    "sessions": "collab.sessions.store",
    "session_participants": "collab.sessions.store",
    "session_invitations": "collab.sessions.store",
    "documents": "collab.documents.store",
    "document_updates": "collab.documents.store",
    "document_versions": "collab.documents.version_store",
    "git_heads": "collab.archive.git_heads",
    "workspace_documents": "collab.workspace_documents.postgres",
    "users": "auth.users",
    "account_tokens": "auth.accounts",
    "oauth_states": "auth.oauth",
    "refresh_tokens": "auth.refresh_tokens",
    "workspaces": "auth.workspace_store",
    "workspace_permissions": "auth.workspace_store",
    "workspace_invitations": "auth.invitations",
    "user_sessions": "auth.workspace_store",
    "audit_logs": "kernel.audit",
    "schema_migrations": "collab.migrate",
    "api_keys": "auth.api_keys",
    "logins": "auth.devices",
    "user_totp": "auth.mfa_store",
    "mfa_recovery_codes": "auth.mfa_store",
    "known_devices": "auth.devices",
    "webhooks": "collab.webhooks.store",
    "webhook_deliveries": "collab.webhooks.store",
    "webhook_attempts": "collab.webhooks.store",
}

NEVER_CROSSED = ("deployments", "past_deployments", "deployment_participants")


def modules() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


MODULES = dict(modules())
# Parsed once, when this file is collected: CPython 3.11.7's parser can fail with
# "AST constructor recursion depth mismatch" once some earlier test in the process has hit
# deep recursion, whatever the source.
TREES = {module: ast.parse(path.read_text(), str(path)) for module, path in MODULES.items()}


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> Iterator[str]:
    if node.level:
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{node.module}" if node.module else package
    else:
        base = node.module or ""
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        yield submodule if submodule in MODULES else base


def imports(module: str) -> set[str]:
    """Every module of ours that `module` imports, wherever the import statement is."""
    path = MODULES[module]
    found: set[str] = set()
    for node in ast.walk(TREES[module]):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.update(_resolve(module, path, node))
    return {name for name in found if name.split(".")[0] in PACKAGES}


def package_of(module: str) -> str:
    parts = module.split(".")
    if parts[0] != "collab" or len(parts) == 1:
        return parts[0]
    sub = REPO / "collab" / parts[1]
    return f"collab.{parts[1]}" if sub.is_dir() else module


def test_config_imports_nothing_of_ours() -> None:
    wrong = {
        (m, i)
        for m in MODULES
        if package_of(m) == "config"
        for i in imports(m)
        if package_of(i) != "config"
    }
    assert not wrong, f"config must import nothing of ours: {sorted(wrong)}"


def test_kernel_imports_only_config() -> None:
    wrong = {
        (m, i)
        for m in MODULES
        if package_of(m) == "kernel"
        for i in imports(m)
        if package_of(i) not in ("kernel", "config")
    }
    assert not wrong, f"kernel may import only kernel and config: {sorted(wrong)}"


def test_every_auth_module_belongs_to_one_of_its_concepts() -> None:
    found = {m.split(".")[1] for m in MODULES if m.startswith("auth.")}
    assert found - set(AUTH_CONCEPTS) == set(), (
        "auth/ holds accounts, tokens, workspaces, roles and invitations only: give these a "
        f"concept in AUTH_CONCEPTS or move them to kernel/: {sorted(found - set(AUTH_CONCEPTS))}"
    )
    assert set(AUTH_CONCEPTS) - found == set(), "AUTH_CONCEPTS names modules that are gone"


def test_outside_auth_only_its_concepts_are_imported() -> None:
    wrong = sorted(
        (m, i)
        for m in MODULES
        if not m.startswith("auth")
        for i in imports(m)
        if i.split(".")[0] == "auth" and (i == "auth" or i.split(".")[1] not in AUTH_CONCEPTS)
    )
    assert not wrong, f"import these from kernel/ (or a concept module of auth): {wrong}"


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph.get(node, ())):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_between_packages() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    evidence: dict[tuple[str, str], str] = {}
    for module in MODULES:
        for imported in imports(module):
            a, b = package_of(module), package_of(imported)
            if a != b:
                graph[a].add(b)
                evidence.setdefault((a, b), f"{module} -> {imported}")
    cycles = _cycles(graph)
    described = [
        [evidence[(a, b)] for a in cycle for b in cycle if (a, b) in evidence] for cycle in cycles
    ]
    assert not cycles, f"import cycles between packages: {described}"


_TABLE_REFERENCE = re.compile(
    r"\b(?:FROM|JOIN|INTO|UPDATE|TABLE)\s+(?:ONLY\s+)?\"?([a-z_][a-z0-9_]*)", re.IGNORECASE
)


def _tables() -> set[str]:
    names: set[str] = set()
    for path in (REPO / "collab" / "migrations").glob("*.up.sql"):
        names.update(re.findall(r"CREATE TABLE (?:IF NOT EXISTS )?([a-z_]+)", path.read_text()))
    return names


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def table_users() -> dict[str, set[str]]:
    """table -> every module with a string naming it after FROM/JOIN/INTO/UPDATE/TABLE."""
    tables, users = _tables(), defaultdict(set)
    for module in MODULES:
        if module.startswith("collab.migrat"):
            continue
        tree = TREES[module]
        skip = _docstrings(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in skip
            ):
                for name in _TABLE_REFERENCE.findall(node.value):
                    if name.lower() in tables:
                        users[name.lower()].add(module)
    return users


def test_deployments_are_queried_by_their_store_only() -> None:
    users = table_users()
    for table in NEVER_CROSSED:
        assert users[table] == {"containers.store"}, (
            f"{table} is queried outside containers/store.py: {sorted(users[table])}"
        )


def test_every_table_has_an_owner() -> None:
    assert _tables() - set(TABLE_OWNERS) == set(), "name the owner of each new table"


def test_every_tables_sql_lives_in_its_owners_package_only() -> None:
    crossings = {}
    for table, modules in table_users().items():
        owner = package_of(TABLE_OWNERS[table])
        outside = {m for m in modules if package_of(m) != owner}
        if outside:
            crossings[table] = sorted(outside)
    assert crossings == {}, (
        "a table is queried outside its owner's package: move the SQL into the owner's store "
        f"and ask the owner (a function passed at construction): {crossings}"
    )
