"""Which Istio the lab builds: the pin, else the first served fallback, always saying why.

The Go module proxy's answers are replayed from what it said (refused versions, served ones);
the choice and the messages are the lab's own logic.
"""

import pytest

from lab import build
from lab.config import load_versions

REFUSED = "{0}: reading https://proxy.golang.org/{0}.info: 403 Forbidden server response: This module version is not available."


@pytest.fixture
def proxy(tmp_path, monkeypatch):
    """A proxy serving `served` (module@version) with go.mod files pinning served api/client-go."""
    monkeypatch.setenv("LAB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("LAB_ISTIO_VERSION", raising=False)
    build.resolve_istio.cache_clear()
    served = set()

    def download(module, version):
        key = f"{module}@{version}"
        if key not in served:
            return None, REFUSED.format(key)
        source = tmp_path / key
        source.mkdir(parents=True, exist_ok=True)
        (source / "VERSION").write_text("1.99\n")
        go_mod = tmp_path / f"{key.replace('/', '_')}.mod"
        go_mod.write_text(f"module {module}\n\ngo 1.26.0\n\nrequire (\n\tistio.io/api v1.99.0\n"
                          "\tistio.io/client-go v1.99.0\n)\n")
        return {"Dir": str(source), "GoMod": str(go_mod)}, ""

    monkeypatch.setattr(build, "module_download", download)
    yield served
    build.resolve_istio.cache_clear()


def pins():
    pin = load_versions()["istio"]
    return pin, pin["fallbacks"][0]


def test_the_pin_is_used_when_it_and_its_dependencies_are_served(proxy, capsys):
    pin = pins()[0]
    proxy.update({f"istio.io/istio@{pin['version']}", "istio.io/api@v1.99.0", "istio.io/client-go@v1.99.0"})
    istio = build.resolve_istio()
    assert (istio.version, istio.release) == (pin["version"], pin["release"])
    assert f"Istio {pin['release']}: istio.io/istio@{pin['version']}" in capsys.readouterr().err


def test_a_refused_pin_falls_back_and_says_why(proxy, capsys):
    pin, fallback = pins()
    proxy.update({f"istio.io/istio@{fallback['version']}", "istio.io/api@v1.99.0", "istio.io/client-go@v1.99.0"})
    istio = build.resolve_istio()
    assert (istio.version, istio.release) == (fallback["version"], fallback["release"])
    err = capsys.readouterr().err
    assert "is used instead of the pin" in err and f"{pin['version']} ({pin['branch']}): " in err
    assert "403 Forbidden server response: This module version is not available." in err


def test_a_pin_whose_api_module_is_refused_is_not_used(proxy, capsys):
    pin, fallback = pins()
    proxy.update({f"istio.io/istio@{pin['version']}", f"istio.io/istio@{fallback['version']}",
                  "istio.io/client-go@v1.99.0"})
    with pytest.raises(build.BuildError) as refused:
        build.resolve_istio()
    message = str(refused.value)
    assert "its dependencies are refused: istio.io/api@v1.99.0: reading" in message
    assert "LAB_ISTIO_VERSION" in message and "lab/versions.toml" in message


def test_the_override_is_the_only_candidate_and_its_release_comes_from_the_module(proxy, monkeypatch):
    monkeypatch.setenv("LAB_ISTIO_VERSION", "v0.0.0-20990101000000-abcdefabcdef")
    proxy.update({"istio.io/istio@v0.0.0-20990101000000-abcdefabcdef", "istio.io/api@v1.99.0",
                  "istio.io/client-go@v1.99.0"})
    istio = build.resolve_istio()
    assert (istio.version, istio.release) == ("v0.0.0-20990101000000-abcdefabcdef", "1.99-dev")
