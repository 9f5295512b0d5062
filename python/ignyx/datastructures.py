"""The small containers a request and a response are made of, with Starlette's API::

    from ignyx.datastructures import Headers, QueryParams, URL

    headers = Headers({"Content-Type": "text/plain"})
    headers["content-type"]                 # "text/plain": names are case-insensitive
    QueryParams("a=1&a=2").getlist("a")     # ["1", "2"]
    URL("https://example.com/a?b=1").replace(path="/c")

Code written against ``starlette.datastructures`` (or ``fastapi.datastructures``) works with
these unchanged.
"""

from __future__ import annotations

import ipaddress
from collections.abc import (
    ItemsView,
    Iterable,
    Iterator,
    KeysView,
    Mapping,
    MutableMapping,
    Sequence,
    ValuesView,
)
from operator import itemgetter
from typing import Any, BinaryIO, NamedTuple, Optional, TypeVar, Union
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit

from .concurrency import run_in_threadpool

__all__ = [
    "URL",
    "Address",
    "Default",
    "DefaultPlaceholder",
    "DefaultType",
    "FormData",
    "Headers",
    "ImmutableMultiDict",
    "MultiDict",
    "MutableHeaders",
    "QueryParams",
    "State",
    "UploadFile",
]

_K = TypeVar("_K")
_V = TypeVar("_V")


class Address(NamedTuple):
    """The client's or server's ``(host, port)``, as in ``request.client.host``."""

    host: str
    port: int


class URL:
    """A parsed URL, read through properties and changed by making new ones::

    url = URL("https://user@example.com:8443/items?q=1")
    url.hostname, url.port, url.path        # ("example.com", 8443, "/items")
    str(url.include_query_params(page=2))   # "https://user@example.com:8443/items?q=1&page=2"
    """

    def __init__(self, url: str = "", **components: Any) -> None:
        if components:
            assert not url, 'Cannot set both "url" and "**components".'
            url = URL("").replace(**components).components.geturl()
        self._url = url

    @property
    def components(self) -> SplitResult:
        if not hasattr(self, "_components"):
            self._components = urlsplit(self._url)
        return self._components

    @property
    def scheme(self) -> str:
        return self.components.scheme

    @property
    def netloc(self) -> str:
        return self.components.netloc

    @property
    def path(self) -> str:
        return self.components.path

    @property
    def query(self) -> str:
        return self.components.query

    @property
    def fragment(self) -> str:
        return self.components.fragment

    @property
    def username(self) -> Optional[str]:
        return self.components.username

    @property
    def password(self) -> Optional[str]:
        return self.components.password

    @property
    def hostname(self) -> Optional[str]:
        return self.components.hostname

    @property
    def port(self) -> Optional[int]:
        return self.components.port

    @property
    def is_secure(self) -> bool:
        return self.scheme in ("https", "wss")

    def replace(self, **kwargs: Any) -> URL:
        """A copy with some parts changed: any of ``scheme netloc path query fragment``, or
        ``hostname port username password`` which rebuild the netloc."""
        if {"username", "password", "hostname", "port"} & kwargs.keys():
            hostname = kwargs.pop("hostname", None)
            port = kwargs.pop("port", self.port)
            username = kwargs.pop("username", self.username)
            password = kwargs.pop("password", self.password)
            if hostname is None:
                hostname = self.netloc.rpartition("@")[2]
                if hostname and hostname[-1] != "]":
                    hostname = hostname.rsplit(":", 1)[0]
            elif ":" in hostname and not hostname.startswith("["):
                try:
                    ipaddress.IPv6Address(hostname)
                except ValueError:
                    pass
                else:
                    hostname = f"[{hostname}]"
            netloc = hostname
            if port is not None:
                netloc += f":{port}"
            if username is not None:
                userpass = username if password is None else f"{username}:{password}"
                netloc = f"{userpass}@{netloc}"
            kwargs["netloc"] = netloc
        return self.__class__(self.components._replace(**kwargs).geturl())

    def include_query_params(self, **kwargs: Any) -> URL:
        """A copy with these query parameters set, replacing any of the same name."""
        params = MultiDict(parse_qsl(self.query, keep_blank_values=True))
        params.update({str(key): str(value) for key, value in kwargs.items()})
        return self.replace(query=urlencode(params.multi_items()))

    def replace_query_params(self, **kwargs: Any) -> URL:
        """A copy whose query string is exactly these parameters."""
        query = urlencode([(str(key), str(value)) for key, value in kwargs.items()])
        return self.replace(query=query)

    def remove_query_params(self, keys: Union[str, Sequence[str]]) -> URL:
        """A copy without the named query parameters."""
        params = MultiDict(parse_qsl(self.query, keep_blank_values=True))
        for key in [keys] if isinstance(keys, str) else keys:
            params.pop(key, None)
        return self.replace(query=urlencode(params.multi_items()))

    def __eq__(self, other: Any) -> bool:
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(self._url)

    def __str__(self) -> str:
        return self._url

    def __repr__(self) -> str:
        url = str(self.replace(password="********")) if self.password else str(self)
        return f"{self.__class__.__name__}({url!r})"


class ImmutableMultiDict(Mapping[_K, _V]):
    """A read-only mapping where a key may occur several times.

    ``md[key]`` and ``md.get(key)`` give the key's last value, ``md.getlist(key)`` all of them,
    ``md.multi_items()`` every pair in order.
    """

    def __init__(
        self,
        *args: Union[ImmutableMultiDict[_K, _V], Mapping[_K, _V], Iterable[tuple[_K, _V]]],
        **kwargs: Any,
    ) -> None:
        assert len(args) < 2, "Too many arguments."
        value: Any = args[0] if args else []
        if kwargs:
            value = ImmutableMultiDict(value).multi_items() + list(kwargs.items())
        if not value:
            items: list[tuple[Any, Any]] = []
        elif hasattr(value, "multi_items"):
            items = list(value.multi_items())
        elif hasattr(value, "items"):
            items = list(value.items())
        else:
            items = list(value)
        self._dict: dict[Any, Any] = dict(items)
        self._list = items

    def getlist(self, key: Any) -> list[_V]:
        return [item_value for item_key, item_value in self._list if item_key == key]

    def keys(self) -> KeysView[_K]:
        return self._dict.keys()

    def values(self) -> ValuesView[_V]:
        return self._dict.values()

    def items(self) -> ItemsView[_K, _V]:
        return self._dict.items()

    def multi_items(self) -> list[tuple[_K, _V]]:
        return list(self._list)

    def __getitem__(self, key: _K) -> _V:
        return self._dict[key]

    def __contains__(self, key: Any) -> bool:
        return key in self._dict

    def __iter__(self) -> Iterator[_K]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._dict)

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, self.__class__):
            return False
        by_key = itemgetter(0)
        return sorted(self._list, key=by_key) == sorted(other._list, key=by_key)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.multi_items()!r})"


class MultiDict(ImmutableMultiDict[Any, Any]):
    """The mutable ``ImmutableMultiDict``: ``md[key] = v`` replaces every value of ``key``,
    ``md.append(key, v)`` adds one more."""

    def __setitem__(self, key: Any, value: Any) -> None:
        self.setlist(key, [value])

    def __delitem__(self, key: Any) -> None:
        self._list = [(k, v) for k, v in self._list if k != key]
        del self._dict[key]

    def pop(self, key: Any, default: Any = None) -> Any:
        self._list = [(k, v) for k, v in self._list if k != key]
        return self._dict.pop(key, default)

    def popitem(self) -> tuple[Any, Any]:
        key, value = self._dict.popitem()
        self._list = [(k, v) for k, v in self._list if k != key]
        return key, value

    def poplist(self, key: Any) -> list[Any]:
        values = [v for k, v in self._list if k == key]
        self.pop(key)
        return values

    def clear(self) -> None:
        self._dict.clear()
        self._list.clear()

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self._dict[key] = default
            self._list.append((key, default))
        return self[key]

    def setlist(self, key: Any, values: list[Any]) -> None:
        if not values:
            self.pop(key, None)
            return
        self._list = [(k, v) for k, v in self._list if k != key]
        self._list.extend((key, value) for value in values)
        self._dict[key] = values[-1]

    def append(self, key: Any, value: Any) -> None:
        self._list.append((key, value))
        self._dict[key] = value

    def update(
        self,
        *args: Union[MultiDict, Mapping[Any, Any], list[tuple[Any, Any]]],
        **kwargs: Any,
    ) -> None:
        value = MultiDict(*args, **kwargs)
        self._list = [(k, v) for k, v in self._list if k not in value.keys()]
        self._list.extend(value.multi_items())
        self._dict.update(value)


class QueryParams(ImmutableMultiDict[str, str]):
    """A request's query string as an ``ImmutableMultiDict`` of strings::

    QueryParams("tag=a&tag=b&page=2")["tag"]   # "b" (the last one)
    str(QueryParams([("q", "a b")]))            # "q=a+b"
    """

    def __init__(
        self,
        *args: Union[
            ImmutableMultiDict[Any, Any], Mapping[Any, Any], list[tuple[Any, Any]], str, bytes
        ],
        **kwargs: Any,
    ) -> None:
        assert len(args) < 2, "Too many arguments."
        value = args[0] if args else []
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        if isinstance(value, str):
            super().__init__(parse_qsl(value, keep_blank_values=True), **kwargs)
        else:
            super().__init__(value, **kwargs)
        self._list = [(str(k), str(v)) for k, v in self._list]
        self._dict = {str(k): str(v) for k, v in self._dict.items()}

    def __str__(self) -> str:
        return urlencode(self._list)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({str(self)!r})"


class Headers(Mapping[str, str]):
    """Read-only HTTP headers: names are case-insensitive and may repeat.

    Built from a ``headers`` mapping, from ``raw`` ``(name, value)`` byte pairs with lower-case
    names, or from an ASGI ``scope`` (or a ``http.response.start`` message) whose header
    list it then shares, so that ``MutableHeaders(scope=scope)`` changes the scope's
    headers, as ASGI middleware expect. ``h[name]`` gives the first value,
    ``h.getlist(name)`` all of them.
    """

    def __init__(
        self,
        headers: Optional[Mapping[str, str]] = None,
        raw: Optional[list[tuple[bytes, bytes]]] = None,
        scope: Optional[MutableMapping[str, Any]] = None,
    ) -> None:
        self._list: list[tuple[bytes, bytes]] = []
        if headers is not None:
            assert raw is None, 'Cannot set both "headers" and "raw".'
            assert scope is None, 'Cannot set both "headers" and "scope".'
            self._list = [
                (key.lower().encode("latin-1"), value.encode("latin-1"))
                for key, value in headers.items()
            ]
        elif raw is not None:
            assert scope is None, 'Cannot set both "raw" and "scope".'
            self._list = raw
        elif scope is not None:
            # A list of its own, put back in the scope: tuples, whatever the server gave.
            self._list = scope["headers"] = list(map(tuple, scope.get("headers", ())))

    @property
    def raw(self) -> list[tuple[bytes, bytes]]:
        return list(self._list)

    def keys(self) -> list[str]:  # type: ignore[override]
        return [key.decode("latin-1") for key, _ in self._list]

    def values(self) -> list[str]:  # type: ignore[override]
        return [value.decode("latin-1") for _, value in self._list]

    def items(self) -> list[tuple[str, str]]:  # type: ignore[override]
        return [(key.decode("latin-1"), value.decode("latin-1")) for key, value in self._list]

    def getlist(self, key: str) -> list[str]:
        wanted = key.lower().encode("latin-1")
        return [value.decode("latin-1") for name, value in self._list if name == wanted]

    def mutablecopy(self) -> MutableHeaders:
        return MutableHeaders(raw=self._list[:])

    def __getitem__(self, key: str) -> str:
        wanted = key.lower().encode("latin-1")
        for name, value in self._list:
            if name == wanted:
                return value.decode("latin-1")
        raise KeyError(key)

    def __contains__(self, key: Any) -> bool:
        wanted = key.lower().encode("latin-1")
        return any(name == wanted for name, _ in self._list)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._list)

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, Headers):
            return False
        return sorted(self._list) == sorted(other._list)

    def __repr__(self) -> str:
        as_dict = dict(self.items())
        if len(as_dict) == len(self):
            return f"{self.__class__.__name__}({as_dict!r})"
        return f"{self.__class__.__name__}(raw={self.raw!r})"


class MutableHeaders(Headers):
    """Headers that can be changed in place; ``response.headers`` is one, writing through to
    ``response.raw_headers``."""

    def __setitem__(self, key: str, value: str) -> None:
        """Sets ``key`` to ``value`` where it first occurred, dropping its other occurrences."""
        name = key.lower().encode("latin-1")
        pair = (name, value.encode("latin-1"))
        found = [index for index, (item_name, _) in enumerate(self._list) if item_name == name]
        for index in reversed(found[1:]):
            del self._list[index]
        if found:
            self._list[found[0]] = pair
        else:
            self._list.append(pair)

    def __delitem__(self, key: str) -> None:
        name = key.lower().encode("latin-1")
        self._list[:] = [pair for pair in self._list if pair[0] != name]

    def __ior__(self, other: Mapping[str, str]) -> MutableHeaders:
        if not isinstance(other, Mapping):
            raise TypeError(f"Expected a mapping but got {other.__class__.__name__}")
        self.update(other)
        return self

    def __or__(self, other: Mapping[str, str]) -> MutableHeaders:
        if not isinstance(other, Mapping):
            raise TypeError(f"Expected a mapping but got {other.__class__.__name__}")
        new = self.mutablecopy()
        new.update(other)
        return new

    @property
    def raw(self) -> list[tuple[bytes, bytes]]:
        return self._list

    def setdefault(self, key: str, value: str) -> str:
        """Sets ``key`` unless present; returns its value either way."""
        name = key.lower().encode("latin-1")
        for item_name, item_value in self._list:
            if item_name == name:
                return item_value.decode("latin-1")
        self._list.append((name, value.encode("latin-1")))
        return value

    def update(self, other: Mapping[str, str]) -> None:
        for key, value in other.items():
            self[key] = value

    def append(self, key: str, value: str) -> None:
        """Adds one more ``key`` header, keeping those already there."""
        self._list.append((key.lower().encode("latin-1"), value.encode("latin-1")))

    def add_vary_header(self, vary: str) -> None:
        self["vary"] = ", ".join([*self.getlist("vary"), vary])


class State:
    """An attribute bag for your own data: ``app.state.db = pool``, ``request.state.user``."""

    _state: dict[str, Any]

    def __init__(self, state: Optional[dict[str, Any]] = None) -> None:
        super().__setattr__("_state", {} if state is None else state)

    def __setattr__(self, key: Any, value: Any) -> None:
        self._state[key] = value

    def __getattr__(self, key: Any) -> Any:
        try:
            return self._state[key]
        except KeyError:
            message = f"'{self.__class__.__name__}' object has no attribute '{key}'"
            raise AttributeError(message) from None

    def __delattr__(self, key: Any) -> None:
        del self._state[key]

    def __getitem__(self, key: str) -> Any:
        return self._state[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._state[key] = value

    def __delitem__(self, key: str) -> None:
        del self._state[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._state)

    def __len__(self) -> int:
        return len(self._state)


class UploadFile:
    """A file sent in a multipart form, usable as a handler parameter::

    @app.post("/upload")
    async def upload(file: UploadFile):
        data = await file.read()
        return {"name": file.filename, "type": file.content_type, "size": len(data)}

    ``file`` is the underlying ``SpooledTemporaryFile`` (kept in memory until it grows, then on
    disk), for code that wants a plain blocking file object.
    """

    def __init__(
        self,
        file: BinaryIO,
        *,
        size: Optional[int] = None,
        filename: Optional[str] = None,
        headers: Optional[Headers] = None,
    ) -> None:
        self.filename = filename
        self.file = file
        self.size = size
        self.headers = headers or Headers()
        # 0 means "no limit", as in SpooledTemporaryFile's own constructor.
        self._max_mem_size: int = getattr(self.file, "_max_size", 0)

    @property
    def content_type(self) -> Optional[str]:
        return self.headers.get("content-type", None)

    @property
    def _in_memory(self) -> bool:
        return not getattr(self.file, "_rolled", True)

    def _will_roll(self, size_to_add: int) -> bool:
        if not self._in_memory:
            return True
        future_size = self.file.tell() + size_to_add
        return bool(self._max_mem_size) and future_size > self._max_mem_size

    async def write(self, data: bytes) -> None:
        if self.size is not None:
            self.size += len(data)
        if self._will_roll(len(data)):
            await run_in_threadpool(self.file.write, data)
        else:
            self.file.write(data)

    async def read(self, size: int = -1) -> bytes:
        if self._in_memory:
            return self.file.read(size)
        return await run_in_threadpool(self.file.read, size)

    async def seek(self, offset: int) -> None:
        if self._in_memory:
            self.file.seek(offset)
        else:
            await run_in_threadpool(self.file.seek, offset)

    async def close(self) -> None:
        if self._in_memory:
            self.file.close()
        else:
            await run_in_threadpool(self.file.close)

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}"
            f"(filename={self.filename!r}, size={self.size!r}, headers={self.headers!r})"
        )

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        return core_schema.with_info_plain_validator_function(cls._validate)

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict[str, Any]:
        return {"type": "string", "contentMediaType": "application/octet-stream"}

    @classmethod
    def _validate(cls, value: Any, info: Any) -> UploadFile:
        if not isinstance(value, UploadFile):
            raise ValueError(f"Expected UploadFile, received: {type(value)}")
        return value


class FormData(ImmutableMultiDict[str, Union[UploadFile, str]]):
    """A submitted form: text fields as ``str``, files as ``UploadFile``; ``await close()``."""

    async def close(self) -> None:
        for _, value in self.multi_items():
            if isinstance(value, UploadFile):
                await value.close()


class DefaultPlaceholder:
    """Marks a default that the user did not choose, so that ``Default(x)`` can be told apart
    from an explicit ``x`` (for example a route's ``response_class`` versus the app's)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __bool__(self) -> bool:
        return bool(self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DefaultPlaceholder) and other.value == self.value


# The type of the value a ``DefaultPlaceholder`` stands in for.
DefaultType = TypeVar("DefaultType")


def Default(value: _V) -> _V:
    """Wraps ``value`` in a ``DefaultPlaceholder``, typed as ``value`` for signatures."""
    return DefaultPlaceholder(value)  # type: ignore[return-value]
