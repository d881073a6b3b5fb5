"""The container image installs deploy/requirements.txt: every dependency pyproject.toml declares
(and the [lambda] extra the poller role needs) must be pinned there, at a version it allows."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "deploy" / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"deploy/requirements.txt: {line!r} is not pinned with =="
            pins[canonicalize_name(name)] = version
    return pins


def test_every_runtime_dependency_is_pinned_in_the_image_at_an_allowed_version():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [Requirement(text) for text in [*project["dependencies"], *project["optional-dependencies"]["lambda"]]]
    pins = _pins()
    problems = []
    for requirement in declared:
        pinned = pins.get(canonicalize_name(requirement.name))
        if pinned is None:
            problems.append(f"{requirement.name} is not pinned")
        elif not requirement.specifier.contains(pinned, prereleases=True):
            problems.append(f"{requirement.name}=={pinned} does not satisfy {requirement.specifier}")
    assert not problems, "regenerate deploy/requirements.txt (deploy/README.md, Image): " + "; ".join(problems)


def test_the_dockerfile_installs_the_pins_and_runs_as_an_unprivileged_user_with_a_health_check():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "--requirement requirements.txt" in dockerfile
    assert "\nUSER 10001:10001\n" in dockerfile
    assert "\nHEALTHCHECK " in dockerfile
    assert dockerfile.count("\nFROM ") == 2  # build and runtime stages
    assert 'ENTRYPOINT ["/app/deploy/entrypoint.sh"]' in dockerfile


def test_the_image_carries_every_local_app_the_settings_install():
    from django.conf import settings

    dockerfile = (ROOT / "Dockerfile").read_text()
    runtime = dockerfile[dockerfile.index(" AS runtime"):]
    copied = [line.split()[-2] for line in runtime.splitlines() if line.startswith("COPY ") and "--from=" not in line]
    local_apps = [app.replace(".", "/") for app in settings.INSTALLED_APPS if (ROOT / app.split(".")[0]).is_dir()]
    assert local_apps, "no local apps found"
    for app in [*local_apps, "config", "manage.py", "deploy/lambda", "deploy/entrypoint.sh"]:
        assert any(app == source or app.startswith(source.rstrip("/") + "/") for source in copied), (
            f"the Dockerfile's runtime stage does not copy {app}: the container would not start")
