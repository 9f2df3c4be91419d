from inventory import average_price, find_duplicates, total_price


def test_find_duplicates_keeps_first_occurrence_order() -> None:
    assert find_duplicates(["b", "a", "b", "c", "a"]) == ["b", "a"]


def test_total_price() -> None:
    items = [{"price": 2.5, "qty": 2}, {"price": 1.0, "qty": 3}]
    assert total_price(items) == 8.0


def test_average_price_of_an_empty_inventory_is_zero() -> None:
    assert average_price([]) == 0.0
