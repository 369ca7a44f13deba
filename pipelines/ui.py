"""`make ui`: the Dagster webserver + daemon on 127.0.0.1, reading workspace.yaml.

``dagster dev`` started from a script ignores SIGINT unless the default handler is restored before exec.
"""

from __future__ import annotations

import os
import signal
import sys


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    port = os.environ.get("PHYSWORLD_UI_PORT", "3000")
    dagster = os.path.join(os.path.dirname(sys.executable), "dagster")
    os.execv(dagster, [dagster, "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", port])


if __name__ == "__main__":
    main()
