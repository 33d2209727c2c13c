import os
import sys

# ``python -m`` puts the current folder first on sys.path.  --explain imports no user
# code, so when it is run from the app folder, the modules it imports from here on must
# not be looked up there (a json.py in the app folder would be run).
if "--explain" in sys.argv[1:] and sys.path and os.path.abspath(sys.path[0] or ".") == os.getcwd():
    del sys.path[0]

from .cli import main

sys.exit(main())
