"""Stand-in for ansible-test's pip bootstrap script (get-pip.py).

ansible-test downloads get-pip.py from ci-files.testing.ansible.com to bootstrap pip in the
virtual environments of `ansible-test sanity --venv`; that host is not reachable from CI.
`make sanity` copies this file to ~/.ansible/test/cache/get_pip_<version>.py when no real
script is cached: it installs pip with ensurepip, then the requested packages from PyPI.
"""

import subprocess
import sys

# ensurepip in its own process: in-process it drops PIP_* variables and the pip config (with it
# the CA bundle a proxy may need) from this process's environment.
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", *args]))
