"""Token counts are exact with Qwen3's BPE (the tokenizer of ACE-Step's text encoder), offline."""

from songset.tokens import count_tokens, fit_to_budget, qwen3_tokenizer


def test_counts_are_qwen3_bpe_ids() -> None:
    # Ids of Qwen2/Qwen3's vocabulary: "Hello" 9707, " world" 1879; digits are split one by one;
    # Qwen3's added tokens are matched whole inside text (<|endoftext|> 151643, <think> 151667).
    tokenizer = qwen3_tokenizer()
    assert tokenizer.encode("Hello world") == [9707, 1879]
    assert tokenizer.encode("<|endoftext|>\n") == [151643, 198]
    assert tokenizer.encode("<think>") == [151667]
    assert count_tokens("- bpm: 120\n") == 8  # "-", " bpm", ":", " ", "1", "2", "0", "\n"
    assert count_tokens("") == 0


def test_fit_to_budget_cuts_at_clause_boundaries() -> None:
    text = "First clause here. Second clause is longer than the first one; third clause ends it."
    fitted = fit_to_budget(text, count_tokens("First clause here."))
    assert fitted == "First clause here."
    assert fit_to_budget(text, 1000) == text
    words_only = fit_to_budget("one two three four five six seven eight", 5)
    assert count_tokens(words_only) <= 5 and words_only.startswith("one two")
