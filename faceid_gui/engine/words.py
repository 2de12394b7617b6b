"""Counts in words, the same in the window and on the command line."""


def plural(n: int, word: str, many: str | None = None) -> str:
    """"1 person", "2 people", "0 photos", "1,024 faces"."""
    return f"{n:,} {word if n == 1 else many or word + 's'}"
