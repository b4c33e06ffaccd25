"""Spreadsheet formula ("CSV injection") escaping for CSV files people open in Excel/LibreOffice.

OWASP: a cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return may be run as a
formula; prefixing a single quote makes the spreadsheet show it as text. Plain numbers (``-12.50``,
``+7``, ``1e-3``) are left alone: they start with a sign but are not formulas, and escaping them
would turn every negative amount into text.

Exact values matter to machines (a FOCUS consumer must read ``=x`` back as ``=x``), so escaping
is a choice of the caller: on for downloads meant for people, off for files meant for tools.
"""

from __future__ import annotations

import re

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def escape_formula(cell):
    """``cell`` made safe to open in a spreadsheet; non-strings and harmless strings unchanged."""
    if not isinstance(cell, str) or not cell.startswith(TRIGGERS) or _NUMBER.fullmatch(cell):
        return cell
    return "'" + cell
