"""Install Ansible's collection loader before any test module imports the collection, so that the
role-rendering tests (rolerender.py) find the collection's filters by their FQCN."""

import rolerender

rolerender.init()
