"""Pass/fail counting for the train/ self-tests, in the tests/run.sh convention: each check that fails prints
"FAIL: <message>", and finish() prints "<name>: N passed, N failed" and exits nonzero when any failed."""
import sys


class Checks:
    def __init__(self, name):
        self.name, self.passed, self.failed = name, 0, 0

    def __call__(self, cond, msg):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print("FAIL: " + msg)

    def finish(self):
        print("%s: %d passed, %d failed" % (self.name, self.passed, self.failed))
        sys.exit(1 if self.failed else 0)
