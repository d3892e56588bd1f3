"""Stock levels per SKU.

>>> stock = Stock()
>>> stock.add("apple", 5)
5
>>> stock.take("apple", 2)
3
>>> stock.level("apple"), stock.level("pear")
(3, 0)
>>> stock.take("apple", 10)
Traceback (most recent call last):
    ...
inventory.stock.OutOfStock: apple: wanted 10, have 3
>>> stock.add("apple", 0)
Traceback (most recent call last):
    ...
ValueError: units must be positive
>>> stock.take("apple", -1)
Traceback (most recent call last):
    ...
ValueError: units must be positive
"""

from __future__ import annotations


class OutOfStock(Exception):
    """Raised when more units are taken than the shelf holds."""


class Stock:
    def __init__(self) -> None:
        self._levels: dict[str, int] = {}

    def add(self, sku: str, units: int) -> int:
        if units <= 0:
            raise ValueError("units must be positive")
        self._levels[sku] = self._levels.get(sku, 0) + units
        return self._levels[sku]

    def take(self, sku: str, units: int) -> int:
        if units <= 0:
            raise ValueError("units must be positive")
        level = self._levels.get(sku, 0)
        if units > level:
            raise OutOfStock(f"{sku}: wanted {units}, have {level}")
        self._levels[sku] = level - units
        return self._levels[sku]

    def level(self, sku: str) -> int:
        return self._levels.get(sku, 0)
