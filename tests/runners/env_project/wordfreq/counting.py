"""Count words with toolz."""

from toolz import frequencies, pipe, topk


def words(text: str) -> list[str]:
    return [w.strip(".,;:!?").lower() for w in text.split() if w.strip(".,;:!?")]


def counts(text: str) -> dict[str, int]:
    return pipe(text, words, frequencies)


def most_common(text: str, n: int = 1) -> list[str]:
    if n < 1:
        raise ValueError("n must be at least 1")
    table = counts(text)
    return [word for word in topk(n, table, key=table.get)]
