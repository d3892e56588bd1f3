import wordfreq


def test_package_imports():
    assert wordfreq.__doc__
