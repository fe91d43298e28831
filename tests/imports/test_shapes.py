"""Row shapes (app.imports.shapes) and streaming file readers (app.imports.readers)."""

from __future__ import annotations

import gzip
import io
from typing import Any

import orjson
import pytest

from app.imports.readers import read_rows
from app.imports.shapes import (
    CsvRow,
    ImportMapping,
    RowError,
    TaskRow,
    normalize_row,
    parse_mapping,
)


def resp(rid: str, text: str, model: str | None = None) -> dict[str, Any]:
    return {"id": rid, "text": text, "model": model}


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def assistant(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


def error_of(raw: Any, mapping: ImportMapping | None = None) -> str:
    with pytest.raises(RowError) as info:
        normalize_row(raw, mapping=mapping)
    return str(info.value)


def rows_of(data: bytes, filename: str) -> list[tuple[int, Any]]:
    return list(read_rows(io.BytesIO(data), filename=filename))


def plain(rows: list[tuple[int, Any]]) -> list[tuple[int, Any]]:
    """Rows with errors turned into ("error", message) so lists compare by value."""
    return [(n, ("error", str(r)) if isinstance(r, RowError) else r) for n, r in rows]


# ----------------------------------------------------------------------------------- canonical


def test_canonical_full_row() -> None:
    row = normalize_row(
        {
            "external_id": "q-1",
            "prompt": "Capital of France?",
            "responses": [
                {"id": "x", "text": "Paris", "model": "m1"},
                {"text": "Lyon"},
            ],
            "meta": {"source": "geo"},
            "priority": 5,
            "gold": "x",
        }
    )
    assert row == TaskRow(
        external_id="q-1",
        prompt="Capital of France?",
        responses=[resp("x", "Paris", "m1"), resp("a", "Lyon")],
        meta={"source": "geo"},
        priority=5,
        gold="x",
    )


def test_canonical_string_responses_skip_used_ids_and_keep_extras() -> None:
    row = normalize_row(
        {
            "external_id": 17,
            "prompt": [{"role": "system", "content": "Be brief."}, user("Hi")],
            "responses": ["one", {"id": "a", "text": "two", "score": 0.5}, "three"],
            "dataset": "demo",
        }
    )
    assert row == TaskRow(
        external_id="17",
        prompt=[{"role": "system", "content": "Be brief."}, user("Hi")],
        responses=[resp("b", "one"), resp("a", "two"), resp("c", "three")],
        meta={"dataset": "demo", "response_meta": {"a": {"score": 0.5}}},
        priority=0,
        gold=None,
    )


def test_canonical_integer_response_ids_become_strings() -> None:
    row = normalize_row({"prompt": "p", "responses": [{"id": 1, "text": "x"}, {"id": 2, "text": "y"}]})
    assert row.responses == [resp("1", "x"), resp("2", "y")]


def test_canonical_prompt_only() -> None:
    assert normalize_row({"prompt": "Write a haiku."}) == TaskRow(None, "Write a haiku.", [], {})


def test_response_columns_in_a_json_row() -> None:
    row = normalize_row(
        {"prompt": "Q", "response_a": "A", "response_b": "B", "model_a": "gpt", "winner": "a"}
    )
    assert row == TaskRow(None, "Q", [resp("a", "A", "gpt"), resp("b", "B")], {"winner": "a"})


# ----------------------------------------------------------------------------------- pairwise


def test_prompt_chosen_rejected() -> None:
    row = normalize_row(
        {"prompt": "Capital of France?", "chosen": "Paris.", "rejected": "London.", "src": "x"}
    )
    # the hash of the content put "chosen" on side b here
    assert row == TaskRow(
        None,
        "Capital of France?",
        [resp("a", "London."), resp("b", "Paris.")],
        {"src": "x", "source_preference": {"chosen": "b", "rejected": "a"}},
    )


def test_prompt_chosen_rejected_chosen_can_be_a() -> None:
    row = normalize_row({"prompt": "Letter?", "chosen": "A", "rejected": "B"})
    assert row.responses == [resp("a", "A"), resp("b", "B")]
    assert row.meta == {"source_preference": {"chosen": "a", "rejected": "b"}}


def test_pair_sides_are_deterministic_and_balanced() -> None:
    sides = []
    for i in range(200):
        raw = {"prompt": "p", "chosen": f"good {i}", "rejected": f"bad {i}"}
        first = normalize_row(raw).meta["source_preference"]["chosen"]
        assert normalize_row(dict(raw)).meta["source_preference"]["chosen"] == first
        sides.append(first)
    assert 60 < sides.count("a") < 140
    assert set(sides) == {"a", "b"}


def test_trl_conversational_preference() -> None:
    row = normalize_row(
        {
            "prompt": [user("Capital of France?")],
            "chosen": [assistant("Paris.")],
            "rejected": [assistant("London.")],
        }
    )
    assert row == TaskRow(
        None,
        [user("Capital of France?")],
        [resp("a", "London."), resp("b", "Paris.")],
        {"source_preference": {"chosen": "b", "rejected": "a"}},
    )


def test_implicit_prompt_conversations() -> None:
    row = normalize_row(
        {
            "chosen": [user("Pick a letter"), assistant("A")],
            "rejected": [user("Pick a letter"), assistant("B")],
        }
    )
    assert row == TaskRow(
        None,
        [user("Pick a letter")],
        [resp("a", "A"), resp("b", "B")],
        {"source_preference": {"chosen": "a", "rejected": "b"}},
    )


def test_implicit_prompt_conversations_must_share_the_prefix() -> None:
    message = error_of(
        {
            "chosen": [user("one"), assistant("A")],
            "rejected": [user("two"), assistant("B")],
        }
    )
    assert "differ at turn 1" in message
    assert '"prompt"' in message


def test_hh_rlhf_multi_turn() -> None:
    prefix = "\n\nHuman: Hi there\n\nAssistant: Hello! How can I help?\n\nHuman: Say something nice."
    row = normalize_row(
        {
            "chosen": prefix + "\n\nAssistant: Well.",
            "rejected": prefix + "\n\nAssistant: No.",
        }
    )
    assert row == TaskRow(
        None,
        [user("Hi there"), assistant("Hello! How can I help?"), user("Say something nice.")],
        [resp("a", "No."), resp("b", "Well.")],
        {"source_preference": {"chosen": "b", "rejected": "a"}},
    )


def test_hh_rlhf_without_leading_newlines_single_turn() -> None:
    row = normalize_row(
        {
            "chosen": "Human: What is 2+2?\n\nAssistant: Sure, here it is.",
            "rejected": "Human: What is 2+2?\n\nAssistant: I can't help with that.",
        }
    )
    assert row.prompt == [user("What is 2+2?")]
    assert row.responses == [resp("a", "Sure, here it is."), resp("b", "I can't help with that.")]
    assert row.meta == {"source_preference": {"chosen": "a", "rejected": "b"}}


def test_hh_rlhf_errors() -> None:
    empty = error_of({"chosen": "\n\nHuman: Hi\n\nAssistant:", "rejected": "\n\nHuman: Hi\n\nAssistant: Yo"})
    assert empty == 'the final assistant message of the "chosen" transcript is empty'
    differ = error_of(
        {"chosen": "\n\nHuman: Hi\n\nAssistant: A", "rejected": "\n\nHuman: Hello\n\nAssistant: B"}
    )
    assert "differ at turn 1" in differ
    no_turn = error_of({"chosen": "\n\nHuman: Hi\n\nAssistant: A\n\nHuman: more", "rejected": "\n\nHuman: x"})
    assert "must end with an assistant message" in no_turn


def test_chosen_without_rejected() -> None:
    assert error_of({"prompt": "p", "chosen": "x"}) == (
        'a row with "chosen" or "rejected" needs both; "rejected" is missing'
    )


def test_plain_chosen_rejected_without_prompt() -> None:
    assert "HH-RLHF transcripts" in error_of({"chosen": "good", "rejected": "bad"})


# ----------------------------------------------------------------------------------- messages / completion


def test_messages_last_assistant_turn_is_the_response() -> None:
    row = normalize_row(
        {
            "messages": [
                {"role": "system", "content": "Be kind."},
                user("Hi"),
                assistant("Hello"),
                user("Bye?"),
                assistant("Goodbye!"),
            ],
            "external_id": "m1",
        }
    )
    assert row == TaskRow(
        "m1",
        [{"role": "system", "content": "Be kind."}, user("Hi"), assistant("Hello"), user("Bye?")],
        [resp("a", "Goodbye!")],
        {},
    )


def test_messages_kto_label() -> None:
    row = normalize_row({"messages": [user("Hi"), assistant("Go away")], "label": False})
    assert row == TaskRow(None, [user("Hi")], [resp("a", "Go away")], {"source_label": False})


def test_messages_ending_with_user_is_prompt_only() -> None:
    assert normalize_row({"messages": [user("Hi")]}) == TaskRow(None, [user("Hi")], [], {})


def test_messages_errors() -> None:
    assert error_of({"messages": [assistant("only")]}) == (
        '"messages" needs at least one message before the final assistant reply'
    )
    assert error_of({"messages": [user("Hi"), assistant("x")], "label": "yes"}) == (
        '"label" must be true or false, got a string'
    )
    assert error_of({"messages": [{"role": "robot", "content": "x"}]}) == (
        '"messages" message 1 has role "robot"; role must be "system", "user", "assistant" or "tool"'
    )
    assert error_of({"messages": [{"role": "user", "content": 3}]}) == (
        '"messages" message 1 "content" must be a string or a list of text parts, got a number'
    )
    assert "non-empty list of chat messages" in error_of({"messages": []})


def test_prompt_completion() -> None:
    assert normalize_row({"prompt": "2+2=", "completion": "4"}) == TaskRow(None, "2+2=", [resp("a", "4")], {})


def test_prompt_completion_kto_conversational() -> None:
    row = normalize_row({"prompt": [user("2+2?")], "completion": [assistant("5")], "label": False})
    assert row == TaskRow(None, [user("2+2?")], [resp("a", "5")], {"source_label": False})


def test_classification_text_rows_keep_the_label_in_meta() -> None:
    assert normalize_row({"text": "Buy now!!!", "label": "spam"}) == TaskRow(
        None, "Buy now!!!", [], {"label": "spam"}
    )
    csv_row = normalize_row(CsvRow({"text": "Sale", "label": "promo", "external_id": "t-1"}))
    assert csv_row == TaskRow("t-1", "Sale", [], {"label": "promo"})
    multi = normalize_row({"text": "Sale!!!", "labels": ["promo", "spam"]})
    assert multi == TaskRow(None, "Sale!!!", [], {"labels": ["promo", "spam"]})
    assert (
        error_of({"text": " ", "label": "spam"}) == '"text" must be a non-empty string, got an empty string'
    )


# ----------------------------------------------------------------------------------- ShareGPT / Alpaca


def test_sharegpt_last_gpt_turn_is_the_response() -> None:
    row = normalize_row(
        {
            "conversations": [
                {"from": "system", "value": "Be terse."},
                {"from": "human", "value": "Hi"},
                {"from": "gpt", "value": "Hey"},
            ],
            "id": "sg-1",
        }
    )
    assert row == TaskRow(
        None,
        [{"role": "system", "content": "Be terse."}, user("Hi")],
        [resp("a", "Hey")],
        {"id": "sg-1"},
    )


def test_sharegpt_preference_with_system_key() -> None:
    row = normalize_row(
        {
            "conversations": [{"from": "human", "value": "Letter?"}],
            "chosen": {"from": "gpt", "value": "A"},
            "rejected": {"from": "gpt", "value": "B"},
            "system": "You pick letters.",
        }
    )
    assert row == TaskRow(
        None,
        [{"role": "system", "content": "You pick letters."}, user("Letter?")],
        [resp("a", "A"), resp("b", "B")],
        {"source_preference": {"chosen": "a", "rejected": "b"}},
    )


def test_sharegpt_bad_from() -> None:
    assert error_of({"conversations": [{"from": "bot", "value": "x"}]}) == (
        '"conversations" turn 1 has "from" "bot"; "from" must be "system", "human", "gpt", '
        '"function_call" or "observation"'
    )


def test_alpaca() -> None:
    row = normalize_row({"instruction": "Translate", "input": "bonjour", "output": "hello"})
    assert row == TaskRow(None, "Translate\n\nbonjour", [resp("a", "hello")], {})
    row = normalize_row({"instruction": "Say hi", "input": "", "output": "hi"})
    assert row == TaskRow(None, "Say hi", [resp("a", "hi")], {})


def test_alpaca_errors() -> None:
    assert error_of({"instruction": "", "output": "x"}) == (
        '"instruction" must be a non-empty string, got an empty string'
    )
    assert (
        error_of({"instruction": "x", "output": ""})
        == '"output" must be a non-empty string, got an empty string'
    )


# ----------------------------------------------------------------------------------- Label Studio


LS_TASK = {
    "id": 42,
    "data": {"question": "Best fruit?", "answer1": "Apple", "answer2": "Pear", "votes": 3},
    "annotations": [{"result": []}],
    "predictions": [],
    "created_at": "2024-01-01",
}


def test_label_studio_default_mapping() -> None:
    row = normalize_row(LS_TASK)
    assert row == TaskRow(
        None,
        "Best fruit?",
        [resp("a", "Apple"), resp("b", "Pear")],
        {"votes": 3, "label_studio_id": 42, "source_fields": {"a": "answer1", "b": "answer2"}},
    )


def test_label_studio_with_mapping() -> None:
    mapping = parse_mapping("prompt:question,responses:answer2")
    row = normalize_row(LS_TASK, mapping=mapping)
    assert row == TaskRow(
        None,
        "Best fruit?",
        [resp("a", "Pear")],
        {"answer1": "Apple", "votes": 3, "label_studio_id": 42, "source_fields": {"a": "answer2"}},
    )


def test_label_studio_errors() -> None:
    mapping = parse_mapping("prompt:title")
    assert error_of(LS_TASK, mapping) == (
        'Label Studio "data" has no "title" field named by the mapping prompt:title; '
        'keys found: "question", "answer1", "answer2", "votes"'
    )
    message = error_of({"data": {"body": "x"}})
    assert 'expected "prompt", "text" or "question"' in message
    assert "?map=prompt:FIELD" in message


def test_mapping_applies_to_flat_rows() -> None:
    mapping = parse_mapping("prompt:q,responses:r1|r2")
    row = normalize_row({"q": "Q?", "r1": "one", "r2": "two", "external_id": "f1"}, mapping=mapping)
    assert row == TaskRow(
        "f1", "Q?", [resp("a", "one"), resp("b", "two")], {"source_fields": {"a": "r1", "b": "r2"}}
    )


# ----------------------------------------------------------------------------------- CSV rows


def test_csv_row() -> None:
    row = normalize_row(
        CsvRow(
            {
                "prompt": "Q",
                "response_a": "A",
                "response_b": "B",
                "response_c": "",
                "external_id": "c-1",
                "priority": "3",
                "topic": "math",
            }
        )
    )
    assert row == TaskRow("c-1", "Q", [resp("a", "A"), resp("b", "B")], {"topic": "math"}, priority=3)


def test_csv_row_empty_cells_and_meta_column() -> None:
    row = normalize_row(
        CsvRow({"prompt": "Q", "response_a": "A", "external_id": "", "priority": "", "meta": '{"k": 1}'})
    )
    assert row == TaskRow(None, "Q", [resp("a", "A")], {"k": 1}, priority=0)


def test_csv_row_bad_priority() -> None:
    assert (
        error_of(CsvRow({"prompt": "Q", "priority": "high"})) == '"priority" must be an integer, got "high"'
    )


# ----------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (["a"], "each row must be a JSON object, got a list"),
        (
            {"prompt": ""},
            '"prompt" must be a non-empty string or a list of chat messages, got an empty string',
        ),
        ({"prompt": 5}, '"prompt" must be a non-empty string or a list of chat messages, got a number'),
        ({"prompt": "p", "priority": True}, '"priority" must be an integer, got a boolean'),
        ({"prompt": "p", "priority": "1"}, '"priority" must be an integer, got a string'),
        (
            {"prompt": "p", "priority": 2**40},
            '"priority" must be between -2147483648 and 2147483647, got 1099511627776',
        ),
        ({"prompt": "p", "meta": [1]}, '"meta" must be a JSON object, got a list'),
        (
            {"prompt": "p", "external_id": ""},
            '"external_id" must be a non-empty string; leave it out to have none',
        ),
        ({"prompt": "p", "external_id": 1.5}, '"external_id" must be a string or an integer, got a number'),
        (
            {"prompt": "p", "responses": "x"},
            '"responses" must be a list of {"id"?, "text", "model"?} objects '
            "or a list of strings, got a string",
        ),
        (
            {"prompt": "p", "responses": [{"txt": "x"}]},
            '"responses" item 1 "text" must be a non-empty string, got null',
        ),
        (
            {"prompt": "p", "responses": [{"id": "a", "text": "x"}, {"id": "a", "text": "y"}]},
            '"responses" item 2 repeats the id "a"; response ids must be unique within a row',
        ),
        (
            {"prompt": "p", "responses": [{"id": "tie", "text": "x"}]},
            '"responses" item 1 "id" "tie" is reserved (it means a tie); use another id',
        ),
        (
            {"prompt": "p", "responses": [{"text": "x", "model": 1}]},
            '"responses" item 1 "model" must be a string, got a number',
        ),
        (
            {"prompt": "p", "responses": ["x"] * 21},
            "a row may have at most 20 responses, found 21; split it into several rows",
        ),
        (
            {"prompt": [{"role": "user"}]},
            '"prompt" message 1 "content" must be a string or a list of text parts, got null',
        ),
    ],
)
def test_errors(raw: Any, message: str) -> None:
    assert error_of(raw) == message


def test_unknown_shape_names_keys_and_shapes() -> None:
    message = error_of({"question": "q", "answer": "a"})
    assert message.startswith('the row matches no accepted shape (keys found: "question", "answer")')
    for shape in (
        '{"prompt", "chosen", "rejected"}',
        "HH-RLHF",
        '{"messages"}',
        "ShareGPT",
        "Alpaca",
        "Label Studio",
    ):
        assert shape in message


def test_twenty_responses_are_allowed() -> None:
    row = normalize_row({"prompt": "p", "responses": [str(i) for i in range(20)]})
    assert [r["id"] for r in row.responses] == list("abcdefghijklmnopqrst")


# ----------------------------------------------------------------------------------- mapping


def test_parse_mapping() -> None:
    assert parse_mapping(None) is None
    assert parse_mapping("  ") is None
    assert parse_mapping("prompt:question,responses:answer1|answer2") == ImportMapping(
        prompt="question", responses=("answer1", "answer2")
    )
    assert parse_mapping(" responses: $a | $b ") == ImportMapping(prompt=None, responses=("a", "b"))
    assert parse_mapping("prompt:text") == ImportMapping(prompt="text", responses=())


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("prompt", 'mapping part "prompt" has no ":"'),
        ("answer:x", 'mapping key "answer" is unknown'),
        ("prompt:a,prompt:b", 'mapping names "prompt" twice'),
        ("prompt:", 'mapping "prompt" names an empty field'),
        ("prompt:a|b", "mapping prompt must name exactly one field"),
        ("responses:a||b", 'mapping "responses" names an empty field'),
        ("prompt:a,responses:a|b", 'mapping uses "a" both as the prompt and as a response'),
    ],
)
def test_parse_mapping_errors(spec: str, fragment: str) -> None:
    with pytest.raises(RowError) as info:
        parse_mapping(spec)
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)


# ----------------------------------------------------------------------------------- readers


def test_jsonl_bad_line_is_reported_and_reading_continues() -> None:
    # line 2 and 5 are blank and skipped; line 4 is broken
    data = b'{"prompt": "one"}\n\n{"prompt": "two"}\n{"prompt": "three" "x": 1}\n   \n{"prompt": "four"}\n'
    assert plain(rows_of(data, "rows.jsonl")) == [
        (1, {"prompt": "one"}),
        (3, {"prompt": "two"}),
        (4, ("error", "not valid JSON: unexpected character, expected ',' or '}' at column 20")),
        (6, {"prompt": "four"}),
    ]


def test_jsonl_bad_line_three() -> None:
    data = b'{"prompt": "a"}\n{"prompt": "b"}\n{"prompt": "c",}\n{"prompt": "d"}'
    rows = rows_of(data, "x.ndjson")
    assert [n for n, _ in rows] == [1, 2, 3, 4]
    assert isinstance(rows[2][1], RowError)
    assert str(rows[2][1]).startswith("not valid JSON: ")
    assert [r for _, r in rows if not isinstance(r, RowError)] == [
        {"prompt": "a"},
        {"prompt": "b"},
        {"prompt": "d"},
    ]


def test_jsonl_non_utf8_line() -> None:
    data = b'{"prompt": "ok"}\n{"prompt": "caf\xe9"}\n{"prompt": "fine"}\n'
    assert plain(rows_of(data, "x.jsonl")) == [
        (1, {"prompt": "ok"}),
        (2, ("error", "not valid UTF-8 text (byte 0xe9 at byte 16); save the file as UTF-8")),
        (3, {"prompt": "fine"}),
    ]


def test_jsonl_bom_and_crlf() -> None:
    data = b'\xef\xbb\xbf{"prompt": "a"}\r\n{"prompt": "b"}\r\n'
    assert rows_of(data, "x.jsonl") == [(1, {"prompt": "a"}), (2, {"prompt": "b"})]


def test_gzip_detected_by_magic_bytes_whatever_the_name() -> None:
    data = gzip.compress(b'{"prompt": "a"}\n{"prompt": "b"}\n')
    expected = [(1, {"prompt": "a"}), (2, {"prompt": "b"})]
    assert rows_of(data, "rows.jsonl.gz") == expected
    assert rows_of(data, "rows.jsonl") == expected
    assert rows_of(data, "upload") == expected  # unknown extension: sniffed after decompression


def test_gz_name_that_is_not_gzipped() -> None:
    assert rows_of(b'[{"prompt": "a"}]', "rows.json.gz") == [(1, {"prompt": "a"})]


def test_truncated_gzip() -> None:
    data = gzip.compress(b"".join(b'{"prompt": "row %d"}\n' % i for i in range(20000)))
    rows = rows_of(data[: len(data) // 2], "rows.jsonl.gz")
    *good, (last_line, error) = rows
    assert [n for n, _ in good] == list(range(1, len(good) + 1))
    assert last_line == len(good) + 1
    assert isinstance(error, RowError)
    assert "damaged or truncated" in str(error)


def test_json_list() -> None:
    data = b'  [{"prompt": "a", "x": 1.5}, {"prompt": "b"}, 3]'
    assert rows_of(data, "rows.json") == [(1, {"prompt": "a", "x": 1.5}), (2, {"prompt": "b"}), (3, 3)]
    assert isinstance(rows_of(data, "rows.json")[0][1]["x"], float)


def test_json_list_broken_part_way_stops_with_one_error() -> None:
    data = b'[{"prompt": "a"}, {"prompt": "b"}, {"prompt" "c"}, {"prompt": "d"}]'
    rows = plain(rows_of(data, "rows.json"))
    assert rows[:2] == [(1, {"prompt": "a"}), (2, {"prompt": "b"})]
    assert len(rows) == 3
    number, (kind, message) = rows[2]
    assert (number, kind) == (3, "error")
    assert message.startswith("item 3: not valid JSON: ")
    assert message.endswith("the file is broken from here on")


def test_json_single_object_and_json_lines_named_json() -> None:
    assert rows_of(b'{\n  "prompt": "a",\n  "responses": ["x"]\n}\n', "one.json") == [
        (1, {"prompt": "a", "responses": ["x"]})
    ]
    assert rows_of(b'{"prompt": "a"}\n{"prompt": "b"}\n', "lines.json") == [
        (1, {"prompt": "a"}),
        (2, {"prompt": "b"}),
    ]


def test_json_scalar_file() -> None:
    assert plain(rows_of(b'"hello"', "x.json")) == [
        (1, ("error", 'a .json file must hold a list of rows ("[...]") or one row object ("{...}")'))
    ]


def test_sniffing_unknown_extension() -> None:
    assert rows_of(b'\n [{"prompt": "a"}]', "data.txt") == [(1, {"prompt": "a"})]
    assert rows_of(b'{"prompt": "a"}\n{"prompt": "b"}', "data") == [
        (1, {"prompt": "a"}),
        (2, {"prompt": "b"}),
    ]
    [(line, error)] = rows_of(b"prompt,response_a\nq,a\n", "data.txt")
    assert line == 1
    assert isinstance(error, RowError)
    assert "upload .jsonl, .json or .csv" in str(error)


def test_empty_files_yield_nothing() -> None:
    for name in ("x.jsonl", "x.json", "x.csv", "x"):
        assert rows_of(b"", name) == []
        assert rows_of(b"  \n\n", name) == []


class CountingStream(io.RawIOBase):
    """A non-seekable stream that records how much was read from it."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        self.consumed += len(chunk)
        return len(chunk)


@pytest.mark.parametrize("filename", ["big.json", "big.jsonl", "big.csv"])
def test_readers_stream(filename: str) -> None:
    if filename.endswith(".json"):
        data = b"[" + b",".join(orjson.dumps({"prompt": "p" * 100, "n": i}) for i in range(100_000)) + b"]"
    elif filename.endswith(".jsonl"):
        data = b"\n".join(orjson.dumps({"prompt": "p" * 100, "n": i}) for i in range(100_000))
    else:
        data = b"prompt,n\n" + b"".join(b"%s,%d\n" % (b"p" * 100, i) for i in range(100_000))
    stream = CountingStream(data)
    rows = read_rows(stream, filename=filename)  # type: ignore[arg-type]
    first = next(rows)
    assert first[0] in (1, 2)
    assert stream.consumed < len(data) // 3
    assert sum(1 for _ in rows) == 99_999


def test_csv_multiline_quoted_field_line_numbers() -> None:
    data = (
        b"prompt,response_a,response_b,external_id\n"
        b'"Line one\nline two\nline three",A,B,r1\n'
        b"Second,C,D,r2\n"
        b"\n"
        b'Third,"E, with comma","F ""quoted""",r3\n'
    )
    assert rows_of(data, "tasks.csv") == [
        (
            2,
            {
                "prompt": "Line one\nline two\nline three",
                "response_a": "A",
                "response_b": "B",
                "external_id": "r1",
            },
        ),
        (5, {"prompt": "Second", "response_a": "C", "response_b": "D", "external_id": "r2"}),
        (
            7,
            {
                "prompt": "Third",
                "response_a": "E, with comma",
                "response_b": 'F "quoted"',
                "external_id": "r3",
            },
        ),
    ]
    rows = rows_of(data, "tasks.csv")
    assert all(type(r) is CsvRow for _, r in rows)
    assert normalize_row(rows[0][1]) == TaskRow(
        "r1", "Line one\nline two\nline three", [resp("a", "A"), resp("b", "B")], {}
    )


def test_csv_bom_crlf_and_short_rows() -> None:
    data = b"\xef\xbb\xbfprompt,response_a,response_b\r\nQ1,A1,B1\r\nQ2,A2\r\n"
    assert rows_of(data, "x.csv") == [
        (2, {"prompt": "Q1", "response_a": "A1", "response_b": "B1"}),
        (3, {"prompt": "Q2", "response_a": "A2", "response_b": ""}),
    ]


def test_csv_errors_are_per_row() -> None:
    data = b"prompt,response_a\nQ1,A1\nQ2,A2,extra\ncaf\xe9,A3\nQ4,A4\n"
    assert plain(rows_of(data, "x.csv")) == [
        (2, {"prompt": "Q1", "response_a": "A1"}),
        (
            3,
            (
                "error",
                "the row has 3 fields but the header has 2 columns; "
                "put fields that contain the delimiter or line breaks in double quotes",
            ),
        ),
        (4, ("error", "not valid UTF-8 text; save the file as UTF-8")),
        (5, {"prompt": "Q4", "response_a": "A4"}),
    ]


def test_csv_header_problems() -> None:
    assert plain(rows_of(b"prompt,prompt\nx,y\n", "x.csv")) == [
        (1, ("error", 'the header names the column "prompt" twice; rename one of them'))
    ]
    # an unnamed index column (pandas to_csv) is dropped
    assert rows_of(b",prompt\n0,Q\n", "x.csv") == [(2, {"prompt": "Q"})]


def test_csv_gzipped_tsv() -> None:
    data = gzip.compress(b"prompt\tresponse_a\nQ\tA\n")
    assert rows_of(data, "x.tsv.gz") == [(2, {"prompt": "Q", "response_a": "A"})]


def test_read_and_normalize_together() -> None:
    lines = [
        {"prompt": "p", "chosen": "good", "rejected": "bad"},
        {"messages": [user("u"), assistant("a")]},
        {"instruction": "i", "output": "o"},
    ]
    data = gzip.compress(b"\n".join(orjson.dumps(x) for x in lines))
    rows = [(n, normalize_row(r)) for n, r in read_rows(io.BytesIO(data), filename="mixed.jsonl.gz")]
    assert [n for n, _ in rows] == [1, 2, 3]
    assert [len(r.responses) for _, r in rows] == [2, 1, 1]
