from songset.tokens import count_tokens, estimate_tokens, fit_to_budget


def test_estimate_errs_long_on_english_prose() -> None:
    text = "A warm acoustic ballad with fingerpicked guitar, soft female vocals and gentle strings."
    # Qwen-family tokenizers give about 17 tokens for this sentence.
    assert 17 <= estimate_tokens(text) <= 30
    assert estimate_tokens("") == 0


def test_fit_to_budget_cuts_at_clause_boundaries() -> None:
    text = "First clause here. Second clause is longer than the first one; third clause ends it."
    fitted = fit_to_budget(text, count_tokens("First clause here."))
    assert fitted == "First clause here."
    assert fit_to_budget(text, 1000) == text
    words_only = fit_to_budget("one two three four five six seven eight", 5)
    assert count_tokens(words_only) <= 5 and words_only.startswith("one two")
