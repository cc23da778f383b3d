"""An HTTP request, or a stored authorization request, as authlib's OAuth 2.0 code reads it."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Payload, OAuth2Request
from starlette.datastructures import ImmutableMultiDict

# RFC 6749 Appendix A: parameter values are visible ASCII and space (VSCHAR). So no NUL, which
# no database stores, and nothing authlib cannot put in an error_description: outside state
# and nonce, which go back as given, also no '"' or '\\' (authlib quotes some values there).
_VSCHAR = re.compile(r"[\x20-\x7e]*")
_RETURNED_AS_GIVEN = frozenset({"state", "nonce"})


def _allowed(key: str, value: object) -> bool:
    if not isinstance(value, str) or not _VSCHAR.fullmatch(key) or not _VSCHAR.fullmatch(value):
        return False
    return key in _RETURNED_AS_GIVEN or ('"' not in value and "\\" not in value)


class _Payload(OAuth2Payload):
    """Query and form parameters together, as the OAuth 2.0 endpoints accept either."""

    def __init__(self, query: ImmutableMultiDict, form: ImmutableMultiDict) -> None:
        values: defaultdict[str, list[Any]] = defaultdict(list)
        for key, value in [*query.multi_items(), *form.multi_items()]:
            if not _allowed(key, value):
                raise InvalidRequestError("A parameter holds characters OAuth 2.0 does not allow.")
            values[key].append(value)
        self._datalist = values
        self._data = {key: found[0] for key, found in values.items()}

    @property
    def data(self) -> dict[str, Any]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[Any]]:
        return self._datalist


class OidcRequest(OAuth2Request):
    """``uri`` is koppel's public address of the endpoint (the proxy in front keeps TLS)."""

    def __init__(
        self,
        method: str,
        uri: str,
        headers: Mapping[str, str],
        query: ImmutableMultiDict,
        form: ImmutableMultiDict | None = None,
    ) -> None:
        super().__init__(method, uri, headers=headers)
        self._args = query
        self._form = form if form is not None else ImmutableMultiDict()
        self.payload = _Payload(self._args, self._form)

    @property
    def args(self) -> ImmutableMultiDict:
        return self._args

    @property
    def form(self) -> ImmutableMultiDict:
        return self._form
