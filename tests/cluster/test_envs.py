"""The conda env files: they parse, use conda-forge without defaults, pin every package and hold
every third-party package that the scripts of their rules import.

Conda channels are out of reach in CI, so the envs are never solved here; instead each rule's
`conda:` env is compared with the imports of its `script:` and of the sail_core modules that
script loads, followed through sail_core transitively. A rule whose `conda:` is a function (the
embed rule picks its env by encoder kind) is checked against every env file that function names.
"""

import ast
import re
import sys
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
import yaml

from sail_core.embed.plan import BIOMEDPARSE_KIND
from sail_core.embed.registry import KIND_MODULES

REPO = Path(__file__).parents[2]
WORKFLOW_FILES = [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk"))]
ENV_FILES = sorted((REPO / "envs").glob("*.yaml"))
CHANNELS = ["conda-forge", "nodefaults"]

# Modules a rule's script loads by name at run time in a given env (the encoder registry imports
# the module of an encoder's kind with importlib), which reading the import statements cannot see.
RUNTIME_MODULES = {
    ("embed", "embed-gpu.yaml"): [
        module for kind, module in KIND_MODULES.items() if kind != BIOMEDPARSE_KIND
    ],
    ("embed", "biomedparse.yaml"): [KIND_MODULES[BIOMEDPARSE_KIND]],
}
# Top-level modules that come from a source checkout put on sys.path, not from a package:
# BiomedParse's `modeling` and `utilities` (encoder spec `repo_dir`).
CHECKOUT_MODULES = {"modeling", "utilities"}
# conda-forge names of packages whose import name maps to another PyPI name than theirs
CONDA_FORGE_ALIASES = {"torch": {"pytorch", "pytorch-gpu", "pytorch-cpu"}}

RULE_HEADER = re.compile(r"^\s*(?:rule|checkpoint)\s+(\w+)\s*:", re.MULTILINE)
ENV_LITERAL = re.compile(r"\"([^\"]*envs/[^\"]+\.yaml)\"")
CONDA_PIN = re.compile(r"^[A-Za-z0-9_.\-]+\s*==?\s*\d[\w.*+!]*$")
PIP_PIN = re.compile(r"^[A-Za-z0-9_.\-]+(\[[\w,\-]+\])?==\d[\w.+!]*$|^git\+\S+@[0-9a-f]{40}$")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def directive_path(block: str, directive: str, base: Path, rule: str) -> Path | None:
    """The file named by a rule's `script:` directive, None if the rule has none."""
    if not re.search(rf"^\s+{directive}:", block, re.MULTILINE):
        return None
    match = re.search(rf"^\s+{directive}:\s*\n?\s*\"([^\"]+)\"", block, re.MULTILINE)
    if not match:
        raise AssertionError(f"rule {rule}: {directive} is not a plain string, cannot check it")
    return (base / match.group(1)).resolve()


def function_envs(name: str) -> tuple[Path, ...]:
    """The env files named in the body of the workflow function `name`."""
    for path in WORKFLOW_FILES:
        match = re.search(rf"^def {name}\(.*?(?=^\S)", path.read_text(), re.MULTILINE | re.DOTALL)
        if match:
            found = ENV_LITERAL.findall(match.group(0))
            assert found, f"function {name} names no env file"
            return tuple((path.parent / env).resolve() for env in found)
    raise AssertionError(f"conda function {name} is not defined in the workflow files")


def conda_envs(block: str, base: Path, rule: str) -> tuple[Path, ...]:
    """The env files a rule's `conda:` may choose: the one it names, or every one its function
    names; empty if the rule has none."""
    if not re.search(r"^\s+conda:", block, re.MULTILINE):
        return ()
    if re.search(r"^\s+conda:\s*\n?\s*\"", block, re.MULTILINE):
        return (directive_path(block, "conda", base, rule),)
    match = re.search(r"^\s+conda:\s*\n?\s*(\w+)\s*$", block, re.MULTILINE)
    if not match:
        raise AssertionError(f"rule {rule}: conda is neither a plain string nor a function name")
    return function_envs(match.group(1))


@cache
def rules() -> dict[str, tuple[tuple[Path, ...], Path | None]]:
    """rule name -> (conda env files, script file) for every rule of the workflow."""
    found = {}
    for path in WORKFLOW_FILES:
        text = path.read_text()
        pieces = RULE_HEADER.split(text)
        for name, block in zip(pieces[1::2], pieces[2::2], strict=True):
            found[name] = (
                conda_envs(block, path.parent, name),
                directive_path(block, "script", path.parent, name),
            )
    return found


def module_file(module: str) -> Path | None:
    base = REPO.joinpath(*module.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def imported_names(path: Path, module: str | None) -> set[str]:
    """Dotted names imported by a file (modules and `from x import y` as x and x.y); `module` is
    the file's module name, needed to resolve relative imports."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = node.module
            if node.level:
                package = module if path.name == "__init__.py" else module.rpartition(".")[0]
                anchor = package.rsplit(".", node.level - 1)[0]
                source = f"{anchor}.{node.module}" if node.module else anchor
            names.add(source)
            names.update(f"{source}.{alias.name}" for alias in node.names)
    return names


def third_party_imports(script: Path, extra_modules: list[str]) -> dict[str, Path]:
    """Top-level third-party module -> a file importing it, over the script and the sail_core
    modules (with their parent packages) that it loads, transitively."""
    found: dict[str, Path] = {}
    pending = [(script, None)] + [(module_file(m), m) for m in extra_modules]
    seen: set[Path] = set()
    while pending:
        path, module = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in imported_names(path, module):
            top = name.split(".")[0]
            if top == "sail_core":
                parts = name.split(".")
                for depth in range(1, len(parts) + 1):
                    own = ".".join(parts[:depth])
                    if (own_file := module_file(own)) is not None:
                        pending.append((own_file, own))
            elif top not in sys.stdlib_module_names | CHECKOUT_MODULES:
                found.setdefault(top, path)
    return found


@cache
def installed_distributions() -> dict[str, list[str]]:
    return packages_distributions()


def package_names(import_name: str) -> set[str]:
    """Package names (normalised) that may provide a top-level import name."""
    distributions = installed_distributions().get(import_name, [import_name])
    return {normalise(d) for d in distributions} | CONDA_FORGE_ALIASES.get(import_name, set())


def load_env(path: Path) -> dict:
    env = yaml.safe_load(path.read_text())
    assert isinstance(env, dict), f"{path.name}: not a YAML mapping"
    return env


def split_dependencies(env: dict) -> tuple[list[str], list[str]]:
    """(conda specs, pip specs) of an env file."""
    conda, pip = [], []
    for entry in env["dependencies"]:
        if isinstance(entry, dict):
            pip.extend(entry["pip"])
        else:
            conda.append(entry)
    return conda, pip


def spec_name(spec: str) -> str:
    """Normalised package name of a conda or pip spec (`numpy=2.3`, `git+https://.../x.git@c`)."""
    if spec.startswith("git+"):
        return normalise(spec.split("@")[0].rsplit("/", 1)[-1].removesuffix(".git"))
    return normalise(re.split(r"[=<>!~\[ ]", spec, maxsplit=1)[0])


def env_package_names(env: dict) -> set[str]:
    conda, pip = split_dependencies(env)
    return {spec_name(spec) for spec in conda + pip}


def rules_using(env_path: Path) -> dict[str, Path | None]:
    return {name: script for name, (envs, script) in rules().items() if env_path.resolve() in envs}


@pytest.mark.parametrize("env_path", ENV_FILES, ids=lambda p: p.name)
def test_env_file_uses_conda_forge_and_pins_every_package(env_path):
    env = load_env(env_path)
    assert env.get("channels") == CHANNELS, f"{env_path.name}: channels must be {CHANNELS}"
    conda, pip = split_dependencies(env)
    unpinned = [spec for spec in conda if not CONDA_PIN.match(spec)]
    unpinned += [spec for spec in pip if not PIP_PIN.match(spec)]
    assert not unpinned, f"{env_path.name}: packages without a pinned version: {unpinned}"
    names = env_package_names(env)
    assert "python" in names, f"{env_path.name}: does not pin python"
    if pip:
        assert "pip" in names, f"{env_path.name}: has a pip section but does not list pip"


@pytest.mark.parametrize("env_path", ENV_FILES, ids=lambda p: p.name)
def test_env_holds_every_package_its_rules_import(env_path):
    users = rules_using(env_path)
    assert users, f"{env_path.name}: no rule uses this env"
    available = env_package_names(load_env(env_path))
    missing = []
    for rule, script in sorted(users.items()):
        if script is None:
            continue
        imports = third_party_imports(script, RUNTIME_MODULES.get((rule, env_path.name), []))
        for name, importer in sorted(imports.items()):
            if not package_names(name) & available:
                missing.append(f"{name} (rule {rule}, imported by {importer.relative_to(REPO)})")
    assert not missing, f"{env_path.name} lacks packages that its rules import: {missing}"


def test_every_scripted_rule_runs_in_one_of_the_env_files():
    env_files = {path.resolve() for path in ENV_FILES}
    scripted = {rule: envs for rule, (envs, script) in rules().items() if script is not None}
    assert scripted, "no rule with a script found in the workflow files"
    without = sorted(rule for rule, envs in scripted.items() if not envs)
    assert not without, f"rules with a script but no conda env: {without}"
    unknown = {
        rule: [str(env) for env in envs if env not in env_files]
        for rule, envs in scripted.items()
        if not set(envs) <= env_files
    }
    assert not unknown, f"rules whose conda env is not one of envs/*.yaml: {unknown}"
