"""Argon2id as in production, at its lowest cost, for the test suite.

Production's parameters take about a second a hash on a two-core machine, and the suite
hashes and checks passwords thousands of times. The parameters travel in each hash, so
verifying is as cheap; a hash made at full cost still verifies at full cost.
tests/unit/accounts/test_password_cost.py checks production's own parameters.

In the pytest process, tests/conftest.py's autouse `cheap_password_hashes` installs the
cheap hasher. A server the tests start in a subprocess gets it by being run through this
module: `python -m tests.cheap_passwords uvicorn ...` (or `ecampus.cli ...`), with the
repository on PYTHONPATH. tests/load leaves both out: loading a server with sign-ins at
their real cost is what those tests do.
"""

from __future__ import annotations

import runpy
import sys

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from ecampus.accounts import passwords

_CHEAP = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=8, parallelism=1),))


def cheap_hasher() -> PasswordHash:
    return _CHEAP


# What ecampus.accounts.passwords holds that makes the cheap hasher its own: the hasher, and
# the dummy hash (made by the hasher in use, when first needed) that unknown accounts check.
PATCHES: dict[str, object] = {"_hasher": cheap_hasher, "_DUMMY_HASH": None}


def install() -> None:
    """Hash and verify with the cheap hasher in this process from now on."""
    for name, value in PATCHES.items():
        setattr(passwords, name, value)


if __name__ == "__main__":
    # python -m tests.cheap_passwords MODULE ARGS...: run MODULE as `python -m` would.
    install()
    module = sys.argv[1]
    sys.argv = [module, *sys.argv[2:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
