"""The curated name-equivalence table: it parses, its kinds are honest, it knows UK names."""

from __future__ import annotations

import csv
from importlib import resources

import pytest

from cselink.errors import InputDataError
from cselink.standardise.names import (
    NAME_KINDS,
    NAME_TABLE,
    NICKNAME_KIND,
    curated_name_kinds,
    fold,
    parse_name_table,
    variant_kinds,
    variant_pairs,
)


def _shipped_rows() -> list[dict[str, str]]:
    text = resources.files("cselink").joinpath("data", NAME_TABLE).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def test_every_row_folds_to_distinct_one_word_names() -> None:
    rows = _shipped_rows()
    assert len(rows) > 400
    for row_no, row in enumerate(rows, start=1):
        assert row["kind"] in NAME_KINDS, row_no
        names = [fold(row["name"])] + [fold(o) for o in row["others"].split()]
        assert len(names) >= 2, row_no
        assert all(n and " " not in n for n in names), row_no
        assert len(set(names)) == len(names), row_no


def test_no_pair_is_stated_twice() -> None:
    seen: dict[frozenset[str], int] = {}
    for row_no, row in enumerate(_shipped_rows(), start=1):
        names = [fold(row["name"])] + [fold(o) for o in row["others"].split()]
        if row["kind"] == "diminutive":
            pairs = [frozenset((names[0], o)) for o in names[1:]]
        else:
            pairs = [frozenset((a, b)) for i, a in enumerate(names) for b in names[i + 1:]]
        for pair in pairs:
            assert pair not in seen, (row_no, seen.get(pair))
            seen[pair] = row_no
    assert len(seen) * 2 == len(curated_name_kinds())


def test_diminutives_are_not_transitive() -> None:
    pairs = variant_pairs()
    for short, one, other in [("charlie", "charlotte", "charles"), ("rob", "robert", "robin"),
                              ("ted", "edward", "theodore"), ("mia", "amelia", "maria"),
                              ("alex", "alexander", "alexandra"), ("nat", "natalie", "nathan")]:
        assert (short, one) in pairs and (short, other) in pairs, short
        assert (one, other) not in pairs, short


def test_spelling_rows_pair_every_two_forms() -> None:
    kinds = curated_name_kinds()
    forms = ["mohammed", "muhammad", "mohamed", "mohammad", "muhammed"]
    for a in forms:
        for b in forms:
            if a != b:
                assert kinds[(a, b)] == "transliteration", (a, b)
    assert kinds[("freddie", "freddy")] == "spelling"
    assert kinds[("olly", "oliver")] == "diminutive"


def test_relation_is_symmetric_and_kinds_agree_both_ways() -> None:
    kinds = variant_kinds()
    assert set(kinds) == set(variant_pairs())
    for (a, b), kind in kinds.items():
        assert a != b
        assert kinds[(b, a)] == kind, (a, b)
    assert set(kinds.values()) == {*NAME_KINDS, NICKNAME_KIND}


def test_the_table_knows_uk_short_forms_spellings_and_transliterations() -> None:
    kinds = curated_name_kinds()
    expected = {
        "diminutive": [
            ("alfie", "alfred"), ("alf", "alfred"), ("alf", "alfie"), ("olly", "oliver"),
            ("ollie", "oliver"), ("livvy", "olivia"), ("liv", "olivia"), ("immy", "imogen"),
            ("tilly", "matilda"), ("tilda", "matilda"), ("evie", "evelyn"), ("eve", "evelyn"),
            ("mia", "amelia"), ("xander", "alexander"), ("jaz", "jasmine"), ("cal", "callum"),
            ("charlie", "charlotte"), ("charlie", "charles"), ("liam", "william"),
            ("freddie", "frederick"), ("fred", "frederick"), ("archie", "archibald"),
            ("teddy", "edward"), ("teddy", "theodore"), ("theo", "theodore"),
            ("ellie", "eleanor"), ("ellie", "ella"), ("izzy", "isabella"),
            ("millie", "amelia"), ("millie", "millicent"), ("josh", "joshua"),
            ("kez", "kerry"), ("mo", "mohammed"), ("mo", "muhammad"), ("kasia", "katarzyna"),
            ("gosia", "malgorzata"), ("zuza", "zuzanna"), ("wojtek", "wojciech"),
            ("olek", "aleksander"), ("kuba", "jakub"), ("seun", "oluwaseun"),
        ],
        "spelling": [
            ("freddie", "freddy"), ("ruby", "rubie"), ("oscar", "oskar"), ("evie", "evee"),
            ("kayleigh", "kaylee"), ("kayley", "kaleigh"), ("leila", "layla"),
            ("layla", "laila"), ("aaliyah", "aliyah"), ("zoe", "zoey"), ("olly", "ollie"),
            ("sophie", "sophia"),
        ],
        "transliteration": [
            ("muhammad", "mohammed"), ("mohamed", "mohammad"), ("muhammed", "mohammed"),
            ("yusuf", "yousef"), ("yusuf", "joseph"), ("yakub", "jacob"), ("yaqub", "jakub"),
            ("ibrahim", "ebrahim"), ("aisha", "ayesha"), ("aysha", "aisha"),
            ("fatima", "fatimah"), ("hussain", "hussein"), ("husain", "hussein"),
            ("ciaran", "kieran"), ("kieran", "keiran"), ("siobhan", "shivaun"),
            ("niamh", "neve"), ("neeve", "niamh"), ("zuzanna", "susanna"),
            ("malgorzata", "margaret"), ("aleksander", "alexander"), ("piotr", "peter"),
            ("katarzyna", "katherine"), ("oliwia", "olivia"),
        ],
    }
    for kind, pairs in expected.items():
        for a, b in pairs:
            assert kinds.get((a, b)) == kind, (a, b)


def test_look_alike_names_are_not_equivalents() -> None:
    pairs = variant_pairs()
    for a, b in [("jayden", "jaylen"), ("kayleigh", "kayla"), ("maisie", "macie"),
                 ("brandon", "brendan"), ("amelia", "emilia"), ("hasan", "hussain"),
                 ("sean", "shane"), ("leah", "lena"), ("isla", "isabella"), ("ava", "eva")]:
        assert (a, b) not in pairs, (a, b)


#: The families the issue and DOMAIN.md name: each pair must be known to the curated table
#: or to the ``nicknames`` package, whichever supplies it.
_LISTED_FAMILIES: list[tuple[str, ...]] = [
    ("alfie", "alf", "alfred"), ("olly", "ollie", "oliver"), ("livvy", "liv", "olivia"),
    ("immy", "imogen"), ("tilly", "matilda"), ("tilda", "matilda"), ("evie", "evelyn"),
    ("eve", "evelyn"), ("mia", "amelia"), ("xander", "alexander"), ("jaz", "jasmine"),
    ("cal", "callum"), ("charlie", "charlotte"), ("charlie", "charles"), ("liam", "william"),
    ("freddie", "freddy"), ("freddie", "frederick"), ("freddy", "frederick"),
    ("fred", "frederick"), ("archie", "archibald"), ("teddy", "edward"),
    ("teddy", "theodore"), ("theo", "theodore"), ("ellie", "eleanor"), ("ellie", "ella"),
    ("izzy", "isabella"), ("millie", "amelia"), ("millie", "millicent"), ("josh", "joshua"),
    ("kez", "kerry"), ("ruby", "rubie"), ("oscar", "oskar"), ("evie", "evee"),
    ("kayleigh", "kaylee", "kayley", "kaleigh"), ("leila", "layla", "laila"),
    ("aaliyah", "aliyah"), ("zoe", "zoey"),
    ("muhammad", "mohammed", "mohamed", "mohammad", "muhammed"), ("mo", "muhammad"),
    ("mo", "mohammed"), ("mo", "mohamed"), ("yusuf", "yousef", "joseph"),
    ("yakub", "yaqub", "jacob"), ("ibrahim", "ebrahim"), ("aisha", "ayesha", "aysha"),
    ("fatima", "fatimah"), ("hussain", "hussein", "husain"),
    ("ciaran", "kieran", "keiran"), ("siobhan", "shivaun"), ("niamh", "neve", "neeve"),
    ("zuzanna", "zuza"), ("zuzanna", "susanna"), ("wojciech", "wojtek"),
    ("katarzyna", "kasia"), ("malgorzata", "gosia"), ("aleksander", "olek"),
    ("aleksander", "alexander"), ("piotr", "peter"), ("rob", "robert"), ("rob", "robin"),
    ("nowak", "novak"),
]


def test_curated_table_and_nicknames_together_know_each_listed_family() -> None:
    pairs = variant_pairs()
    for family in _LISTED_FAMILIES:
        for i, a in enumerate(family):
            for b in family[i + 1:]:
                assert (a, b) in pairs, (a, b)


def test_a_pair_the_nicknames_package_also_knows_keeps_the_curated_kind() -> None:
    kinds = variant_kinds()
    assert kinds[("ollie", "oliver")] == "diminutive"   # also in the nicknames package
    nickname_only = [p for p, k in kinds.items() if k == NICKNAME_KIND]
    assert nickname_only and not set(nickname_only) & set(curated_name_kinds())


_HEADER = "name,others,kind,note\n"


@pytest.mark.parametrize(("body", "row", "column"), [
    ("Alfie,Alfred,nickname,\n", 1, "kind"),
    ("Alfie,Alfred,diminutive,\nOlly,,diminutive,\n", 2, "others"),
    ("Alfie,Alfred,diminutive,\nOlly,Oliver Olly,diminutive,\n", 2, "others"),
    ("-,Alfred,diminutive,\n", 1, "name"),
    ("Alfie,Alfred,diminutive,\nFreddie,Freddy,spelling,\nAlfred,Alfie,spelling,\n", 3,
     "others"),
    ("Alfie,Alfred diminutive\n", 1, None),
])
def test_a_malformed_table_names_the_row_and_column(body: str, row: int,
                                                    column: str | None) -> None:
    with pytest.raises(InputDataError) as err:
        parse_name_table(_HEADER + body, "t.csv")
    assert (err.value.file, err.value.row, err.value.column) == ("t.csv", row, column)
    assert "alf" not in str(err.value).lower()   # reference names are not echoed either


def test_a_table_with_the_wrong_header_is_refused() -> None:
    with pytest.raises(InputDataError, match="header"):
        parse_name_table("name,other\nAlfie,Alfred\n", "t.csv")


def test_a_diminutive_row_pairs_only_its_short_form() -> None:
    kinds = parse_name_table(_HEADER + "Rob,Robert Robin,diminutive,\n"
                             "Zoë,Zoey Zoie,spelling,\n", "t.csv")
    assert set(kinds) == {("rob", "robert"), ("robert", "rob"), ("rob", "robin"),
                          ("robin", "rob"), ("zoe", "zoey"), ("zoey", "zoe"),
                          ("zoe", "zoie"), ("zoie", "zoe"), ("zoey", "zoie"),
                          ("zoie", "zoey")}
