"""JupyterHub for a class of Module 14 on one machine: instructors, students, nbgrader's exchange.

Start it as root from the repository (it spawns each user's server as that Unix user)::

    M14_STUDENTS=alice,bob M14_INSTRUCTORS=instructor \
        .venv/bin/jupyterhub -f deploy/jupyterhub/jupyterhub_config.py

Settings, from the environment (defaults in brackets):

* ``M14_INSTRUCTORS`` [instructor], ``M14_STUDENTS`` (comma-separated Unix user names; the
  users must exist: ``useradd -m NAME``). Instructors are hub admins.
* ``M14_COURSE_ROOT`` [/srv/module14/course]: the instructor's nbgrader course folder
  (``release/``, ``submitted/``, ``autograded/``, ``feedback/``, ``gradebook.db``); made by
  :mod:`deploy.jupyterhub.setup_course` (``python deploy/jupyterhub/setup_course.py``).
* ``M14_EXCHANGE`` [/srv/nbgrader/exchange]: nbgrader's exchange, writable by every user.
* ``M14_STATE`` [/srv/module14/hub]: the hub's own database, cookie secret and proxy pid.
* ``M14_HUB_IP`` [127.0.0.1], ``M14_HUB_PORT`` [8000]: where the hub listens.
* ``M14_AUTHENTICATOR`` [pam]: ``pam`` (the users' Unix passwords) or ``dummy`` (any
  password: for a test on loopback only, never for a class).
* ``M14_API_TOKEN``: optional; a service ``course-admin`` with this token may manage users,
  servers and tokens through the hub's REST API (what the tests use).

Students get the student JupyterLab (nbgrader's assignment list and Validate only:
:func:`autograders.student_lab.write_student_config`); instructors get every nbgrader tool,
with Formgrader working on ``M14_COURSE_ROOT``. On Kubernetes, see ``deploy/kubernetes/``.
"""

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from autograders.student_lab import write_student_config  # noqa: E402

c = get_config()  # noqa: F821  (JupyterHub's config loader provides it)


def _names(variable: str, default: str = "") -> list[str]:
    return [n.strip() for n in os.environ.get(variable, default).split(",") if n.strip()]


INSTRUCTORS = _names("M14_INSTRUCTORS", "instructor")
STUDENTS = _names("M14_STUDENTS")
COURSE_ROOT = Path(os.environ.get("M14_COURSE_ROOT", "/srv/module14/course"))
EXCHANGE = Path(os.environ.get("M14_EXCHANGE", "/srv/nbgrader/exchange"))
STATE = Path(os.environ.get("M14_STATE", "/srv/module14/hub"))
STATE.mkdir(parents=True, exist_ok=True)

# --- the hub ------------------------------------------------------------------------------
c.JupyterHub.ip = os.environ.get("M14_HUB_IP", "127.0.0.1")
c.JupyterHub.port = int(os.environ.get("M14_HUB_PORT", "8000"))
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ.get("M14_HUB_INTERNAL_PORT", "8081"))
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:" + os.environ.get("M14_PROXY_API_PORT", "8001")
c.ConfigurableHTTPProxy.pid_file = str(STATE / "proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.cleanup_servers = True  # the users' servers stop with the hub
c.JupyterHub.cleanup_proxy = True

# --- who may log in -----------------------------------------------------------------------
c.JupyterHub.authenticator_class = os.environ.get("M14_AUTHENTICATOR", "pam")
c.Authenticator.allowed_users = set(INSTRUCTORS + STUDENTS)
c.Authenticator.admin_users = set(INSTRUCTORS)

token = os.environ.get("M14_API_TOKEN")
if token:
    c.JupyterHub.services = [{"name": "course-admin", "api_token": token}]
    c.JupyterHub.load_roles = [
        {
            "name": "course-admin",
            "scopes": ["admin:users", "admin:servers", "tokens", "access:servers"],
            "services": ["course-admin"],
        }
    ]

# --- each user's server -------------------------------------------------------------------
# LocalProcessSpawner (the default): each server runs as the Unix user of the same name, so
# nbgrader's exchange knows who submitted (it takes the Unix user name).
c.Spawner.cmd = [str(Path(sys.executable).parent / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120

# Every user's nbgrader reads this: the course id and the exchange.
SHARED_CONFIG = STATE / "shared-config"
SHARED_CONFIG.mkdir(parents=True, exist_ok=True)
(SHARED_CONFIG / "nbgrader_config.json").write_text(
    '{"CourseDirectory": {"course_id": "module14-fault-tolerance"},\n'
    f' "Exchange": {{"root": "{EXCHANGE}"}}}}\n'
)
STUDENT_CONFIG = write_student_config(STATE / "student-config")
for folder in (STATE, SHARED_CONFIG, STUDENT_CONFIG, *STUDENT_CONFIG.rglob("*")):
    folder.chmod(0o755 if folder.is_dir() else 0o644)


def pre_spawn_hook(spawner):  # noqa: ANN001, ANN201 (JupyterHub's hook signature)
    """Students: the student JupyterLab. Instructors: every tool, started in the course."""
    name = spawner.user.name
    paths = [str(SHARED_CONFIG)]
    if name in INSTRUCTORS:
        # Formgrader reads the course's nbgrader_config.py (course root, sources, gradebook)
        spawner.notebook_dir = str(COURSE_ROOT)
        paths.insert(0, str(COURSE_ROOT))
    else:
        paths.insert(0, str(STUDENT_CONFIG))
    spawner.environment["JUPYTER_CONFIG_PATH"] = os.pathsep.join(paths)
    # the hidden tests import the graders from the repository (instructors grade)
    spawner.environment["PYTHONPATH"] = str(REPO)


c.Spawner.pre_spawn_hook = pre_spawn_hook
