import unittest

from ordering import order


class OrderTest(unittest.TestCase):
    def test_sorts(self):
        self.assertEqual(order([2, 1]), [1, 2])

    def test_empty(self):
        self.assertEqual(order([]), [])


# run as `python -m test.test_ordering`; under pytest this exits while the module is imported
unittest.main()
