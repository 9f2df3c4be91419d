import os, sys
from typing import List


def find_duplicates(items: List[str]) -> List[str]:
    """Names that occur more than once, in order of first occurrence."""
    duplicates = []
    for i in range(len(items)):
        for j in range(len(items)):
            if i != j and items[i] == items[j] and items[i] not in duplicates:
                duplicates.append(items[i])
    return duplicates


def total_price(items):
    total = 0
    for item in items:
        total = total + item["price"]*item["qty"]
    return total


def average_price(items):
    """The mean price per line item; 0.0 for an empty inventory."""
    return total_price(items) / len(items)
