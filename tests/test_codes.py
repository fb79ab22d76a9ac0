"""The protocol's codes have one owner, pokerd/wire/protocol.py: the web page's
copies, the benchmarks and docs/protocol.md must agree with it."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

from pokerd.wire.protocol import RETRY_CODES, TABLE_GONE_CODES, CloseCode, ErrorCode

ROOT = Path(__file__).resolve().parent.parent
PROTOCOL = ROOT / "pokerd" / "wire" / "protocol.py"
PROTOCOL_DOC = ROOT / "docs" / "protocol.md"
WEB_SCRIPTS = sorted((ROOT / "pokerd" / "web").rglob("*.js"))
PYTHON_SOURCES = sorted(
    path
    for path in [*(ROOT / "pokerd").rglob("*.py"), *(ROOT / "benchmarks").glob("*.py")]
    if path != PROTOCOL
)

RESUMED_AFTER = frozenset(
    {
        CloseCode.GOING_AWAY,
        CloseCode.PROTOCOL_ERROR,
        CloseCode.UNSUPPORTED_DATA,
        CloseCode.INVALID_PAYLOAD,
        CloseCode.MESSAGE_TOO_BIG,
        CloseCode.INTERNAL_ERROR,
        CloseCode.SLOW_CONSUMER,
        CloseCode.NO_HELLO,
        CloseCode.NO_PONG,
        CloseCode.TABLE_MOVED,
    }
)
"""Close codes after which a client just reconnects and resumes, as after a
dropped connection: the page need not name them. A close code that asks for
anything else must be named in the page (a `const` below), so that adding
one to `CloseCode` fails here until the page handles it."""
CODE_SETS = {"RETRY_CODES": RETRY_CODES, "TABLE_GONE_CODES": TABLE_GONE_CODES}

CONSTANT = re.compile(r"^const (?P<name>\w+) = (?P<value>.+);$", re.MULTILINE)
SET_OF_STRINGS = re.compile(r'new Set\(\[(?P<items>(?:"\w+"(?:, )?)*)\]\)')


def constants(script: Path) -> dict[str, str]:
    """The script's top-level `const NAME = VALUE;` lines: VALUE by NAME."""
    text = script.read_text(encoding="utf-8")
    return {match["name"]: match["value"] for match in CONSTANT.finditer(text)}


def page_constants() -> list[tuple[str, str, str]]:
    return [
        (script.name, name, value)
        for script in WEB_SCRIPTS
        for name, value in constants(script).items()
    ]


def test_the_web_page_has_scripts_to_check() -> None:
    assert [script.name for script in WEB_SCRIPTS if script.name == "connection.js"]


def test_the_pages_close_codes_are_the_protocols() -> None:
    drifted = [
        f"{file}: const {name} = {value}, but CloseCode.{name} is "
        f"{CloseCode[name].value} in pokerd/wire/protocol.py"
        for file, name, value in page_constants()
        if name in CloseCode.__members__ and value != str(CloseCode[name].value)
    ]

    assert drifted == []


def test_the_page_names_every_close_code_that_asks_for_more_than_a_resume() -> None:
    named = {name for _, name, _ in page_constants() if name in CloseCode.__members__}

    missing = [
        f"CloseCode.{code.name} ({code.value}) is not in the page: add "
        f"`const {code.name} = {code.value};` to pokerd/web/js/connection.js and "
        "handle it, or, if a client just reconnects and resumes after it, add it "
        "to RESUMED_AFTER in tests/test_codes.py"
        for code in CloseCode
        if code not in RESUMED_AFTER and code.name not in named
    ]

    assert missing == []


def test_the_pages_error_codes_are_the_protocols() -> None:
    drifted = [
        f"{file}: const {name} = {value}, but ErrorCode.{name} is "
        f'"{ErrorCode[name].value}" in pokerd/wire/protocol.py'
        for file, name, value in page_constants()
        if name in ErrorCode.__members__ and value != f'"{ErrorCode[name].value}"'
    ]

    assert drifted == []


@pytest.mark.parametrize("name", sorted(CODE_SETS))
def test_the_pages_sets_of_error_codes_are_the_protocols(name: str) -> None:
    [(file, value)] = [
        (file, value) for file, constant, value in page_constants() if constant == name
    ] or [("pokerd/web/js/connection.js", f"no const {name}")]
    match = SET_OF_STRINGS.fullmatch(value)
    assert match is not None, f"{file}: const {name} is not a Set of strings: {value}"

    page = set(re.findall(r'"(\w+)"', match["items"]))

    expected = sorted(code.value for code in CODE_SETS[name])
    assert sorted(page) == expected, (
        f"{file}: const {name} holds {sorted(page)}, but {name} in "
        f"pokerd/wire/protocol.py holds {expected}"
    )


def spelled_codes_in_script(script: Path) -> list[str]:
    """Codes written out in the script outside the constants that copy them."""
    copies = {*CloseCode.__members__, *ErrorCode.__members__, *CODE_SETS}
    found = []
    for number, line in enumerate(script.read_text("utf-8").splitlines(), 1):
        declared = CONSTANT.fullmatch(line)
        if line.lstrip().startswith("//") or (declared and declared["name"] in copies):
            continue
        for code in CloseCode:
            if re.search(rf"\b{code.value}\b", line):
                found.append(f"{script.name}:{number}: {code.value} (CloseCode)")
        for error in ErrorCode:
            if re.search(rf"[\"'`]{error.value}[\"'`]", line):
                found.append(f"{script.name}:{number}: {error.value!r} (ErrorCode)")
    return found


def test_the_page_spells_no_code_outside_its_copies() -> None:
    found = [text for script in WEB_SCRIPTS for text in spelled_codes_in_script(script)]

    assert found == [], "use the page's constant named after the protocol's"


def spelled_codes_in_python(path: Path) -> list[str]:
    """Close code numbers and error code strings written out in the code (not
    in comments, nor inside a longer text such as a docstring)."""
    found = []
    source = io.StringIO(path.read_text(encoding="utf-8"))
    for token in tokenize.generate_tokens(source.readline):
        where = f"{path.relative_to(ROOT)}:{token.start[0]}"
        if token.type == tokenize.NUMBER and token.string in {
            str(code.value) for code in CloseCode
        }:
            found.append(f"{where}: {token.string} (CloseCode)")
        elif token.type == tokenize.STRING:
            try:
                value = ast.literal_eval(token.string)
            except ValueError:  # an f-string
                continue
            if value in set(ErrorCode):
                found.append(f"{where}: {value!r} (ErrorCode)")
    return found


def test_code_outside_the_protocol_module_spells_no_code() -> None:
    found = [text for path in PYTHON_SOURCES for text in spelled_codes_in_python(path)]

    assert found == [], "use CloseCode and ErrorCode of pokerd/wire/protocol.py"


def doc_section(title: str) -> str:
    text = PROTOCOL_DOC.read_text(encoding="utf-8")
    assert title in text, f"no section {title!r} in docs/protocol.md"
    return text.split(title, 1)[1].split("\n#", 1)[0]


def test_the_protocol_document_lists_every_error_code() -> None:
    table = doc_section("\n## Error codes\n")
    documented = re.findall(r"^\| `(\w+)` \|", table, flags=re.MULTILINE)

    assert sorted(documented) == sorted(code.value for code in ErrorCode), (
        "docs/protocol.md, Error codes, must list each ErrorCode once"
    )


def test_the_protocol_document_lists_every_close_code_the_server_sends() -> None:
    table = doc_section("\n### Close codes\n")
    documented = re.findall(r"^\| (\d+) \| `(\w+)` \|", table, flags=re.MULTILINE)

    sent = [code for code in CloseCode if code != CloseCode.ABNORMAL_CLOSURE]
    assert documented == [(str(code.value), code.name) for code in sent]
