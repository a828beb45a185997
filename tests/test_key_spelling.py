"""Key spelling and key-profile choice: the error a typo in `estimator.key_profile` gives, word for word.

(The spelling table itself is pinned in tests/test_theory.py; mutation testing found the
profile error's wording unchecked: a garbled list of choices would pass.)
"""

from __future__ import annotations

import pytest

from songset.theory import PROFILES, profile_parts


def test_unknown_profile_names_it_and_lists_the_choices() -> None:
    choices = ", ".join(PROFILES)
    expected = (
        f"unknown key profile 'krumhansel' in 'krumhansel+edm'; choose from {choices},"
        ' or several joined by "+"'
    )
    with pytest.raises(ValueError) as err:
        profile_parts("krumhansel+edm")
    assert str(err.value) == expected


def test_joined_profiles_are_split_and_trimmed() -> None:
    assert profile_parts(" krumhansl + edm ") == ("krumhansl", "edm")
