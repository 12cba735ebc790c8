"""Stand-in for the get-pip.py bootstrap script ansible-test downloads from a site this machine
cannot reach: pip comes from the standard library (ensurepip), then `pip install <args>` as
get-pip.py does, with packages from PyPI and the machine's pip configuration."""

import ensurepip
import os
import runpy
import sys

environment = dict(os.environ)
ensurepip.bootstrap(upgrade=True)
# ensurepip points PIP_CONFIG_FILE at /dev/null for itself; pip must see the real configuration.
os.environ.clear()
os.environ.update(environment)
# --no-setuptools and --no-wheel are get-pip.py's own options, not pip's.
sys.argv = ["pip", "install", *(arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel"))]
runpy.run_module("pip", run_name="__main__", alter_sys=True)
