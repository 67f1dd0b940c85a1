"""Imports only point down the house (README, Layout): mtm_jax never imports the studies, configs or scripts
beside it; each library module imports only its own layer or those below; and no two modules import each
other, directly or around a loop. Lazy imports inside functions count the same as those at the top."""

import ast
import os

from conftest import REPO

# The library's layers, lowest first: a module may import its own layer and those below it.
LAYERS = (
  ("errors", "spec", "seeds", "matmul", "packing", "runtime", "run_log", "distributed", "optimizer"),
  ("masks", "normalization", "loss", "model"),
  ("data",),
  ("experiment",),
  ("coverage", "predict", "planning", "checkpoint"),
  ("envs",),  # environments, the one rollout loop, the D4RL score
  ("agents",),  # SAC, TD3
  ("datagen",),  # datasets, made with agents in environments
  ("eval",),  # held-out losses, capabilities, model rollouts
  ("train",),
)
# Beside the library, lowest first: each may import the library and those before it, never those after.
HOUSE = ("mtm_jax", "configs", "studies", "experiments", "benchmarks")


def imports(path: str) -> set[str]:
  """Every module ``path`` imports (``from a.b import c`` counts a.b and a.b.c)."""
  found = set()
  for node in ast.walk(ast.parse(open(path).read(), path)):
    if isinstance(node, ast.Import):
      found |= {alias.name for alias in node.names}
    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
      found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
  return found


def modules(package: str) -> dict[str, str]:
  """{dotted module name: path} of every Python file under ``package``."""
  found = {}
  for root, _, files in os.walk(os.path.join(REPO, package)):
    for name in files:
      if name.endswith(".py"):
        dotted = os.path.relpath(os.path.join(root, name), REPO)[:-3].replace(os.sep, ".")
        found[dotted.removesuffix(".__init__")] = os.path.join(root, name)
  return found


def layer(module: str) -> int:
  top = module.split(".")[1]
  for i, names in enumerate(LAYERS):
    if top in names:
      return i
  raise AssertionError(f"{module} is in no layer of LAYERS: add it where its imports put it")


def test_the_library_imports_only_its_own_layer_or_below():
  upward = []
  for module, path in modules("mtm_jax").items():
    if module == "mtm_jax":
      continue  # the package's facade re-exports the public API from every layer
    for imported in imports(path):
      if imported.startswith("mtm_jax.") and layer(imported) > layer(module):
        upward.append(f"{module} (layer {layer(module)}) imports {imported} (layer {layer(imported)})")
  assert not upward, "\n".join(sorted(set(upward)))


def test_the_house_imports_point_down():
  upward = []
  for i, package in enumerate(HOUSE):
    for module, path in modules(package).items():
      for imported in imports(path):
        if imported.split(".")[0] in HOUSE[i + 1 :]:
          upward.append(f"{module} imports {imported}")
  assert not upward, "\n".join(sorted(set(upward)))


def test_no_module_imports_itself_around_a_loop():
  known = {m: p for package in HOUSE for m, p in modules(package).items()}
  graph = {m: {i for i in imports(p) if i in known and i != m and not m.startswith(i + ".")} for m, p in known.items()}
  # A package's __init__ may re-export its own modules: an edge from a package to its children is not a loop.
  graph = {m: {i for i in deps if not i.startswith(m + ".")} for m, deps in graph.items()}
  loops, state = [], {}

  def visit(m, path):
    state[m] = "open"
    for n in sorted(graph[m]):
      if state.get(n) == "open":
        loops.append(" -> ".join([*path[path.index(n) :], n]))
      elif n not in state:
        visit(n, [*path, n])
    state[m] = "done"

  for m in sorted(graph):
    if m not in state:
      visit(m, [m])
  assert not loops, "\n".join(loops)


def test_no_sys_path_edits_outside_tests():
  edits = [f"{module}" for package in HOUSE for module, path in modules(package).items() if "sys.path" in open(path).read()]
  assert not edits, f"these edit sys.path (run them with python -m from the repository root instead): {edits}"
