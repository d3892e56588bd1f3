"""Exit codes of every ``handoff`` command, so scripts can tell outcomes apart."""

from enum import IntEnum


class Exit(IntEnum):
    OK = 0
    TASK_FAILED = 1  # a task or run finished, but not successfully
    USAGE = 2  # bad arguments or settings
    TIMEOUT = 3  # waited as long as told and the work is still going
    UNAVAILABLE = 4  # NATS unreachable, topology conflict, embedded server failed
    NOT_FOUND = 5  # unknown task, run or dead letter
    INTERRUPTED = 130
    PIPE_CLOSED = 141  # whoever read the output stopped reading (as a shell reports a SIGPIPE death)
