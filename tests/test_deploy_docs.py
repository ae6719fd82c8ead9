"""The class-scale documentation matches what it documents.

Kubernetes cannot run here, so ``deploy/kubernetes/config.yaml`` is checked as text: it parses,
uses only the Zero to JupyterHub chart keys the README explains (the exchange volume, the
grader's service and role, the student/instructor split), and mounts the exchange where the
nbgrader configuration it ships says the exchange is. The one-machine setup it mirrors is run
for real by ``tests/test_jupyterhub.py``.
"""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"


def test_the_kubernetes_values_name_the_chart_keys_the_readme_explains() -> None:
    values = yaml.safe_load((DEPLOY / "kubernetes" / "config.yaml").read_text())
    storage = values["singleuser"]["storage"]
    volume = storage["extraVolumes"]["1-nbgrader-exchange"]
    mount = storage["extraVolumeMounts"]["1-nbgrader-exchange"]
    assert volume["persistentVolumeClaim"]["claimName"] == "nbgrader-exchange"
    assert mount["name"] == volume["name"]
    config = values["singleuser"]["extraFiles"]["nbgrader-config"]["data"]
    assert config["Exchange"]["root"] == mount["mountPath"]
    assert config["CourseDirectory"]["course_id"] == "module14-fault-tolerance"
    assert "grader" in values["hub"]["services"]
    assert values["hub"]["loadRoles"]["grader"]["services"] == ["grader"]
    assert "pre_spawn_hook" in values["hub"]["extraConfig"]["m14-roles"]
    readme = (DEPLOY / "README.md").read_text()
    for key in ("extraVolumes", "hub.services.grader", "hub.loadRoles", "pre_spawn_hook"):
        assert key in readme, f"deploy/README.md does not explain {key}"


def test_every_file_the_readme_names_exists() -> None:
    readme = (DEPLOY / "README.md").read_text()
    for name in (
        "deploy/jupyterhub/jupyterhub_config.py",
        "deploy/jupyterhub/setup_course.py",
        "deploy/kubernetes/config.yaml",
        "autograders/dblock.py",
        "autograders/student_lab.py",
        "tests/test_jupyterhub.py",
        "tests/test_postgres_gradebook.py",
        "tests/test_cluster.py",
        "benchmarks/bench_cluster.py",
    ):
        assert name in readme or Path(name).name in readme
        assert (ROOT / name).exists(), f"deploy/README.md names {name}, which is missing"
