import inventory


def test_package_imports():
    assert inventory.__doc__
