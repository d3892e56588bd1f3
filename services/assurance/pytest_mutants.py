"""pytest plugin (loaded with ``-p handoff_mutants``) for the runs against cosmic-ray's mutants.

cosmic-ray's exception-replacement operator turns ``except (KeyError, TypeError):`` into
``except (CosmicRayTestingException, TypeError):`` and expects the name to be defined where the mutant runs; its own
runner leaves that to the test command. Without it, the first exception that reaches the handler raises
``NameError`` there, and the mutant counts as killed whatever the tests check (toolz 1.0.0's ``get_in``: 3 of 4
"kills"). Defined as a builtin, the handler catches nothing that the code raises, as the operator means.
"""

import builtins


class CosmicRayTestingException(Exception):
    """Never raised by the code under test: a handler of only this catches nothing."""


setattr(builtins, "CosmicRayTestingException", CosmicRayTestingException)  # noqa: B010 (a new builtin)
