"""Stand-in for ansible-test's pip bootstrap script (get-pip.py).

ansible-test downloads get-pip.py from ci-files.testing.ansible.com to bootstrap pip in the
virtual environments of `ansible-test sanity --venv`; that host is not reachable from CI.
`make sanity` copies this file to ~/.ansible/test/cache/get_pip_<version>.py when no real
script is cached: it installs pip with ensurepip, then the requested packages from PyPI.
"""

import ensurepip
import subprocess
import sys

ensurepip.bootstrap(upgrade=True)
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", *args]))
