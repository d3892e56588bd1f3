"""Prices with bulk discounts.

>>> unit_price(1000, 1), unit_price(1000, 10), unit_price(1000, 100)
(1000, 900, 800)
>>> order_total(250, 12)
2700
>>> unit_price(-1, 1)
Traceback (most recent call last):
    ...
ValueError: base price must be >= 0 and quantity > 0
"""

from __future__ import annotations


def unit_price(base_cents: int, quantity: int) -> int:
    """Price per unit in cents: 10 % off from 10 units, 20 % off from 100."""
    if base_cents < 0 or quantity <= 0:
        raise ValueError("base price must be >= 0 and quantity > 0")
    if quantity >= 100:
        return base_cents * 80 // 100
    if quantity >= 10:
        return base_cents * 90 // 100
    return base_cents


def order_total(base_cents: int, quantity: int) -> int:
    return unit_price(base_cents, quantity) * quantity
