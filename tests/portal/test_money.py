from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import translation

from core.templatetags.money import format_money

NB = "\xa0"


@pytest.mark.parametrize(
    ("language", "amount", "currency", "expected"),
    [
        ("ru", Decimal("1234.5"), "RUB", f"1{NB}234,50{NB}₽"),
        ("ru", Decimal("-1234567.891"), "USD", f"-1{NB}234{NB}567,89{NB}$"),
        ("ru", Decimal("0.005"), "EUR", f"0,01{NB}€"),
        ("ru", Decimal("12"), "CHF", f"12,00{NB}CHF"),
        ("en", Decimal("1234.5"), "RUB", f"RUB{NB}1,234.50"),
        ("en", Decimal("1234.5"), "USD", "$1,234.50"),
        ("en", Decimal("-5"), "GBP", "-£5.00"),
        ("en", Decimal("1234.5"), "JPY", "¥1,235"),
        ("en", Decimal("-0.001"), "EUR", "€0.00"),
        ("en", "1000000", "rub", f"RUB{NB}1,000,000.00"),
        ("en", 3, None, "3.00"),
        # Decimals come from CLDR (Babel), not a hand-kept table: the dinar has three.
        ("ru", Decimal("1234.5675"), "KWD", f"1{NB}234,568{NB}KWD"),
        ("en", Decimal("1234.5675"), "KWD", f"KWD{NB}1,234.568"),
        ("en", Decimal("99.995"), "CHF", f"CHF{NB}100.00"),
        ("en", Decimal("1234.5"), "CNY", "CN¥1,234.50"),
    ],
)
def test_format_money(language, amount, currency, expected):
    assert format_money(amount, currency, language=language) == expected


@pytest.mark.parametrize("value", [None, "", "abc", Decimal("NaN"), Decimal("Infinity")])
def test_format_money_non_numbers_render_empty(value):
    assert format_money(value, "RUB", language="en") == ""


def test_money_filter_follows_the_active_language():
    template = Template("{% load money %}{{ amount|money:currency }}")
    context = Context({"amount": Decimal("1234.5"), "currency": "RUB"})
    with translation.override("ru"):
        assert template.render(context) == f"1{NB}234,50{NB}₽"
    with translation.override("en"):
        assert template.render(context) == f"RUB{NB}1,234.50"
