"""Run the transfer tests' file server in its own process (prints its URL, stops on stdin EOF).

Used where the client's memory must be measured alone: tracemalloc sees every thread
of a process, so an in-process server would be counted too.
"""

import logging
import sys

from tests.transfer.conftest import Served

if __name__ == "__main__":
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    served = Served()
    print(served.url, flush=True)
    sys.stdin.read()
    served.stop()
