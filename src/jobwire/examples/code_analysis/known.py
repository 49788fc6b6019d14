"""What the purity check knows of Python's own library: the builtins, modules and methods
that are pure, those that mutate, and those that do I/O. The rule that uses them is in
:mod:`.purity`; these lists are its vocabulary, to extend when a pure function is missed."""

from __future__ import annotations

import builtins


def _names(words: str) -> frozenset[str]:
    return frozenset(words.split())


PURE_BUILTINS = _names(
    "abs all any ascii bin bool bytearray bytes callable chr complex dict divmod enumerate "
    "filter float format frozenset getattr hasattr hash hex int isinstance issubclass iter "
    "len list map max min next object oct ord pow range repr reversed round set slice sorted "
    "str sum tuple type zip"
)
BUILTIN_EXCEPTIONS = frozenset(
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
)
IO_BUILTINS = _names("open print input breakpoint exec eval exit quit help __import__")
#: Modules whose every function is pure (apart from :data:`NOT_PURE`).
PURE_MODULES = _names(
    "math cmath itertools operator unicodedata string keyword statistics colorsys fractions "
    "textwrap base64 binascii struct zlib copy"
)
#: Pure functions of other modules, by full name.
PURE_FUNCTIONS = _names(
    "re.compile re.match re.search re.fullmatch re.split re.findall re.finditer re.sub "
    "re.subn re.escape json.dumps json.loads functools.reduce functools.partial "
    "functools.cmp_to_key bisect.bisect bisect.bisect_left bisect.bisect_right heapq.nlargest "
    "heapq.nsmallest heapq.merge collections.Counter collections.OrderedDict "
    "collections.defaultdict collections.deque collections.namedtuple collections.ChainMap "
    "dataclasses.replace dataclasses.asdict dataclasses.astuple dataclasses.fields "
    "dataclasses.is_dataclass typing.cast html.escape html.unescape decimal.Decimal "
    "datetime.date datetime.time datetime.datetime datetime.timedelta datetime.timezone"
) | {
    f"{module}.{name}"
    for module in ("os.path", "posixpath", "ntpath")
    for name in _names("join basename dirname split splitext normpath normcase isabs")
}
NOT_PURE = frozenset(
    f"operator.{name}"
    for name in _names(
        "setitem delitem iadd iand iconcat ifloordiv ilshift imod imul imatmul ior ipow irshift "
        "isub itruediv ixor"
    )
)
#: Modules that read or write outside the program: calling them is reported as I/O.
IO_MODULES = _names(
    "os sys io socket ssl select selectors subprocess shutil pathlib tempfile glob logging "
    "warnings urllib http ftplib smtplib asyncio threading multiprocessing signal sqlite3 "
    "webbrowser requests httpx"
)
#: Methods that return a value and change nothing, on the built-in types and ``re``.
PURE_METHODS = _names(
    "capitalize casefold center count encode endswith expandtabs find format format_map "
    "index isalnum isalpha isascii isdecimal isdigit isidentifier islower isnumeric "
    "isprintable isspace istitle isupper join ljust lower lstrip maketrans partition "
    "removeprefix removesuffix replace rfind rindex rjust rpartition rsplit rstrip split "
    "splitlines startswith strip swapcase title translate upper zfill decode hex fromhex "
    "get keys values items copy fromkeys union intersection difference symmetric_difference "
    "issubset issuperset isdisjoint bit_length bit_count to_bytes from_bytes conjugate "
    "as_integer_ratio is_integer match search fullmatch findall finditer sub subn group "
    "groups groupdict start end span expand most_common hexdigest digest isoformat"
)
MUTATING_METHODS = _names(
    "append extend insert remove pop popitem clear sort reverse update setdefault add "
    "discard difference_update intersection_update symmetric_difference_update appendleft "
    "extendleft rotate __setitem__ __delitem__"
)
CONSTRUCTORS = frozenset({"__init__", "__new__", "__post_init__"})


def check_dotted(full: str) -> str | None:
    """Why calling the function ``full`` (``math.sqrt``, ``os.remove``) is not pure."""
    top = full.partition(".")[0]
    if full.startswith("."):
        return f"calls {full}, from another module"
    if full not in NOT_PURE and (full in PURE_FUNCTIONS or top in PURE_MODULES):
        return None
    if top in IO_MODULES:
        return f"does I/O: calls {full}"
    return f"calls {full}, not known to be pure"
