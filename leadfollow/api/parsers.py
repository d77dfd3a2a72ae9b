"""A JSON parser that refuses what leadfollow cannot store, before any view sees it."""

from __future__ import annotations

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from leadfollow import jsonsafety


class SafeJSONParser(JSONParser):
    """DRF's parser (which already refuses NaN and Infinity in strict mode), plus: nesting
    deeper than ``MAX_JSON_DEPTH`` and numbers that overflow to infinity (``1e999``) are a
    400. Without it, 10,000 nested brackets raise ``RecursionError`` — a 500 — in the parser
    or in whatever walks the data next. NUL and lone surrogates are left to the fields, which
    name the field at fault."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(jsonsafety.message("too_deep")) from None
        code = jsonsafety.problem(data)
        if code in {"too_deep", "not_finite"}:
            raise ParseError(jsonsafety.message(code))
        return data
