"""The test suite (CONTRIBUTING.md, «Checks and the test suite»).

Bytecode caches are written even where PYTHONDONTWRITEBYTECODE is set (some images set it): without them every xdist
worker rewrites the asserts of every test module and compiles the app it imports (about 3.5 s of CPU per worker), and
every process a test starts compiles the app again. The caches go to ``__pycache__`` folders, which git ignores. This
package is imported before ``tests/conftest.py`` and so before the app.
"""

import sys

sys.dont_write_bytecode = False
