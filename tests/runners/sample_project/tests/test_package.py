import shapes


def test_package_has_a_docstring():
    assert shapes.__doc__
