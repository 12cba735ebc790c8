import pytest
import yaml

from tests.docs_variables import PAGE, REPO, problems, render

# Variables the inventory gives every host, besides the roles' own.
INVENTORY_VARS = {"ansible_connection", "ansible_python_interpreter", "mesh_kubeconfig", "mesh_context"}


def test_docs_variables_md_is_up_to_date():
    assert PAGE.read_text() == render(), "docs/variables.md is out of date: run python tests/docs_variables.py"


def test_every_role_variable_is_in_argument_specs_with_the_same_default():
    assert problems() == []


def role(repo, name, defaults, options=None):
    base = repo / "roles" / name
    (base / "tasks").mkdir(parents=True)
    (base / "defaults").mkdir()
    (base / "defaults" / "main.yml").write_text(yaml.safe_dump(defaults))
    if options is not None:
        (base / "meta").mkdir()
        specs = {"argument_specs": {"main": {"short_description": "Do <it>", "options": options}}}
        (base / "meta" / "argument_specs.yml").write_text(yaml.safe_dump(specs))


@pytest.fixture
def repo(tmp_path):
    role(tmp_path, "preflight", {"mesh_id": "mesh1", "mesh_locality": ""}, {
        "mesh_id": {"description": "Mesh ID, see O(mesh_locality).", "type": "str", "default": "mesh1"},
        "mesh_locality": {"description": ["Locality of this cluster,", "C(a/b|c)."], "type": "str"},
        "mesh_mode": {"description": "Mode.", "choices": ["", "x"], "default": ""},
    })
    role(tmp_path, "extra", {"extra_var": 1})
    role(tmp_path, "services", {"mesh_services_prune": True, "mesh_services_new": 1}, {
        "mesh_services_prune": {"description": "Prune.", "type": "bool", "default": False},
        "mesh_locality": {"description": "Locality.", "type": "str"},
    })
    return tmp_path


def test_problems_name_undocumented_variables_and_disagreeing_defaults(repo):
    assert problems(repo) == [
        "roles/services: mesh_services_new is in defaults/main.yml but not in meta/argument_specs.yml",
        "roles/services: mesh_services_prune defaults to True in defaults/main.yml but False in meta/argument_specs.yml",
        "roles/extra: no meta/argument_specs.yml (variables: extra_var)",
    ]


def test_the_page_lists_roles_in_flow_order_with_defaults_scope_and_plain_markdown(repo):
    page = render(repo)
    assert page.index("## preflight") < page.index("## services") < page.index("## extra")
    assert "Do &lt;it&gt;." in page
    assert "| `mesh_id` | str | `mesh1` | fleet | Mesh ID, see `mesh_locality`. |" in page
    # per cluster in every role once one role says "this cluster"; the default from defaults/main.yml
    assert "| `mesh_locality` | str | `\"\"` | cluster | Locality of this cluster, `a/b\\|c`. |" in page
    assert "| `mesh_locality` | str | - | cluster | Locality. |" in page
    assert "One of: `\"\"`, `x`." in page
    assert "No `meta/argument_specs.yml` yet." in page


def test_the_example_inventory_sets_only_variables_the_roles_define():
    documented = set(INVENTORY_VARS)
    for specs in (REPO / "roles").glob("*/meta/argument_specs.yml"):
        for entry_point in yaml.safe_load(specs.read_text())["argument_specs"].values():
            documented.update((entry_point or {}).get("options") or {})
    example = REPO / "inventory" / "example"
    for path in [*example.glob("group_vars/*.yml"), *example.glob("host_vars/*.yml")]:
        unknown = set(yaml.safe_load(path.read_text())) - documented
        assert not unknown, "%s sets variables no role defines: %s" % (path.relative_to(REPO), sorted(unknown))
    hosts = yaml.safe_load((example / "hosts.yml").read_text())["mesh_clusters"]
    assert sorted(hosts["hosts"]) == sorted(p.stem for p in example.glob("host_vars/*.yml")) == ["central", "east", "west"]
